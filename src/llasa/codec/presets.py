"""Named codec configurations (torchtune-style builders returning an ``Xcodec2Config``).

``full()`` is the released X-codec2 architecture (823 M parameters with a 16-layer w2v-BERT
semantic encoder kept; 240 M without it). ``tiny()`` keeps every structural property that
matters to llasa (16 kHz, hop 320, 4^8 FSQ codes, semantic + acoustic encoders, a transformer
decoder with the ISTFT head) at about 0.6 M parameters, so that tests and toy training run in seconds.
"""

from __future__ import annotations

from transformers import Wav2Vec2BertConfig, Xcodec2Config

from .config import SEMANTIC_LAYER


def full() -> Xcodec2Config:
    """The official X-codec2 network (HKUSTAudio/xcodec2), w2v-BERT 2.0 cut to 16 layers."""
    return Xcodec2Config(semantic_model_config=Wav2Vec2BertConfig(
        num_hidden_layers=SEMANTIC_LAYER).to_dict())


def tiny(hidden_size: int = 64, num_layers: int = 2, semantic_hidden_size: int = 32,
         semantic_layers: int = 2, encoder_hidden_size: int = 4) -> Xcodec2Config:
    """A small codec with the full codec's interface (same codes, same hop, same features).

    Args:
        hidden_size: decoder/acoustic width (multiple of 32 for GroupNorm).
        num_layers: decoder transformer layers.
        semantic_hidden_size: width of the tiny w2v-BERT stand-in.
        semantic_layers: conformer layers of the semantic encoder.
        encoder_hidden_size: first acoustic conv width (doubles at each of the 5 strides).
    """
    heads = max(1, hidden_size // 16)
    semantic = Wav2Vec2BertConfig(
        hidden_size=semantic_hidden_size, num_hidden_layers=semantic_layers,
        num_attention_heads=max(1, semantic_hidden_size // 16),
        intermediate_size=2 * semantic_hidden_size, output_hidden_size=semantic_hidden_size,
        conv_depthwise_kernel_size=5, left_max_position_embeddings=16,
        right_max_position_embeddings=2)
    return Xcodec2Config(
        hidden_size=hidden_size, intermediate_size=2 * hidden_size, num_hidden_layers=num_layers,
        num_attention_heads=heads, num_key_value_heads=heads, head_dim=hidden_size // heads,
        encoder_hidden_size=encoder_hidden_size,
        quantization_dim=hidden_size + semantic_hidden_size,
        semantic_model_config=semantic.to_dict())
