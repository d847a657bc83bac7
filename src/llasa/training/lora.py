"""LoRA through peft: wrap a causal LM with adapters, and merge adapters back into the base.

The official LoRA fine-tune uses ``r=8, lora_alpha=32, lora_dropout=0.1, bias="none",
target_modules=["q_proj", "v_proj"]``; those are :class:`~llasa.training.lm_config.LoRASettings`'
defaults.
"""

from __future__ import annotations

from pathlib import Path

from .._common.errors import InputError, ModelLoadError
from .._common.hub import resolve
from ..lm.frontend import FRONTEND_KEY, declare_frontend

FRONTEND_FILE = "llasa_frontend.json"  # beside a LoRA adapter: its run's text frontend


def apply_lora(model, settings):
    """Wrap ``model`` (a ``LlamaForCausalLM``) in a peft ``PeftModel`` whose only trainable
    weights are the adapters (and ``settings.modules_to_save``).

    Raises:
        InputError: a target module name that the model does not have.
    """
    from peft import LoraConfig, get_peft_model

    names = {n.rsplit(".", 1)[-1] for n, _ in model.named_modules()}
    missing = [m for m in settings.target_modules if m not in names]
    if missing:
        raise InputError(f"lora.target_modules {missing} are not modules of this model "
                         f"(Llama has q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, "
                         f"down_proj)")
    cfg = LoraConfig(r=settings.r, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
                     target_modules=list(settings.target_modules), bias="none",
                     task_type="CAUSAL_LM",
                     modules_to_save=list(settings.modules_to_save) or None)
    return get_peft_model(model, cfg)


def merge_lora(adapter_dir: str | Path, base: str | Path | None, out_dir: str | Path, *,
               dtype=None, revision: str | None = None) -> Path:
    """Merge a LoRA adapter into its base model and save a plain checkpoint (+ tokenizer).

    Args:
        adapter_dir: a folder with ``adapter_config.json`` + ``adapter_model.safetensors``
            (a LoRA run's ``adapter/``).
        base: the base model directory / hub id; None uses the adapter's recorded
            ``base_model_name_or_path``.
        out_dir: where to write ``config.json`` + ``model.safetensors`` + tokenizer files.
        dtype: weights dtype of the merged model (default: the base's).

    Returns:
        ``out_dir``, loadable by :meth:`llasa.lm.LlasaLM.from_pretrained`.

    Raises:
        ModelLoadError: no adapter, no base, or an adapter that does not fit the base.
    """
    import json

    from peft import PeftModel
    from transformers import AutoTokenizer, LlamaForCausalLM

    from .._common.device import resolve_dtype

    adir = Path(adapter_dir)
    cfg_path = adir / "adapter_config.json"
    if not cfg_path.is_file():
        raise ModelLoadError(f"{adir} has no adapter_config.json: not a LoRA adapter folder")
    if base is None:
        base = json.loads(cfg_path.read_text()).get("base_model_name_or_path")
        if not base:
            raise ModelLoadError("the adapter does not record its base model: pass BASE")
    bpath = resolve(base, revision=revision)
    try:
        model = LlamaForCausalLM.from_pretrained(
            str(bpath), dtype=resolve_dtype(dtype) if dtype else "auto")
    except (OSError, ValueError) as e:
        raise ModelLoadError(f"cannot load the base model {bpath}: {e}") from None
    try:
        merged = PeftModel.from_pretrained(model, str(adir)).merge_and_unload()
    except (RuntimeError, ValueError, KeyError) as e:
        raise ModelLoadError(f"adapter {adir} does not fit base {bpath}: {e}") from None
    fe = adir / FRONTEND_FILE  # written by llasa.training.lm for a LoRA run
    if fe.is_file():
        declare_frontend(merged.config, json.loads(fe.read_text()).get(FRONTEND_KEY))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(str(out))
    tok_src = adir if (adir / "tokenizer_config.json").is_file() else bpath
    AutoTokenizer.from_pretrained(str(tok_src)).save_pretrained(str(out))
    return out
