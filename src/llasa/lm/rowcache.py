"""A KV cache with one slot per row, and the Llama decoder forward that reads and writes it.

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
single query per row is two batched matmuls with the query heads grouped onto their KV head
(no copy of the cache, unlike SDPA's masked-GQA fallback). With
``t_live=None`` every shape is static (the CUDA-graph path, :mod:`llasa.lm.graphs`); on CPU
steps attend to the live prefix only.

Notation: ``R`` row slots, ``n`` live rows, ``T`` capacity, ``h`` KV heads, ``e`` head dim,
``d`` hidden size, ``q`` query length.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .._common.errors import InputError
from . import qfuse


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    a, b = x.chunk(2, dim=-1)
    return torch.cat((-b, a), dim=-1)


def _rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    # x [n, heads, q, e]; cos/sin [n, q, e] (the same formula as transformers' Llama)
    return x * cos[:, None] + _rotate_half(x) * sin[:, None]


def _decode_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor,
                      scale: float) -> torch.Tensor:
    """One query per row with grouped KV heads: q [n, H, 1, e], k/v [n, h, t, e], mask
    [n, 1, 1, t] → [n, H, 1, e]. The query heads of a KV head are grouped onto it instead of
    repeating K/V (SDPA's math fallback for GQA copies the whole cache every layer)."""
    n, heads, _, e = q.shape
    h = k.shape[1]
    qg = q.reshape(n, h, heads // h, e)  # [n, h, g, e]
    scores = torch.matmul(qg, k.transpose(-1, -2)).float() * scale  # [n, h, g, t]
    scores = scores.masked_fill(~mask, float("-inf"))  # [n, 1, 1, t] broadcasts over h, g
    out = torch.matmul(scores.softmax(-1).to(v.dtype), v)  # [n, h, g, e]
    return out.reshape(n, heads, 1, e)


class RowKVCache:
    """Keys/values [R, h, T, e] per layer, for the decoder of an HF Llama ``model``.

    Args:
        model: the ``LlamaForCausalLM`` (its ``.model`` is the decoder stack).
        rows: slots ``R``; capacity: positions per slot ``T`` (prompt + new tokens).
    """

    def __init__(self, model, rows: int, capacity: int):
        if rows < 1 or capacity < 2:
            raise InputError(f"row cache needs rows >= 1 and capacity >= 2, got {rows}, "
                             f"{capacity}")
        cfg = model.config
        self.decoder = model.model
        self.rows, self.capacity = int(rows), int(capacity)
        heads = cfg.num_attention_heads
        self.head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // heads
        self.kv_heads = getattr(cfg, "num_key_value_heads", None) or heads
        p = next(self.decoder.parameters())
        shape = (self.rows, self.kv_heads, self.capacity, self.head_dim)
        self.keys = [torch.zeros(shape, dtype=p.dtype, device=p.device)
                     for _ in self.decoder.layers]
        self.values = [torch.zeros_like(k) for k in self.keys]

    @property
    def bytes(self) -> int:
        return sum(k.numel() * k.element_size() * 2 for k in self.keys)

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
        if p >= self.capacity:
            raise InputError(f"prompt of {p} tokens does not fit the row cache ({self.capacity})")
        pos = torch.arange(p, device=ids.device)[None]  # [1, p]
        h = self._run(ids[None], pos, lambda i, k, v: self._write_prefill(i, slot, k, v),
                      lambda i: (self.keys[i][slot:slot + 1, :, :p],
                                 self.values[i][slot:slot + 1, :, :p]), None, causal=True)
        return h[0, -1]

    def decode(self, ids: torch.Tensor, pos: torch.Tensor, t_live: int | None) -> torch.Tensor:
        """One token per live row: ids [n] at positions pos [n] into slots 0..n-1.

        ``t_live``: attend to positions ``[0, t_live)`` only (must exceed ``max(pos)``);
        None attends to the whole capacity (static shapes, for CUDA graphs).
        Returns hidden states [n, d]."""
        n = int(ids.shape[0])
        t = self.capacity if t_live is None else int(t_live)
        slots = torch.arange(n, device=ids.device)
        # [n, 1, 1, t]: row r sees positions 0..pos[r]
        mask = (torch.arange(t, device=ids.device)[None] <= pos[:, None])[:, None, None]

        def write(i, k, v):  # k, v [n, h, 1, e]
            self.keys[i][slots, :, pos] = k[:, :, 0]
            self.values[i][slots, :, pos] = v[:, :, 0]

        h = self._run(ids[:, None], pos[:, None], write,
                      lambda i: (self.keys[i][:n, :, :t], self.values[i][:n, :, :t]), mask,
                      causal=False)
        return h[:, 0]

    def _write_prefill(self, i: int, slot: int, k: torch.Tensor, v: torch.Tensor) -> None:
        p = k.shape[2]
        self.keys[i][slot, :, :p] = k[0]
        self.values[i][slot, :, :p] = v[0]

    def _run(self, ids, pos, write, read, mask, causal: bool) -> torch.Tensor:
        dec = self.decoder
        x = dec.embed_tokens(ids)  # [n, q, d]
        cos, sin = dec.rotary_emb(x, pos)  # [n, q, e]
        n, q = ids.shape
        for i, layer in enumerate(dec.layers):
            attn = layer.self_attn
            r = x
            y = layer.input_layernorm(x)
            f = qfuse.qkv(attn)
            qs, ks, vs = f(y) if f is not None else (attn.q_proj(y), attn.k_proj(y),
                                                     attn.v_proj(y))
            qs, ks, vs = (t.reshape(n, q, -1, self.head_dim).transpose(1, 2)
                          for t in (qs, ks, vs))
            qs, ks = _rope(qs, cos, sin), _rope(ks, cos, sin)
            write(i, ks, vs)
            k_all, v_all = read(i)
            if causal:  # prefill: one prompt, SDPA's causal kernels
                o = F.scaled_dot_product_attention(
                    qs, k_all, v_all, is_causal=True, scale=attn.scaling,
                    enable_gqa=k_all.shape[1] != qs.shape[1])
            else:
                o = _decode_attention(qs, k_all, v_all, mask, attn.scaling)
            x = r + attn.o_proj(o.transpose(1, 2).reshape(n, q, -1))
            x = x + self._mlp(layer.mlp, layer.post_attention_layernorm(x))
        return dec.norm(x)

    @staticmethod
    def _mlp(mlp, x: torch.Tensor) -> torch.Tensor:
        f = qfuse.gate_up(mlp)
        if f is None:
            return mlp(x)
        g, u = f(x)
        return mlp.down_proj(mlp.act_fn(g) * u)
