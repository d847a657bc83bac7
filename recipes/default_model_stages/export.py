"""Stage ``export``: the last codec and LM phases that ran, as fp16 safetensors in
``src/llasa/models/default`` (what ``Llasa.from_pretrained()`` loads).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from .common import SHIP, SHIPPED_LONG_TEXT, SHIPPED_SAMPLING, _final_codec, _final_lm


def export_codec() -> None:
    import torch
    from transformers import Xcodec2Model

    shutil.rmtree(SHIP / "codec", ignore_errors=True)
    codec = Xcodec2Model.from_pretrained(str(_final_codec()))
    codec.to(torch.float16).save_pretrained(str(SHIP / "codec"), safe_serialization=True)
    _package(SHIP / "codec")


def export_lm() -> None:
    import torch
    from transformers import LlamaForCausalLM, PreTrainedTokenizerFast

    shutil.rmtree(SHIP / "lm", ignore_errors=True)
    lm = LlamaForCausalLM.from_pretrained(str(_final_lm()))
    lm.config.use_cache = True
    lm.config.llasa_sampling = dict(SHIPPED_SAMPLING)
    lm.config.llasa_long_text = dict(SHIPPED_LONG_TEXT)
    lm.to(torch.float16).save_pretrained(str(SHIP / "lm"), safe_serialization=True)
    tok = PreTrainedTokenizerFast.from_pretrained(str(_final_lm()))
    tok.init_kwargs.pop("local_files_only", None)  # a loading flag, not part of the model
    tok.save_pretrained(str(SHIP / "lm"))
    _package(SHIP / "lm")


def _package(folder: Path) -> None:
    for junk in folder.rglob("training_args.bin"):
        junk.unlink()
    # a package, so that setuptools' package-data ships the files in a wheel
    (folder / "__init__.py").write_text('"""Shipped weights (data only)."""\n')


def stage_export(a) -> None:
    export_codec()
    export_lm()
    total = sum(p.stat().st_size for p in SHIP.rglob("*") if p.is_file())
    print(f"exported to {SHIP}: {total / 1e6:.1f} MB")
