"""Tiny random transformers checkpoints (built offline) for the hub-grade verifier plumbing."""

from __future__ import annotations

from pathlib import Path


def tiny_whisper(path: Path, seed: int = 0) -> Path:
    """Save a random 2-layer Whisper with a byte-level tokenizer and processor to ``path``."""
    import torch
    from transformers import (GenerationConfig, WhisperConfig, WhisperFeatureExtractor,
                              WhisperForConditionalGeneration, WhisperProcessor, WhisperTokenizer)

    # Byte-level BPE alphabet: the 256 printable stand-ins GPT-2 uses, no merges.
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    vocab = {chr(c): i for i, c in enumerate(cs)}
    specials = ["<|endoftext|>", "<|startoftranscript|>", "<|en|>", "<|transcribe|>",
                "<|notimestamps|>"]
    for s in specials:
        vocab[s] = len(vocab)
    tok = WhisperTokenizer(vocab=vocab, merges=[])
    tok.add_special_tokens({"additional_special_tokens": specials[1:]})
    ids = {s: vocab[s] for s in specials}
    cfg = WhisperConfig(vocab_size=len(vocab), d_model=32, encoder_layers=1, decoder_layers=1,
                        encoder_attention_heads=2, decoder_attention_heads=2,
                        encoder_ffn_dim=64, decoder_ffn_dim=64, num_mel_bins=80,
                        max_source_positions=1500, max_target_positions=64,
                        pad_token_id=ids["<|endoftext|>"], bos_token_id=ids["<|endoftext|>"],
                        eos_token_id=ids["<|endoftext|>"],
                        decoder_start_token_id=ids["<|startoftranscript|>"])
    torch.manual_seed(seed)
    model = WhisperForConditionalGeneration(cfg).eval()
    model.generation_config = GenerationConfig(
        decoder_start_token_id=cfg.decoder_start_token_id, eos_token_id=cfg.eos_token_id,
        pad_token_id=cfg.pad_token_id, no_timestamps_token_id=ids["<|notimestamps|>"],
        forced_decoder_ids=None, max_length=64)
    model.save_pretrained(path)
    WhisperProcessor(feature_extractor=WhisperFeatureExtractor(), tokenizer=tok).save_pretrained(path)
    return path


def tiny_wavlm(path: Path, feat_extract_norm: str = "group", seed: int = 0) -> Path:
    """Save a random tiny ``WavLMForXVector`` + feature extractor to ``path``."""
    import torch
    from transformers import Wav2Vec2FeatureExtractor, WavLMConfig, WavLMForXVector

    cfg = WavLMConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                      intermediate_size=64, conv_dim=(16, 16, 16), conv_stride=(5, 4, 4),
                      conv_kernel=(10, 8, 8), num_conv_pos_embeddings=16,
                      num_conv_pos_embedding_groups=4, feat_extract_norm=feat_extract_norm,
                      do_stable_layer_norm=feat_extract_norm == "layer",
                      tdnn_dim=(16, 16, 32), tdnn_kernel=(5, 3, 1), tdnn_dilation=(1, 2, 1),
                      xvector_output_dim=24, num_buckets=32, max_bucket_distance=64)
    torch.manual_seed(seed)
    WavLMForXVector(cfg).eval().save_pretrained(path)
    Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0,
                             do_normalize=True,
                             return_attention_mask=feat_extract_norm == "layer").save_pretrained(path)
    return path
