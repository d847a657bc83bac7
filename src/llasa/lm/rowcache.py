"""A KV cache with one slot per row, and the Llama decoder forward that reads and writes it.

Every decoding path runs on it: :class:`~llasa.lm.decoding.DecodeState` (generate, best-of-N,
search) and the continuous batcher. Its forward is a plain loop over the decoder layers, which
costs far less per step than transformers' (masks, cache objects, hooks): on the 1B shape with
4-bit weights that overhead had been a third of a step.

Continuous batching needs rows that start, end and are replaced independently. transformers'
caches share one write position across the batch (new rows must be left-padded to the running
batch's length, and finished rows leave their columns behind). Here every row slot owns
``capacity`` positions of its own: row ``r`` writes its token at ``pos[r]`` and attends to
``[0, pos[r]]``. A joining request is prefilled into a free slot; a finished row's slot is
reused by moving the last live row into it, so live rows always fill slots ``[0, n)`` and a
step works on contiguous views.

The forward reuses the HF Llama modules (projections, norms, MLP, rotary embedding): packed
or quantized linear layers keep working, and the KV values equal transformers' own. Prefill
attention is ``scaled_dot_product_attention`` (causal; flash kernels on CUDA); a decode step's
single query per row is SDPA with the query heads of a KV head as its query positions (no copy
of the cache, unlike SDPA's masked-GQA fallback). With
``t_live=None`` every shape is static (the CUDA-graph path, :mod:`llasa.lm.graphs`); on CPU
steps attend to the live prefix only. With ``prefix=p`` one prompt shared by every row (best-of-N
candidates, search beams) is stored once and each step reads it once for all rows
(:func:`_shared_decode_attention`). On quantized layers, q/k/v and gate/up run as one kernel call
each (:mod:`llasa.lm.qfuse`).

On CPU, where llasa's kernel builds, a decode step goes further: a layer whose linears all run on
the kernel (4/8-bit, or bf16 on the bf16 kernel) is four kernel calls with its norms, SwiGLU and
residual adds fused in (:class:`~llasa.lm.qfuse.LayerPlan`), and the attention between them
(cache write, RoPE, one query per row over the live positions and the shared prompt) is one call
(``csrc/attention.h``; ``LLASA_FUSED_ATTENTION=0`` keeps SDPA). The torch path above stays the
reference the tests compare them with.

Notation: ``R`` row slots, ``n`` live rows, ``T`` capacity, ``h`` KV heads, ``e`` head dim,
``d`` hidden size, ``q`` query length.
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F

from .._common.errors import InputError
from . import qfuse, qkernel


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    a, b = x.chunk(2, dim=-1)
    return torch.cat((-b, a), dim=-1)


def _rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    # x [n, heads, q, e]; cos/sin [n, q, e] (the same formula as transformers' Llama)
    return x * cos[:, None] + _rotate_half(x) * sin[:, None]


def _decode_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor,
                      scale: float) -> torch.Tensor:
    """One query per row with grouped KV heads: q [n, H, 1, e], k/v [n, h, t, e], mask
    [n, 1, 1, t] → [n, H, 1, e]. The query heads of a KV head are its "query positions" for
    SDPA (no copy of K/V, unlike SDPA's masked-GQA fallback, and its fused CPU kernel)."""
    n, heads, _, e = q.shape
    h = k.shape[1]
    out = F.scaled_dot_product_attention(q.reshape(n, h, heads // h, e), k, v, attn_mask=mask,
                                         scale=scale)  # [n, h, g, e]
    return out.reshape(n, heads, 1, e)


def _shared_decode_attention(q, kp, vp, k, v, mask, scale: float) -> torch.Tensor:
    """:func:`_decode_attention` where positions ``[0, p)`` are one prompt every row shares:
    kp/vp [1, h, p, e] are read once for all rows' queries (one matmul with n x g query rows per
    KV head instead of n small ones), k/v [n, h, s, e] and mask [n, 1, 1, s] are the rows' own
    positions after it. One softmax over both parts: the same attention."""
    n, heads, _, e = q.shape
    h, p = kp.shape[1], kp.shape[2]
    g = heads // h
    qg = q.reshape(n, h, g, e)
    qs = qg.transpose(0, 1).reshape(h, n * g, e)  # every row's queries of a KV head together
    sp = torch.matmul(qs, kp[0].transpose(-1, -2)).float() * scale  # [h, n g, p]
    sp = sp.reshape(h, n, g, p).transpose(0, 1)  # [n, h, g, p]
    so = (torch.matmul(qg, k.transpose(-1, -2)).float() * scale).masked_fill(~mask, float("-inf"))
    w = torch.cat([sp, so], -1).softmax(-1).to(v.dtype)  # [n, h, g, p + s]
    wp = w[..., :p].transpose(0, 1).reshape(h, n * g, p)
    out = torch.matmul(wp, vp[0]).reshape(h, n, g, e).transpose(0, 1) + \
        torch.matmul(w[..., p:], v)
    return out.reshape(n, heads, 1, e)


_FUSED = [True]


def _attention_kernel(cache: torch.Tensor):
    """llasa's CPU decode-attention kernel for this cache, or None (GPU, another dtype, a head
    dim that is not a multiple of 8, no kernel, or ``LLASA_FUSED_ATTENTION=0``)."""
    if not _FUSED[0] or cache.device.type != "cpu" or cache.shape[-1] % 8 or \
            cache.dtype not in (torch.float32, torch.bfloat16) or \
            os.environ.get("LLASA_FUSED_ATTENTION", "1") == "0":
        return None
    ext = qkernel.kernel()
    return ext if ext is not None and hasattr(ext, "decode_attention") else None


class RowKVCache:
    """Keys/values [R, h, T, e] per layer, for the decoder of an HF Llama ``model``.

    Args:
        model: the ``LlamaForCausalLM`` (its ``.model`` is the decoder stack).
        rows: slots ``R``; capacity: positions per slot ``T`` (prompt + new tokens).
        prefix: positions ``[0, prefix)`` hold one prompt that every row shares (best-of-N,
            search beams): it is stored once (:meth:`prefill_prefix`) and the slots hold the
            positions after it. Rows then read the prompt's keys/values once per step between
            them, not once each.
    """

    def __init__(self, model, rows: int, capacity: int, prefix: int = 0):
        if rows < 1 or capacity < 2 or not 0 <= prefix < capacity:
            raise InputError(f"row cache needs rows >= 1, capacity >= 2 and 0 <= prefix < "
                             f"capacity, got {rows}, {capacity}, {prefix}")
        cfg = model.config
        self.decoder = model.model
        self.rows, self.capacity = int(rows), int(capacity)
        heads = cfg.num_attention_heads
        self.head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // heads
        self.kv_heads = getattr(cfg, "num_key_value_heads", None) or heads
        p = next(self.decoder.parameters())
        self.prefix = int(prefix)

        def zeros(r, t):
            return [torch.zeros((r, self.kv_heads, t, self.head_dim), dtype=p.dtype,
                                device=p.device) for _ in self.decoder.layers]

        self.keys, self.values = zeros(self.rows, self.capacity - self.prefix), \
            zeros(self.rows, self.capacity - self.prefix)
        self.prefix_keys, self.prefix_values = (zeros(1, self.prefix), zeros(1, self.prefix)) \
            if self.prefix else ([], [])
        self._plans = None  # per layer: qfuse.layer_plan, looked up on the first forward

    @property
    def bytes(self) -> int:
        return sum(k.numel() * k.element_size() * 2 for k in self.keys + self.prefix_keys)

    def copy_row(self, src: int, dst: int) -> None:
        """Copy slot ``src``'s keys/values into slot ``dst`` (compaction and forks)."""
        if src != dst:
            for k, v in zip(self.keys, self.values):
                k[dst].copy_(k[src])
                v[dst].copy_(v[src])

    def select(self, idx: torch.Tensor) -> None:
        """Keep/duplicate slots: slot ``j`` becomes old slot ``idx[j]`` (search forks rows)."""
        self.keys = [k.index_select(0, idx) for k in self.keys]
        self.values = [v.index_select(0, idx) for v in self.values]
        self.rows = int(idx.numel())

    # ------------------------------------------------------------------------- forwards
    def prefill(self, slot: int, ids: torch.Tensor) -> torch.Tensor:
        """Run prompt ids [p] through the decoder into slot ``slot`` (positions 0..p-1).

        Returns the last position's hidden state [d] (after the final norm)."""
        p = int(ids.shape[0])
        if self.prefix:
            raise InputError("this row cache shares one prompt: use prefill_prefix")
        if p >= self.capacity:
            raise InputError(f"prompt of {p} tokens does not fit the row cache ({self.capacity})")
        return self._prefill(ids, self.keys, self.values, slot)

    def prefill_prefix(self, ids: torch.Tensor) -> torch.Tensor:
        """Run the shared prompt ids [prefix] through the decoder (positions 0..prefix-1).

        Returns the last position's hidden state [d] (after the final norm)."""
        if int(ids.shape[0]) != self.prefix or not self.prefix:
            raise InputError(f"the shared prompt must have the cache's {self.prefix} tokens, "
                             f"got {int(ids.shape[0])}")
        return self._prefill(ids, self.prefix_keys, self.prefix_values, 0)

    def _prefill(self, ids, keys, values, slot: int) -> torch.Tensor:
        p = int(ids.shape[0])

        def attend(i, q, k, v, scale):
            keys[i][slot, :, :p] = k[0]
            values[i][slot, :, :p] = v[0]
            k_all, v_all = keys[i][slot:slot + 1, :, :p], values[i][slot:slot + 1, :, :p]
            return F.scaled_dot_product_attention(q, k_all, v_all, is_causal=True, scale=scale,
                                                  enable_gqa=k_all.shape[1] != q.shape[1])

        pos = torch.arange(p, device=ids.device)[None]  # [1, p]
        return self._run(ids[None], pos, self._rotated(attend))[0, -1]

    def decode(self, ids: torch.Tensor, pos: torch.Tensor, t_live: int | None) -> torch.Tensor:
        """One token per live row: ids [n] at positions pos [n] into slots 0..n-1.

        ``t_live``: attend to positions ``[0, t_live)`` only (must exceed ``max(pos)``);
        None attends to the whole capacity (static shapes, for CUDA graphs).
        Returns hidden states [n, d]."""
        n = int(ids.shape[0])
        own = pos - self.prefix  # positions in the slots (after a shared prompt)
        ext = _attention_kernel(self.keys[0])
        if ext is not None:
            return self._run(ids[:, None], pos[:, None], self._fused(ext, own))[:, 0]
        t = (self.capacity if t_live is None else int(t_live)) - self.prefix
        slots = torch.arange(n, device=ids.device)
        # [n, 1, 1, t]: row r sees positions 0..pos[r]
        mask = (torch.arange(t, device=ids.device)[None] <= own[:, None])[:, None, None]

        def attend(i, q, k, v, scale):  # k, v [n, h, 1, e]
            self.keys[i][slots, :, own] = k[:, :, 0]
            self.values[i][slots, :, own] = v[:, :, 0]
            k_all, v_all = self.keys[i][:n, :, :t], self.values[i][:n, :, :t]
            if self.prefix:
                return _shared_decode_attention(q, self.prefix_keys[i], self.prefix_values[i],
                                                k_all, v_all, mask, scale)
            return _decode_attention(q, k_all, v_all, mask, scale)

        return self._run(ids[:, None], pos[:, None], self._rotated(attend))[:, 0]

    def _rotated(self, attend):
        """``attend(i, q, k, v, scale)`` on rotated [n, heads, q, e] tensors (writes k/v,
        attends; see the callers) as the attention step :meth:`_run` takes: raw projections
        [n, q, *] and cos/sin in, [n, q, H e] out."""
        def step(i, qs, ks, vs, cos, sin, scale):
            n, q = qs.shape[:2]
            qs, ks, vs = (t.reshape(n, q, -1, self.head_dim).transpose(1, 2)
                          for t in (qs, ks, vs))
            qs, ks = _rope(qs, cos, sin), _rope(ks, cos, sin)
            return attend(i, qs, ks, vs, scale).transpose(1, 2).reshape(n, q, -1)

        return step

    def _fused(self, ext, own):
        """The decode step's attention on llasa's CPU kernel: cache write, RoPE (with bf16's
        rounding steps in bf16) and one-query attention in one call per layer
        (``csrc/attention.h``)."""
        none = self.keys[0].new_empty(0)
        heads = self.decoder.config.num_attention_heads

        def fused(i, qs, ks, vs, cos, sin, scale):  # qs/ks/vs [n, 1, *], cos/sin [n, 1, e]
            n = qs.shape[0]
            kp, vp = (self.prefix_keys[i], self.prefix_values[i]) if self.prefix else (none, none)
            o = ext.decode_attention(qs.reshape(n, -1), ks.reshape(n, -1), vs.reshape(n, -1),
                                     self.keys[i], self.values[i], kp, vp, own, cos, sin, heads,
                                     scale)
            return o.reshape(n, 1, -1)

        return fused

    def _run(self, ids, pos, attend) -> torch.Tensor:
        """The decoder on ids [n, q] at positions pos [n, q]; ``attend(i, qs, ks, vs, cos, sin,
        scale)`` is layer i's attention on its raw projections [n, q, *] → [n, q, H e]."""
        dec = self.decoder
        x = dec.embed_tokens(ids)  # [n, q, d]
        cos, sin = dec.rotary_emb(x, pos)  # [n, q, e]
        if self._plans is None:  # the layers do not change while a cache is in use
            cpu = x.device.type == "cpu"
            self._plans = [qfuse.layer_plan(layer) if cpu else None for layer in dec.layers]
        for i, layer in enumerate(dec.layers):
            attn = layer.self_attn
            plan = self._plans[i]
            if plan is not None and plan.dtype == x.dtype:
                x = self._planned(plan, i, x, cos, sin, attend)
                continue
            r = x
            y = layer.input_layernorm(x)
            f = qfuse.qkv(attn)
            qs, ks, vs = f(y) if f is not None else (attn.q_proj(y), attn.k_proj(y),
                                                     attn.v_proj(y))
            x = r + attn.o_proj(attend(i, qs, ks, vs, cos, sin, attn.scaling))
            x = x + self._mlp(layer.mlp, layer.post_attention_layernorm(x))
        return dec.norm(x)

    def _planned(self, plan, i, x, cos, sin, attend) -> torch.Tensor:
        """One layer as four kernel calls with the norms, SwiGLU and residuals fused in
        (:class:`~llasa.lm.qfuse.LayerPlan`), and the attention between them."""
        n, q, d = x.shape
        x2 = x.reshape(n * q, d)
        qs, ks, vs = plan.qkv(x2, norm=plan.norm1).reshape(n, q, -1).split(plan.sizes, -1)
        o = attend(i, qs, ks, vs, cos, sin, self.decoder.layers[i].self_attn.scaling)
        x2 = plan.o(o.reshape(n * q, -1), res=x2)
        x2 = plan.down(plan.gate_up(x2, norm=plan.norm2), glu=True, res=x2)
        return x2.reshape(n, q, d)

    @staticmethod
    def _mlp(mlp, x: torch.Tensor) -> torch.Tensor:
        f = qfuse.gate_up(mlp)
        if f is None:
            return mlp(x)
        g, u = f(x)
        return mlp.down_proj(mlp.act_fn(g) * u)
