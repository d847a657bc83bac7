"""Export a Llasa LM to one ONNX graph with an explicit KV cache (run by :mod:`llasa.lm.onnx_lm`).

Notation: ``s`` new positions, ``p`` cached positions, ``L`` layers, ``h`` KV heads, ``e`` head
size, ``v`` = 1 + codebook (SPEECH_GENERATION_END, then ``<|s_0|>`` ...).

The graph ``(ids [1, s], past_k0 .. past_k{L-1}, past_v0 .. [1, h, p, e]) -> (logits [1, v],
present_k0 .., present_v0 .. [1, h, p + s, e])`` serves both the prefill (``p = 0``) and each
decoding step (``s = 1``). It is the Llama forward of transformers written out (RMSNorm in fp32, RoPE, causal
attention, SwiGLU), because tracing ``LlamaForCausalLM`` with its cache objects is brittle;
:func:`export_lm` checks it against the transformers model before writing. Only the logits
that may be sampled leave the graph: the rest of the 4 376 (officially 193 800) rows are never
computed. Needs torch and onnx (export time only).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn

from .._common.errors import ModelLoadError
from .._common.ort import store_half
from .model import LlasaLM
from .prompt import DEFAULT_DATE, official_chat

OPSET = 17


class KVLlama(nn.Module):
    """Llama decoder + the allowed rows of the LM head, with the KV cache as plain tensors.

    Laid out for few graph nodes, since ORT's per-node cost dominates a model this small:
    one row (``b = 1``), one cache tensor per layer and side, one matmul for q, k, v and their
    RoPE partners (``rotate_half`` is a signed permutation of the weight columns, exact), one
    for gate and up. Weights are stored transposed, as fp32 copies of the fp16-exact ones.
    """

    def __init__(self, lm: LlasaLM):
        super().__init__()
        m = lm.model.model
        cfg = lm.model.config
        if getattr(cfg, "model_type", None) != "llama" or getattr(cfg, "mlp_bias", False) or \
                getattr(cfg, "attention_bias", False):
            raise ModelLoadError("the onnx export supports plain Llama LMs (no biases) only")
        if cfg.rope_parameters.get("rope_type", "default") != "default":
            raise ModelLoadError("the onnx export supports default RoPE only, not "
                                 f"{cfg.rope_parameters.get('rope_type')!r}")
        if getattr(cfg, "hidden_act", "silu") != "silu":
            raise ModelLoadError(f"the onnx export supports SiLU MLPs only, not {cfg.hidden_act}")
        self.heads = cfg.num_attention_heads
        self.kv_heads = cfg.num_key_value_heads
        self.e = getattr(cfg, "head_dim", None) or cfg.hidden_size // self.heads
        self.num_layers = len(m.layers)
        self.eps = [float(x.input_layernorm.variance_epsilon) for x in m.layers]
        self.register_buffer("embed", m.embed_tokens.weight.detach().float().clone())
        self.register_buffer("inv_freq", m.rotary_emb.inv_freq.float().clone())
        self.rope_scale = float(getattr(m.rotary_emb, "attention_scaling", 1.0))
        e, half = self.e, self.e // 2
        rot = torch.zeros(e, e)  # x @ rot == rotate_half(x) == cat(-x[half:], x[:half])
        rot[torch.arange(half) + half, torch.arange(half)] = -1.0
        rot[torch.arange(half), torch.arange(half) + half] = 1.0
        for i, layer in enumerate(m.layers):
            att, mlp = layer.self_attn, layer.mlp
            wq = att.q_proj.weight.detach().float().t()  # [d, heads·e]
            wk = att.k_proj.weight.detach().float().t()
            wv = att.v_proj.weight.detach().float().t()
            qr = (wq.reshape(-1, self.heads, e) @ rot).reshape(wq.shape)
            kr = (wk.reshape(-1, self.kv_heads, e) @ rot).reshape(wk.shape)
            self.register_buffer(f"qkv{i}", torch.cat([wq, qr, wk, kr, wv], dim=1))
            self.register_buffer(f"o{i}", att.o_proj.weight.detach().float().t().contiguous())
            self.register_buffer(f"gu{i}", torch.cat([mlp.gate_proj.weight, mlp.up_proj.weight]
                                                      ).detach().float().t().contiguous())
            self.register_buffer(f"down{i}", mlp.down_proj.weight.detach().float().t()
                                 .contiguous())
            self.register_buffer(f"n1_{i}", layer.input_layernorm.weight.detach().float())
            self.register_buffer(f"n2_{i}", layer.post_attention_layernorm.weight.detach()
                                 .float())
        self.register_buffer("norm", m.norm.weight.detach().float())
        self.final_eps = float(m.norm.variance_epsilon)
        v = lm.vocab
        # the rows that may be sampled: END first, then the speech tokens in code order
        self.register_buffer("head_ids", torch.tensor(
            [v.speech_end] + list(range(v.speech_offset, v.speech_offset + v.codebook_size))))
        head = lm.model.get_output_embeddings().weight.detach().float()
        self.tied = bool(torch.equal(head, m.embed_tokens.weight.detach().float()))
        if not self.tied:  # a tied head is gathered from the embedding (ORT folds it once)
            self.register_buffer("head", head[self.head_ids].t().contiguous())

    @staticmethod
    def _rms(x: torch.Tensor, w: torch.Tensor, eps: float) -> torch.Tensor:
        return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))

    def forward(self, ids, *past):
        L, H, G, e = self.num_layers, self.heads, self.kv_heads, self.e
        s = ids.shape[1]
        p = past[0].shape[2]
        pos = torch.arange(s, device=ids.device) + p  # [s] absolute positions
        freqs = pos[:, None].float() * self.inv_freq[None, :]  # [s, e/2]
        emb = torch.cat([freqs, freqs], dim=-1)
        cos, sin = emb.cos() * self.rope_scale, emb.sin() * self.rope_scale  # [s, e]
        cos_q, sin_q = cos.repeat(1, H), sin.repeat(1, H)  # [s, heads·e]
        cos_k, sin_k = (cos_q, sin_q) if G == H else (cos.repeat(1, G), sin.repeat(1, G))
        keys = torch.arange(s + p, device=ids.device)
        mask = torch.where(keys[None, :] <= pos[:, None], 0.0, float("-inf"))  # [s, p + s]
        x = self.embed[ids[0]][None]  # [1, s, d]
        present_k, present_v = [], []
        nq, nk = H * e, G * e
        for i in range(L):
            h = self._rms(x, getattr(self, f"n1_{i}"), self.eps[i])
            q, qr, k, kr, val = torch.matmul(h, getattr(self, f"qkv{i}")).split(
                [nq, nq, nk, nk, nk], dim=-1)
            q = (q * cos_q + qr * sin_q).reshape(1, -1, H, e).transpose(1, 2)  # [1, H, s, e]
            k = (k * cos_k + kr * sin_k).reshape(1, -1, G, e).transpose(1, 2)  # [1, G, s, e]
            val = val.reshape(1, -1, G, e).transpose(1, 2)
            k = torch.cat([past[i], k], dim=2)  # [1, G, p + s, e]
            val = torch.cat([past[L + i], val], dim=2)
            present_k.append(k)
            present_v.append(val)
            if G != H:
                k = k.repeat_interleave(H // G, dim=1)
                val = val.repeat_interleave(H // G, dim=1)
            w = torch.matmul(q, k.transpose(2, 3)) * (e ** -0.5) + mask
            o = torch.matmul(w.softmax(-1), val)  # [1, H, s, e]
            x = x + torch.matmul(o.transpose(1, 2).reshape(1, -1, nq), getattr(self, f"o{i}"))
            h = self._rms(x, getattr(self, f"n2_{i}"), self.eps[i])
            gate, up = torch.matmul(h, getattr(self, f"gu{i}")).chunk(2, dim=-1)
            x = x + torch.matmul(torch.nn.functional.silu(gate) * up,
                                 getattr(self, f"down{i}"))
        last = self._rms(x[:, -1], self.norm, self.final_eps)  # [1, d]
        head = self.embed[self.head_ids].t() if self.tied else self.head  # [d, v]
        return (torch.matmul(last, head), *present_k, *present_v)


def _check(net: KVLlama, lm: LlasaLM) -> None:
    """The rewritten forward must give transformers' logits (prefill, then one cached step)."""
    torch.manual_seed(0)
    ids = torch.randint(0, lm.vocab.vocab_size, (1, 12))
    empty = [torch.zeros(1, net.kv_heads, 0, net.e)] * (2 * net.num_layers)
    with torch.inference_mode():
        ref = lm.model(input_ids=ids).logits[:, :, net.head_ids].float()  # [1, 12, v]
        a, *cache = net(ids[:, :11], *empty)
        b, *_ = net(ids[:, 11:], *cache)
    scale = max(1.0, float(ref.abs().max()))
    err = max(float((a - ref[:, 10]).abs().max()), float((b - ref[:, 11]).abs().max())) / scale
    if err > 1e-4:
        raise ModelLoadError(f"the onnx LM graph disagrees with transformers (max {err:.2e})")


