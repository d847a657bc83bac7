import numpy as np
import pytest

from llasa._common.errors import InputError, ModelLoadError
from llasa.lm.tiny import tiny_tokenizer
from llasa.lm.tokens import ADDED_TOKENS, SpeechVocab, speech_token


def test_vocab_layout_follows_official_order():
    tok = tiny_tokenizer(codebook_size=64, num_reserved_special=16)
    v = SpeechVocab.from_tokenizer(tok)
    base = 256 + 16  # byte tokens + reserved specials, like Llama-3's 128 256
    assert [v.text_gen_start, v.text_gen_end, v.text_start, v.text_end, v.speech_start,
            v.speech_end, v.speech_und_start, v.speech_und_end] == list(range(base, base + 8))
    assert v.speech_offset == base + 8  # officially 128256 + 8 = 128264
    assert v.codebook_size == 64 and v.vocab_size == base + 8 + 64
    for name, tid in zip(ADDED_TOKENS, range(base, base + 8)):
        assert tok.convert_ids_to_tokens(tid) == name


def test_code_id_round_trip_and_checks():
    v = SpeechVocab.from_tokenizer(tiny_tokenizer(codebook_size=64))
    codes = np.array([0, 5, 63])
    ids = v.code_to_id(codes)
    assert ids.tolist() == [v.speech_offset, v.speech_offset + 5, v.speech_offset + 63]
    assert v.id_to_code(ids).tolist() == codes.tolist()
    assert v.is_speech([v.speech_end, v.speech_offset, v.speech_offset + 64]).tolist() == [
        False, True, False]
    with pytest.raises(InputError, match="speech codes"):
        v.code_to_id([64])
    with pytest.raises(InputError, match="not speech tokens"):
        v.id_to_code([v.speech_end])


def test_tokenizer_without_llasa_tokens_is_a_clear_error():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    t = Tokenizer(models.BPE(vocab={c: i for i, c in
                                    enumerate(pre_tokenizers.ByteLevel.alphabet())}, merges=[]))
    plain = PreTrainedTokenizerFast(tokenizer_object=t)
    with pytest.raises(ModelLoadError, match="TEXT_GENERATION_START"):
        SpeechVocab.from_tokenizer(plain)
    plain.add_tokens(list(ADDED_TOKENS))
    with pytest.raises(ModelLoadError, match="speech tokens"):
        SpeechVocab.from_tokenizer(plain)
    # a gap inside the speech block is caught
    plain.add_tokens([speech_token(k) for k in range(10)] + ["<|junk|>"] +
                     [speech_token(k) for k in range(10, 20)])
    with pytest.raises(ModelLoadError, match="not contiguous"):
        SpeechVocab.from_tokenizer(plain)
