"""Build the official ``xcodec2==0.1.5`` model offline, for parity tests and the benchmark only.

The package cannot be imported as is here (see ../shared/reference/dependencies.md): it imports
torchaudio (unused; no wheel loads with torch 2.13), torchtune's RotaryPositionalEmbeddings
(torchtune does not import beside current torchao), and downloads facebook/w2v-bert-2.0 in its
constructor. This module installs test-only stand-ins for those three and builds the official
network with seeded random weights, skipping the slow random init (823 M parameters).

Nothing in ``src/llasa`` imports this file.
"""

from __future__ import annotations

import contextlib
import sys
import types

import numpy as np
import torch


class _TorchtuneRoPE(torch.nn.Module):
    """Stand-in for torchtune 0.3's RotaryPositionalEmbeddings, same math (interleaved pairs).

    torchtune expects x as [b, s, n_h, d] and rotates by position along axis 1. xcodec2 passes
    [b, h, t, d], so the angle depends on the head index: we keep that quirk on purpose.
    """

    def __init__(self, dim: int, max_seq_len: int = 4096, base: int = 10_000):
        super().__init__()
        theta = 1.0 / (base ** (torch.arange(0, dim, 2)[: dim // 2].float() / dim))
        idx = torch.outer(torch.arange(max_seq_len, dtype=theta.dtype), theta)
        self.register_buffer("cache", torch.stack([idx.cos(), idx.sin()], dim=-1),
                             persistent=False)

    def forward(self, x: torch.Tensor, *, input_pos=None) -> torch.Tensor:
        seq_len = x.size(1)
        rope = self.cache[:seq_len]
        xs = x.float().reshape(*x.shape[:-1], -1, 2)  # [b, s, n, d/2, 2]
        rope = rope.view(-1, xs.size(1), 1, xs.size(3), 2)
        out = torch.stack([xs[..., 0] * rope[..., 0] - xs[..., 1] * rope[..., 1],
                           xs[..., 1] * rope[..., 0] + xs[..., 0] * rope[..., 1]], -1)
        return out.flatten(3).type_as(x)


def w2v_bert_feature_extractor():
    """facebook/w2v-bert-2.0's preprocessor_config.json, built offline."""
    from transformers import SeamlessM4TFeatureExtractor

    return SeamlessM4TFeatureExtractor(feature_size=80, num_mel_bins=80, sampling_rate=16000,
                                       stride=2, padding_value=1.0, return_attention_mask=True)


def install_stand_ins() -> None:
    """Make ``import xcodec2.modeling_xcodec2`` work offline with torch 2.13."""
    import transformers  # noqa: F401 - must come before the torchaudio stand-in

    if "torchaudio" not in sys.modules:
        sys.modules["torchaudio"] = types.ModuleType("torchaudio")
    if "torchtune" not in sys.modules:
        tt = types.ModuleType("torchtune")
        mods = types.ModuleType("torchtune.modules")
        mods.RotaryPositionalEmbeddings = _TorchtuneRoPE
        tt.modules = mods
        sys.modules["torchtune"] = tt
        sys.modules["torchtune.modules"] = mods


def official_available() -> bool:
    try:
        install_stand_ins()
        import einx  # noqa: F401
        import vector_quantize_pytorch  # noqa: F401
        import xcodec2.modeling_xcodec2  # noqa: F401
    except Exception:  # noqa: BLE001 - any import failure means "not installed here"
        return False
    return True


@contextlib.contextmanager
def _skip_init():
    """Make nn.init a no-op while constructing (weights are filled afterwards)."""
    names = ["uniform_", "normal_", "trunc_normal_", "kaiming_uniform_", "kaiming_normal_",
             "xavier_uniform_", "xavier_normal_", "constant_", "zeros_", "ones_", "orthogonal_"]
    saved = {n: getattr(torch.nn.init, n) for n in names}
    try:
        for n in names:
            setattr(torch.nn.init, n, lambda t, *a, **k: t)
        yield
    finally:
        for n, f in saved.items():
            setattr(torch.nn.init, n, f)


def _fill_(model: torch.nn.Module, seed: int) -> None:
    """Seeded weights that keep activations in a sane range through 24 + 12 layers."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            leaf = name.rsplit(".", 1)[-1]
            if leaf in ("alpha", "bias") and ".act." in name:  # SnakeBeta log-scale params
                p.copy_(torch.randn(p.shape, generator=g) * 0.3)
            elif p.ndim == 1 and ("norm" in name or "layer_norm" in name) and leaf == "weight":
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            elif p.ndim == 1 or leaf == "original0":  # biases and weight-norm gains
                p.copy_(0.05 * torch.randn(p.shape, generator=g))
                if leaf == "original0":
                    p.abs_().add_(0.5)
            else:
                fan_in = int(np.prod(p.shape[1:]))
                p.copy_(torch.randn(p.shape, generator=g) / np.sqrt(fan_in))


def build_official(seed: int = 0, semantic_config=None):
    """The official XCodec2Model (full size) with seeded random weights, in eval mode."""
    install_stand_ins()
    from transformers import Wav2Vec2BertConfig, Wav2Vec2BertModel
    from xcodec2 import modeling_xcodec2 as om
    from xcodec2.configuration_bigcodec import BigCodecConfig

    class _W2V:
        @staticmethod
        def from_pretrained(*a, **k):  # the hub model's config equals the defaults
            cfg = semantic_config or Wav2Vec2BertConfig()
            cfg.update({k2: v for k2, v in k.items() if hasattr(cfg, k2)})  # output_hidden_states
            return Wav2Vec2BertModel(cfg)

    class _FE:
        @staticmethod
        def from_pretrained(*a, **k):
            return w2v_bert_feature_extractor()

    saved = om.Wav2Vec2BertModel, om.AutoFeatureExtractor
    om.Wav2Vec2BertModel, om.AutoFeatureExtractor = _W2V, _FE
    try:
        with _skip_init():
            model = om.XCodec2Model(BigCodecConfig())
    finally:
        om.Wav2Vec2BertModel, om.AutoFeatureExtractor = saved
    _fill_(model, seed)
    return model.eval()


def original_state_dict(model, weight_norm: str = "legacy") -> dict[str, torch.Tensor]:
    """The official model's weights as the released checkpoint stores them.

    Args:
        weight_norm: "legacy" writes ``weight_g``/``weight_v`` and ``act.beta`` (the released
            ``model.safetensors``); "parametrizations" keeps the package's own names
            (``parametrizations.weight.original0/1`` and ``act.bias``).
    """
    sd = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    if weight_norm == "parametrizations":
        return sd
    out = {}
    for k, v in sd.items():
        k = k.replace(".parametrizations.weight.original0", ".weight_g")
        k = k.replace(".parametrizations.weight.original1", ".weight_v")
        if k.endswith(".act.bias"):
            k = k[: -len("bias")] + "beta"
        out[k] = v
    return out


def build_official_tiny(seed: int = 0):
    """The official XCodec2Model assembled from the package's own modules at a tiny size.

    XCodec2Model hard-codes full widths in ``__init__``, so the instance is assembled from
    ``CodecEncoder_Transformer``, ``CodecDecoderVocos`` and ``SemanticEncoder`` with small
    arguments (decoder width 128, 2 heads of 64, 2 layers; acoustic ngf 4; a 17-layer w2v-BERT
    of width 32, so that ``hidden_states[16]`` exists).
    """
    install_stand_ins()
    from transformers import PreTrainedModel, Wav2Vec2BertConfig, Wav2Vec2BertModel
    from xcodec2 import modeling_xcodec2 as om
    from xcodec2.configuration_bigcodec import BigCodecConfig
    from xcodec2.vq.codec_decoder_vocos import CodecDecoderVocos
    from xcodec2.vq.codec_encoder import CodecEncoder_Transformer
    from xcodec2.vq.module import SemanticEncoder

    torch.manual_seed(seed)
    sem_cfg = Wav2Vec2BertConfig(hidden_size=32, num_hidden_layers=17, num_attention_heads=2,
                                 intermediate_size=64, output_hidden_size=32,
                                 conv_depthwise_kernel_size=5, left_max_position_embeddings=16,
                                 right_max_position_embeddings=2, output_hidden_states=True)
    m = om.XCodec2Model.__new__(om.XCodec2Model)
    PreTrainedModel.__init__(m, BigCodecConfig())
    with _skip_init():
        m.semantic_model = Wav2Vec2BertModel(sem_cfg)
        m.SemanticEncoder_module = SemanticEncoder(32, 32, 32)
        m.CodecEnc = CodecEncoder_Transformer(ngf=4, hidden_dim=128)
        # head dim 64 as released (original checkpoints do not store the head count)
        m.generator = CodecDecoderVocos(hidden_dim=128, depth=2, heads=2, pos_meb_dim=64,
                                        vq_dim=160)
        m.fc_prior = torch.nn.Linear(160, 160)
        m.fc_post_a = torch.nn.Linear(160, 128)
    m.feature_extractor = w2v_bert_feature_extractor()
    _fill_(m, seed)
    return m.eval()
