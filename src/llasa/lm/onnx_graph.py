"""The LM graph of the ONNX engine, built node by node around ORT's GroupQueryAttention.

Notation: ``s`` new positions, ``p`` cached positions, ``L`` layers, ``H`` query heads, ``G``
KV heads, ``e`` head size, ``d`` hidden size, ``v`` = 1 + codebook (END, then ``<|s_k|>``).

Inputs ``ids [1, s]``, ``past_len`` (int64 scalar ``p``), ``past_k0 .. past_k{L-1}``,
``past_v0 ..`` ``[1, G, m, e]``; outputs ``logits [1, v]`` (last position, allowed rows only)
and ``present_*``. With ``m = p`` the presents are new ``[1, G, p + s, e]`` tensors. Bound to
the same preallocated buffers as the pasts (``m`` = the context length, ORT's shared-buffer
mode, :class:`~llasa.lm.onnx_lm.OnnxLM`), GQA writes the new keys in place instead of copying
the whole cache every step (a third less CPU per step for the shipped model).

Why by hand rather than ``torch.onnx.export``: at 3.5 M parameters a decoding step costs
ORT's per-node overhead more than arithmetic, and ``com.microsoft.GroupQueryAttention`` does
RoPE, the cache append, causal masking and attention in one node (a traced Llama has ~40
nodes per layer; this graph has ~12). Each layer: RMSNorm → one q|k|v matmul → GQA →
output matmul → residual → RMSNorm → one gate|up matmul → SiLU · up → down → residual.
RMSNorm and SiLU are written as plain ops, which ORT fuses. Weights are stored transposed.
"""

from __future__ import annotations

import numpy as np

OPSET = 17


def build_lm_graph(weights: dict[str, np.ndarray], *, layers: int, heads: int, kv_heads: int,
                   head_dim: int, eps: float, inv_freq: np.ndarray, max_positions: int,
                   head_ids: np.ndarray, rope_scale: float = 1.0):
    """An ``onnx.ModelProto`` of the Llama decoder.

    Args:
        weights: transformers names (``model.embed_tokens.weight``, ``model.layers.{i}...``,
            ``model.norm.weight``; ``lm_head.weight`` only if not tied), float32 numpy.
        inv_freq: RoPE inverse frequencies [e/2] (transformers' ``rotary_emb.inv_freq``).
        head_ids: vocabulary ids of the v output rows.
    """
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []

    def const(name, arr):
        arr = np.asarray(arr)  # (ascontiguousarray would make 0-d scalars 1-d)
        inits.append(numpy_helper.from_array(arr if arr.flags.c_contiguous else arr.copy(),
                                             name))
        return name

    def node(op, inputs, outputs=None, domain="", **attrs):
        outs = outputs or [f"{op}_{len(nodes)}"]
        nodes.append(helper.make_node(op, inputs, outs, name=f"n{len(nodes)}_{op}",
                                      domain=domain, **attrs))
        return outs[0] if len(outs) == 1 else outs

    def rms(x, w_name, w):
        # Pow → ReduceMean → Add → Sqrt → Div → Mul: the pattern ORT fuses into one RMSNorm
        var = node("ReduceMean", [node("Pow", [x, const(w_name + ".two", np.float32(2.0))])],
                   axes=[-1], keepdims=1)
        denom = node("Sqrt", [node("Add", [var, const(w_name + ".eps", np.float32(eps))])])
        return node("Mul", [node("Div", [x, denom]), const(w_name, w)])

    # RoPE tables as transformers computes them (fp32 positions × inv_freq), half width
    freqs = (np.arange(max_positions, dtype=np.float32)[:, None]
             * np.asarray(inv_freq, np.float32)[None])  # [positions, e/2]
    cos = const("cos_cache", (np.cos(freqs) * rope_scale).astype(np.float32))
    sin = const("sin_cache", (np.sin(freqs) * rope_scale).astype(np.float32))
    # total length p + s and the per-row "seqlens_k" (= total - 1) that GQA wants, as int32
    p = "past_len"
    s = node("Gather", [node("Shape", ["ids"]), const("i1", np.array(1, np.int64))])
    total = node("Cast", [node("Add", [p, s])], to=TensorProto.INT32)
    seqlens = node("Reshape", [node("Sub", [total, const("one32", np.array(1, np.int32))]),
                               const("shape1", np.array([1], np.int64))])
    emb = weights["model.embed_tokens.weight"]
    x = node("Gather", [const("embed", emb), "ids"])  # [1, s, d]
    for i in range(layers):
        pre = f"model.layers.{i}."
        w = {k[len(pre):]: v for k, v in weights.items() if k.startswith(pre)}
        h = rms(x, f"n1_{i}", w["input_layernorm.weight"])
        wqkv = np.concatenate([w["self_attn.q_proj.weight"], w["self_attn.k_proj.weight"],
                               w["self_attn.v_proj.weight"]]).T  # [d, (H + 2G) e]
        qkv = node("MatMul", [h, const(f"qkv{i}", wqkv)])
        att, _, _ = node("GroupQueryAttention",
                         [qkv, "", "", f"past_k{i}", f"past_v{i}", seqlens, total, cos, sin],
                         [f"att{i}", f"present_k{i}", f"present_v{i}"],
                         domain="com.microsoft", num_heads=heads, kv_num_heads=kv_heads,
                         do_rotary=1, rotary_interleaved=0, scale=float(head_dim ** -0.5))
        x = node("Add", [x, node("MatMul", [att, const(f"o{i}",
                                                       w["self_attn.o_proj.weight"].T)])])
        h = rms(x, f"n2_{i}", w["post_attention_layernorm.weight"])
        gu = np.concatenate([w["mlp.gate_proj.weight"], w["mlp.up_proj.weight"]]).T
        half = const(f"split{i}", np.array([gu.shape[1] // 2] * 2, np.int64))
        gate, up = node("Split", [node("MatMul", [h, const(f"gu{i}", gu)]), half],
                        [f"gate{i}", f"up{i}"], axis=-1)
        act = node("Mul", [node("Mul", [gate, node("Sigmoid", [gate])]), up])
        x = node("Add", [x, node("MatMul", [act, const(f"down{i}",
                                                       w["mlp.down_proj.weight"].T)])])
    last = node("Gather", [x, const("last", np.array(-1, np.int64))], axis=1)  # [1, d]
    last = rms(last, "norm", weights["model.norm.weight"])
    if "lm_head.weight" in weights:  # untied: its own rows
        head = const("head", weights["lm_head.weight"][head_ids].T)  # [d, v]
    else:  # tied: gathered from the embedding, which ORT folds once at load (no copy stored)
        head = node("Transpose", [node("Gather", ["embed", const("head_ids", head_ids)])],
                    perm=[1, 0])
    node("MatMul", [last, head], ["logits"])
    f32, i64 = TensorProto.FLOAT, TensorProto.INT64
    past = [helper.make_tensor_value_info(f"past_{kv}{i}", f32, [1, kv_heads, "m", head_dim])
            for kv in "kv" for i in range(layers)]
    present = [helper.make_tensor_value_info(f"present_{kv}{i}", f32,
                                             [1, kv_heads, "t", head_dim])
               for kv in "kv" for i in range(layers)]
    graph = helper.make_graph(
        nodes, "llasa_lm", [helper.make_tensor_value_info("ids", i64, [1, "s"]),
                            helper.make_tensor_value_info("past_len", i64, []), *past],
        [helper.make_tensor_value_info("logits", f32, [1, len(head_ids)]), *present], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET),
                                                    helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    return model