def export_lm(lm: LlasaLM, path: str | Path) -> dict:
    """Write the KV-cache graph of ``lm`` to ``path`` (fp16-stored weights when exact).

    Returns:
        the ``lm`` section of the export manifest: layout of the cache and vocabulary, the
        chat template, and what the model declares (frontend, sampling and long-text
        defaults).
    """
    import onnx

    lm.unoptimize()
    lm.model.float().eval()
    net = KVLlama(lm).eval()
    _check(net, lm)
    L, h, e = net.num_layers, net.kv_heads, net.e
    ids = torch.tensor([[1, 2, 3]])
    past = [torch.zeros(1, h, 2, e) for _ in range(2 * L)]
    names_in = [f"past_{kv}{i}" for kv in "kv" for i in range(L)]
    names_out = [f"present_{kv}{i}" for kv in "kv" for i in range(L)]
    axes = {"ids": {1: "s"}, **{n: {2: "p"} for n in names_in},
            **{n: {2: "t"} for n in names_out}}
    path = Path(path)
    with torch.inference_mode(), warnings.catch_warnings():
        # shape checks traced as constants (GroupNorm's) are fine for these graphs
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        torch.onnx.export(
            net, (ids, *past), str(path), dynamo=False, opset_version=OPSET,
            input_names=["ids", *names_in], output_names=["logits", *names_out],
            dynamic_axes=axes,
            # unfolded, the initializers are the parameters themselves (no transposed or
            # gathered copies); ORT folds those ops once at load
            do_constant_folding=False)
    model = onnx.load(str(path))
    store_half(model)
    onnx.save(model, str(path))
    v = lm.vocab
    return {"file": path.name, "layers": L, "kv_heads": h, "head_dim": e,
            "vocab": {k: int(getattr(v, k)) for k in v.__dataclass_fields__},
            "max_context": int(lm.max_context),
            # the chat template, and its rendering for the fixed prompt date, so the runtime
            # needs neither transformers nor jinja2 for the usual prompt (llasa.lm.onnx_lm)
            "chat_template": lm.tokenizer.chat_template,
            "rendered_skeleton": {DEFAULT_DATE: lm.tokenizer.apply_chat_template(
                official_chat(""), tokenize=False, continue_final_message=True,
                date_string=DEFAULT_DATE)},
            "frontend": getattr(lm.model.config, "llasa_text_frontend", None),
            "sampling": dict(lm.sampling_defaults), "long_text": dict(lm.long_text_defaults)}
