"""Export a Llasa LM to the ONNX engine's graph (run by :mod:`llasa.lm.onnx_lm`).

The graph (:mod:`llasa.lm.onnx_graph`) maps ``(ids [1, s], past_len p, past_k*, past_v*)``
to ``(logits [1, v], present_k*, present_v*)``: the prefill (``p = 0``) and each decoding
step (``s = 1``). Only the logits that may be sampled leave it (END and the
speech tokens), so the rest of the 4 376 (officially 193 800) rows are never computed.
:func:`export_lm` runs the graph on ONNX Runtime against transformers' logits before writing
it. Needs torch and onnx (export time only).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .._common.errors import ModelLoadError
from .._common.ort import store_half
from .model import LlasaLM
from .onnx_graph import build_lm_graph
from .prompt import DEFAULT_DATE, official_chat


def _check_supported(cfg) -> None:
    if getattr(cfg, "model_type", None) != "llama" or getattr(cfg, "mlp_bias", False) or \
            getattr(cfg, "attention_bias", False):
        raise ModelLoadError("the onnx export supports plain Llama LMs (no biases) only")
    if cfg.rope_parameters.get("rope_type", "default") != "default":
        raise ModelLoadError("the onnx export supports default RoPE only, not "
                             f"{cfg.rope_parameters.get('rope_type')!r}")
    if getattr(cfg, "hidden_act", "silu") != "silu":
        raise ModelLoadError(f"the onnx export supports SiLU MLPs only, not {cfg.hidden_act}")


def _check(model, lm: LlasaLM, head_ids, layers: int, kv_heads: int, head_dim: int) -> None:
    """ORT on the graph must give transformers' logits (prefill of 11, then a cached step)."""
    import onnxruntime as ort

    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    torch.manual_seed(0)
    ids = torch.randint(0, lm.vocab.vocab_size, (1, 12))
    with torch.inference_mode():
        ref = lm.model(input_ids=ids).logits[0, :, torch.as_tensor(head_ids)].float().numpy()
    names = [f"past_{kv}{i}" for kv in "kv" for i in range(layers)]
    feed = {n: np.zeros((1, kv_heads, 0, head_dim), np.float32) for n in names}
    a, *cache = sess.run(None, {"ids": ids[:, :11].numpy(), "past_len": np.array(0), **feed})
    b, *_ = sess.run(None, {"ids": ids[:, 11:].numpy(), "past_len": np.array(11),
                            **dict(zip(names, cache))})
    scale = max(1.0, float(np.abs(ref).max()))
    err = max(float(np.abs(a[0] - ref[10]).max()), float(np.abs(b[0] - ref[11]).max())) / scale
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
    cfg = lm.model.config
    _check_supported(cfg)
    sd = {k: t.detach().float().numpy() for k, t in lm.model.state_dict().items()}
    if np.array_equal(sd.get("lm_head.weight", sd["model.embed_tokens.weight"]),
                      sd["model.embed_tokens.weight"]):
        sd.pop("lm_head.weight", None)
    v = lm.vocab
    head_ids = np.array([v.speech_end] + list(range(v.speech_offset,
                                                    v.speech_offset + v.codebook_size)))
    L, h = cfg.num_hidden_layers, cfg.num_key_value_heads
    e = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    rope = lm.model.model.rotary_emb
    model = build_lm_graph(sd, layers=L, heads=cfg.num_attention_heads, kv_heads=h,
                           head_dim=e, eps=float(cfg.rms_norm_eps),
                           inv_freq=rope.inv_freq.float().numpy(),
                           max_positions=int(max(cfg.max_position_embeddings, lm.max_context)),
                           head_ids=head_ids,
                           rope_scale=float(getattr(rope, "attention_scaling", 1.0)))
    _check(model, lm, head_ids, L, h, e)
    store_half(model)
    path = Path(path)
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
