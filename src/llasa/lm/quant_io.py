"""Quantized LM checkpoints on disk: integers and scales in safetensors, the method in config.json.

``llasa quantize --method int8|int4`` writes one (:func:`save_quantized_model`). Loading builds
the Llama on the meta device, swaps its linear layers for quantized ones made from the stored
integers and assigns the float tensors (embedding, norms): the float weights of the quantized
layers are never materialised.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from .._common.errors import ModelLoadError
from .quant import INT4_GROUP, QUANT_KEY, QUANTS, load_quantized, quantized_state

_WEIGHTS = "model.safetensors"
HEAD_ABSMAX = "llasa_head_act_absmax"  # the int8 head's calibration (its rows are built at load)
_PREFIX = "model.layers."


def stored_quant(path: Path) -> dict | None:
    """The ``llasa_quant`` entry of a model directory's config.json, checked; None if absent."""
    try:
        cfg = json.loads((Path(path) / "config.json").read_text())
    except (OSError, ValueError):
        return None
    q = cfg.get(QUANT_KEY)
    if q is None:
        return None
    if not isinstance(q, dict) or q.get("method") not in QUANTS:
        raise ModelLoadError(f"config.json {QUANT_KEY} must name a method in {QUANTS}, got {q!r}")
    return q


def declared_quant(model) -> str | None:
    q = getattr(model.config, QUANT_KEY, None)
    return q.get("method") if isinstance(q, dict) else None


def save_quantized_model(model, directory: Path, method: str,
                         head_absmax: torch.Tensor | None = None) -> None:
    """Write ``config.json`` (with :data:`QUANT_KEY`) and the weights of a quantized model."""
    from safetensors.torch import save_file

    tensors = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    if getattr(model.config, "tie_word_embeddings", False):
        tensors.pop("lm_head.weight", None)  # the same storage as the embedding
    tensors.update(quantized_state(model.model.layers, _PREFIX))
    if head_absmax is not None:
        tensors[HEAD_ABSMAX] = head_absmax.float().contiguous()
    save_file(tensors, str(Path(directory) / _WEIGHTS), metadata={"format": "pt",
                                                                   QUANT_KEY: method})
    model.config.save_pretrained(str(directory))


def load_quantized_model(path: Path, dtype: torch.dtype):
    """A ``LlamaForCausalLM`` whose decoder layers are quantized, from a saved directory."""
    from safetensors.torch import load_file
    from transformers import LlamaConfig, LlamaForCausalLM

    q = stored_quant(path)
    files = sorted(Path(path).glob("*.safetensors"))
    if not files:
        raise ModelLoadError(f"{path} has no .safetensors weights")
    tensors: dict[str, torch.Tensor] = {}
    for f in files:
        tensors.update(load_file(str(f)))
    cfg = LlamaConfig.from_pretrained(str(path))
    with torch.device("meta"):
        model = LlamaForCausalLM(cfg)
    n = load_quantized(model.model.layers, _PREFIX, tensors, q["method"],
                       int(q.get("group_size", INT4_GROUP)))
    if n == 0:
        raise ModelLoadError(f"{path}: no linear layers to load")
    quant_keys = set(quantized_state(model.model.layers, _PREFIX))
    floats = {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in tensors.items()
              if k not in quant_keys and k != HEAD_ABSMAX}
    _, unexpected = model.load_state_dict(floats, strict=False, assign=True)
    if unexpected:
        raise ModelLoadError(f"{path}: unexpected tensors {unexpected[:5]}")
    if cfg.tie_word_embeddings:
        model.lm_head.weight = model.model.embed_tokens.weight
    # non-persistent buffers (rotary frequencies) are not in the file: build them for real
    model.model.rotary_emb = type(model.model.rotary_emb)(config=cfg)
    if HEAD_ABSMAX in tensors:
        setattr(model, HEAD_ABSMAX, tensors[HEAD_ABSMAX])
    left = [n for n, t in list(model.named_parameters()) + list(model.named_buffers())
            if t.is_meta]
    if left:
        raise ModelLoadError(f"{path}: weights missing from the checkpoint: {left[:5]}")
    return model.eval()
