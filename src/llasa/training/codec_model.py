"""Build the generator to train: a fresh ``Xcodec2Model`` from a preset, or released weights.

Loading goes through :class:`llasa.codec.Codec` so that both checkpoint formats (transformers
``HKUSTAudio/xcodec2-hf`` and the original ``HKUSTAudio/xcodec2``) can be fine-tuned.
"""

from __future__ import annotations

from torch import nn

from .._common.errors import InputError, ModelLoadError
from .._common.hub import resolve
from .._common.log import get_logger
from ..codec import presets
from ..codec.config import check_config
from .codec_config import CodecModelSettings

log = get_logger(__name__)


def generator_config(settings: CodecModelSettings):
    """The ``Xcodec2Config`` of a scratch run: the preset with ``settings.config`` applied.

    Raises:
        InputError: an override names no ``Xcodec2Config`` field.
    """
    from transformers import Xcodec2Config

    base = (presets.tiny() if settings.preset == "tiny" else presets.full()).to_dict()
    unknown = sorted(set(settings.config) - set(base))
    if unknown:
        raise InputError(f"model.config: unknown Xcodec2Config field(s) {unknown}")
    merged = dict(base)
    for k, v in settings.config.items():
        if isinstance(v, dict) and isinstance(merged.get(k), dict):
            merged[k] = {**merged[k], **v}
        else:
            merged[k] = v
    try:
        config = Xcodec2Config.from_dict(merged)
    except (TypeError, ValueError) as e:
        raise InputError(f"model.config: {e}") from None
    check_config(config)
    return config


def build_generator(settings: CodecModelSettings, seed: int) -> nn.Module:
    """A trainable ``transformers.Xcodec2Model`` (fp32, on CPU, in train mode).

    Raises:
        ModelLoadError: ``init`` or ``semantic_encoder`` cannot be loaded.
    """
    from ..codec import Codec

    if settings.init == "scratch":
        net = Codec.from_config(generator_config(settings), seed=seed, device="cpu").net
        if settings.semantic_encoder:
            _load_semantic_encoder(net, settings.semantic_encoder, settings.revision)
    else:
        if settings.config:  # e.g. a preset's scratch-only init tweak: say so, don't fail
            log.warning("model.config %s is ignored: a fine-tuned model keeps the configuration "
                        "of its checkpoint", settings.config)
        net = Codec.from_pretrained(settings.init, device="cpu",
                                    revision=settings.revision).net
    return net.float().train()


def _load_semantic_encoder(net: nn.Module, path_or_id: str, revision: str | None) -> None:
    """Copy pretrained w2v-BERT weights (first N layers) into the frozen semantic encoder."""
    from transformers import Wav2Vec2BertModel

    layers = net.config.semantic_model_config.num_hidden_layers
    try:
        src = Wav2Vec2BertModel.from_pretrained(str(resolve(path_or_id, revision)),
                                                num_hidden_layers=layers)
        net.semantic_encoder.load_state_dict(src.state_dict(), strict=True)
    except (OSError, RuntimeError, ValueError) as e:
        raise ModelLoadError(f"cannot load semantic encoder {path_or_id}: {e}") from None
