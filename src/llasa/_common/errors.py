"""One error family with messages meant for users (the CLI prints them without a traceback)."""


class LlasaError(Exception):
    """Base of every error llasa raises on purpose."""


class InputError(LlasaError, ValueError):
    """Bad input from a user: text, audio, paths, sizes, settings."""


class ModelLoadError(LlasaError):
    """A model or checkpoint could not be found, read or matched to the architecture."""


class BudgetError(LlasaError):
    """A compute, length or context budget cannot be met."""


class Cancelled(LlasaError):
    """Work stopped on request (``should_stop()`` said so: client gone, time limit, shutdown)."""


def no_safetensors_message(path) -> str:
    """One line for a checkpoint folder/file that holds only pickled weights (.bin/.pt/.ckpt):
    llasa never unpickles, so say how to convert instead."""
    from pathlib import Path

    p = Path(path)
    found = sorted(x.name for x in p.glob("*") if x.suffix in (".bin", ".pt", ".pth", ".ckpt")
                   ) if p.is_dir() else [p.name]
    return (f"{p}: no .safetensors weights (found {', '.join(found[:4]) or 'none'}); llasa does "
            "not load pickled checkpoints. Convert one you trust to safetensors first: python -c "
            "\"import torch, safetensors.torch as s; s.save_file(torch.load('pytorch_model.bin', "
            "weights_only=True), 'model.safetensors')\"")
