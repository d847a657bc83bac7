"""Original X-codec2 checkpoints (``HKUSTAudio/xcodec2``) → transformers ``Xcodec2Model`` weights.

The released files hold the package's module tree (``CodecEnc.*``, ``generator.*``,
``semantic_model.*`` …; docs/codec.md). Each key is mapped one by one with a shape check
(nanoGPT style). Conversions beyond renaming:

* weight norm (``weight_g``/``weight_v`` or ``parametrizations.weight.original0/1``) is folded
  into a plain weight: ``w = g · v / ‖v‖`` (norm over every axis but the output channel);
* SnakeBeta's second parameter is ``act.beta`` in the checkpoint, ``act.bias`` in the package;
* the fused ``c_attn`` [3·D, D] splits into q/k/v, and q/k rows are permuted inside each head
  from interleaved (torchtune RoPE pairs 2i, 2i+1) to rotate-half order (pairs i, i+d/2);
* w2v-BERT keeps its first 16 layers (the official code reads ``hidden_states[16]``);
* fixed buffers (anti-alias filters, ISTFT window) are checked against the recomputed ones.

Unknown or missing keys raise :class:`ModelLoadError` naming them; nothing loads partially.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from .._common.errors import ModelLoadError, no_safetensors_message
from .config import SEMANTIC_LAYER

# Lightning-checkpoint modules used only in training (discriminators...): dropped on purpose.
TRAINING_ONLY = ("fc_post_s.", "SemanticDecoder_module.", "discriminator.", "spec_discriminator.",
                 "model_spk.", "perception_model.")
_BUFFERS = (".upsample.filter", ".downsample.lowpass.filter", "generator.head.istft.window")

_ENC_BLOCK = {"0": "res_unit1", "1": "res_unit2", "2": "res_unit3", "3": "snake1", "4": "conv1"}
_RES_UNIT = {"0": "snake1", "1": "conv1", "2": "snake2", "3": "conv2"}
_ADAPTER = {"initial_conv": "conv1", "residual_blocks.1": "conv2", "residual_blocks.3": "conv3",
            "final_conv": "conv4"}
_BLOCK = {"att_norm.weight": "input_layernorm.weight",
          "ffn_norm.weight": "post_attention_layernorm.weight",
          "att.c_proj.weight": "self_attn.o_proj.weight",
          "mlp.fc1.weight": "mlp.fc1.weight", "mlp.fc2.weight": "mlp.fc2.weight"}


def is_original(keys) -> bool:
    """True when a state dict uses the original package's names (not transformers')."""
    return any(k.startswith(("generator.", "CodecEnc.", "fc_post_a.")) for k in keys)


def _fold_weight_norm(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out, pairs = {}, {}
    for k, v in sd.items():
        for g_suffix, v_suffix in ((".weight_g", ".weight_v"),
                                   (".parametrizations.weight.original0",
                                    ".parametrizations.weight.original1")):
            if k.endswith(g_suffix):
                pairs.setdefault(k[: -len(g_suffix)], {})["g"] = v
                break
            if k.endswith(v_suffix):
                pairs.setdefault(k[: -len(v_suffix)], {})["v"] = v
                break
        else:
            out[k] = v
    for base, p in pairs.items():
        if set(p) != {"g", "v"}:
            raise ModelLoadError(f"weight norm of '{base}' is missing its "
                                 f"{'gain (weight_g)' if 'g' not in p else 'direction (weight_v)'}")
        g, v = p["g"].float(), p["v"].float()
        norm = v.flatten(1).norm(dim=1).view(-1, *([1] * (v.ndim - 1)))  # [out, 1, 1]
        out[base + ".weight"] = (g * v / norm).to(p["v"].dtype)
    return out


def _map_key(k: str, num_semantic_layers: int) -> str | None:
    """Original key → transformers key; None drops it (w2v-BERT layers past 16)."""
    if k.startswith("semantic_model."):
        m = re.match(r"semantic_model\.encoder\.layers\.(\d+)\.", k)
        if m and int(m.group(1)) >= num_semantic_layers:
            return None
        return "semantic_encoder." + k[len("semantic_model."):]
    if k.startswith("SemanticEncoder_module."):
        rest = k[len("SemanticEncoder_module."):]
        for src, dst in _ADAPTER.items():
            if rest.startswith(src + "."):
                return f"semantic_adapter.{dst}{rest[len(src):]}"
    if k.startswith("CodecEnc."):
        rest = k[len("CodecEnc."):].replace(".act.bias", ".act.beta")
        if rest.startswith("conv_blocks.0."):
            return "acoustic_encoder.conv1." + rest[len("conv_blocks.0."):]
        m = re.match(r"conv_blocks\.(\d+)\.block\.(\d)\.(.*)", rest)
        if m:
            blk, sub, tail = int(m.group(1)) - 1, _ENC_BLOCK.get(m.group(2)), m.group(3)
            if sub and sub.startswith("res_unit"):
                m2 = re.match(r"block\.(\d)\.(.*)", tail)
                if m2 and m2.group(1) in _RES_UNIT:
                    return f"acoustic_encoder.block.{blk}.{sub}.{_RES_UNIT[m2.group(1)]}.{m2.group(2)}"
            elif sub:
                return f"acoustic_encoder.block.{blk}.{sub}.{tail}"
        m = re.match(r"conv_final_block\.([01])\.(.*)", rest)
        if m:
            return f"acoustic_encoder.{'snake1' if m.group(1) == '0' else 'conv2'}.{m.group(2)}"
    for src, dst in (("fc_prior.", "fc_encoder."), ("fc_post_a.", "acoustic_decoder.fc."),
                     ("generator.quantizer.project_in.", "quantizer.project_in."),
                     ("generator.quantizer.project_out.", "quantizer.project_out."),
                     ("generator.backbone.embed.", "acoustic_decoder.embed."),
                     ("generator.backbone.prior_net.", "acoustic_decoder.prior_net."),
                     ("generator.backbone.post_net.", "acoustic_decoder.post_net."),
                     ("generator.backbone.final_layer_norm.", "acoustic_decoder.norm."),
                     ("generator.head.out.", "acoustic_decoder.head.linear.")):
        if k.startswith(src):
            return dst + k[len(src):]
    m = re.match(r"generator\.backbone\.transformers\.(\d+)\.(.*)", k)
    if m and m.group(2) in _BLOCK:
        return f"acoustic_decoder.layers.{m.group(1)}.{_BLOCK[m.group(2)]}"
    raise ModelLoadError(f"unknown key in the original checkpoint: '{k}'")


def _split_c_attn(w: torch.Tensor, num_heads: int) -> tuple[torch.Tensor, ...]:
    """[3·H·d, D] fused (r h d) → q, k, v [H·d, D]; q/k rows interleaved → rotate-half order."""
    q, k, v = w.chunk(3, dim=0)
    d = q.shape[0] // num_heads
    perm = torch.cat([torch.arange(0, d, 2), torch.arange(1, d, 2)])  # [d]

    def rope_order(x):
        return x.view(num_heads, d, -1)[:, perm].reshape(num_heads * d, -1)

    return rope_order(q), rope_order(k), v


def convert_state_dict(sd: dict[str, torch.Tensor], config,
                       expected: dict[str, torch.Size] | None = None) -> dict[str, torch.Tensor]:
    """Map an original X-codec2 state dict onto transformers ``Xcodec2Model`` names.

    Args:
        sd: original weights (``model.safetensors`` or a Lightning ``state_dict``).
        config: the target ``Xcodec2Config`` (heads, semantic layers).
        expected: target name → shape; when given, every mapped tensor's shape is asserted.

    Returns:
        transformers-format state dict (no buffers).
    """
    from transformers.models.xcodec2.modeling_xcodec2 import kaiser_sinc_filter1d

    sd = {k: v for k, v in sd.items() if not k.startswith(TRAINING_ONLY)}
    sd = _fold_weight_norm(sd)
    n_sem = config.semantic_model_config.num_hidden_layers
    out: dict[str, torch.Tensor] = {}
    for k, v in sd.items():
        if k.endswith(_BUFFERS):
            ref = (torch.hann_window(v.numel()) if k.endswith("window")
                   else kaiser_sinc_filter1d(0.25, 0.3, v.shape[-1]))
            if v.shape != ref.shape or not torch.allclose(v.float(), ref, atol=1e-6):
                raise ModelLoadError(f"fixed buffer '{k}' differs from the standard "
                                     "filter/window: not an X-codec2 checkpoint")
            continue
        m = re.match(r"generator\.backbone\.transformers\.(\d+)\.att\.c_attn\.weight", k)
        if m:
            q, kk, vv = _split_c_attn(v, config.num_attention_heads)
            base = f"acoustic_decoder.layers.{m.group(1)}.self_attn."
            out.update({base + "q_proj.weight": q, base + "k_proj.weight": kk,
                        base + "v_proj.weight": vv})
            continue
        new = _map_key(k, n_sem)
        if new is not None:
            out[new] = v
    if expected is not None:
        bad = [f"{k}: {tuple(v.shape)} vs {tuple(expected[k])}" for k, v in out.items()
               if k in expected and v.shape != expected[k]]
        if bad:
            raise ModelLoadError("shape mismatch converting the original checkpoint: "
                                 + "; ".join(bad[:10]))
    return out


def infer_config(sd: dict[str, torch.Tensor]):
    """Build the ``Xcodec2Config`` an original checkpoint implies (its config.json says little)."""
    from transformers import Wav2Vec2BertConfig, Xcodec2Config

    try:
        hidden = sd["fc_post_a.weight"].shape[0]
        quant_dim = sd["fc_post_a.weight"].shape[1]
        layers = 1 + max(int(m.group(1)) for k in sd
                         if (m := re.match(r"generator\.backbone\.transformers\.(\d+)\.", k)))
        inter = sd["generator.backbone.transformers.0.mlp.fc1.weight"].shape[0]
        enc = next(v for k, v in sd.items()
                   if k.startswith("CodecEnc.conv_blocks.0.")
                   and k.endswith(("weight_v", "original1", "weight"))).shape[0]
    except (KeyError, ValueError, StopIteration) as e:
        raise ModelLoadError(f"not an X-codec2 checkpoint: missing {e}") from None
    sem_hidden = quant_dim - hidden
    sem = {"num_hidden_layers": SEMANTIC_LAYER}
    if sem_hidden != 1024:  # not w2v-BERT 2.0: read its sizes off the tensors
        sem_layers = 1 + max((int(m.group(1)) for k in sd
                              if (m := re.match(r"semantic_model\.encoder\.layers\.(\d+)\.", k))),
                             default=SEMANTIC_LAYER - 1)
        layer0 = "semantic_model.encoder.layers.0."
        ffn = sd.get(layer0 + "ffn1.intermediate_dense.weight")
        dist = sd.get(layer0 + "self_attn.distance_embedding.weight")  # [left + right + 1, d_h]
        dw = sd.get(layer0 + "conv_module.depthwise_conv.weight")  # [d, 1, kernel]
        sem.update(hidden_size=sem_hidden, output_hidden_size=sem_hidden,
                   num_hidden_layers=min(sem_layers, SEMANTIC_LAYER),
                   intermediate_size=int(ffn.shape[0]) if ffn is not None else 4 * sem_hidden)
        if dist is not None:
            # Only the sum left + right is stored; assume w2v-BERT 2.0's 8:1 split (64, 8).
            right = (dist.shape[0] - 1) // 9
            sem.update(num_attention_heads=sem_hidden // dist.shape[1],
                       left_max_position_embeddings=dist.shape[0] - 1 - right,
                       right_max_position_embeddings=right)
        if dw is not None:
            sem.update(conv_depthwise_kernel_size=int(dw.shape[-1]))
    heads = max(1, hidden // 64)
    return Xcodec2Config(hidden_size=hidden, intermediate_size=inter, num_hidden_layers=layers,
                         num_attention_heads=heads, num_key_value_heads=heads,
                         head_dim=hidden // heads, encoder_hidden_size=enc,
                         quantization_dim=quant_dim,
                         semantic_model_config=Wav2Vec2BertConfig(**sem).to_dict())


def read_original(path: Path) -> dict[str, torch.Tensor]:
    """Weights of an original checkpoint: a dir, ``model.safetensors`` or a Lightning ``.ckpt``."""
    from safetensors.torch import load_file

    path = Path(path)
    if path.is_dir():
        cands = [path / "model.safetensors", *sorted((path / "ckpt").glob("*.ckpt"))]
        found = next((p for p in cands if p.exists()), None)
        if found is None:
            raise ModelLoadError(f"no model.safetensors or ckpt/*.ckpt in {path}"
                                 + ("; " + no_safetensors_message(path)
                                    if any(path.glob("*.bin")) else ""))
        path = found
    if path.suffix == ".safetensors":
        return load_file(str(path))
    if path.suffix == ".ckpt":
        try:  # legacy Lightning pickle: weights only, never arbitrary objects
            ckpt = torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
        except Exception as e:  # noqa: BLE001 - unpickling failures come in many types
            # torch's message spans lines and suggests weights_only=False: keep its one
            # informative line (what was refused) and never suggest running pickled code
            why = next((ln.strip() for ln in str(e).splitlines()
                        if "GLOBAL" in ln or "Unsupported" in ln), type(e).__name__)
            raise ModelLoadError(f"refused {path}: it holds more than weights ({why}); llasa "
                                 "never runs pickled code. Convert a checkpoint you trust to "
                                 "safetensors with the official xcodec2 code") from None
        sd = ckpt.get("state_dict", ckpt) if isinstance(ckpt, dict) else None
        if not isinstance(sd, dict):
            raise ModelLoadError(f"{path} holds no state_dict")
        return sd
    raise ModelLoadError(f"unsupported checkpoint file {path} (expected .safetensors or .ckpt)")


def convert_checkpoint(src, dst) -> Path:
    """Write an original checkpoint (dir, .safetensors or .ckpt) in the transformers layout.

    Loads it through ``Codec.from_pretrained`` (every key checked) and saves config.json +
    model.safetensors, which ``Xcodec2Model.from_pretrained`` and llasa both read.
    """
    from .model import Codec

    dst = Path(dst)
    if dst.exists() and any(dst.iterdir()):
        raise ModelLoadError(f"output directory {dst} is not empty; choose a new directory")
    return Codec.from_pretrained(src).save_pretrained(dst)
