import pytest
import torch

from llasa._common.errors import ModelLoadError
from llasa.lm import GenerationSettings, LlasaLM, tiny_lm
from llasa.lm.tiny import TinyLMConfig


def test_save_and_load_round_trip(tmp_path, lm):
    lm.save_pretrained(tmp_path / "m")
    assert (tmp_path / "m" / "config.json").is_file()
    assert (tmp_path / "m" / "model.safetensors").is_file()
    back = LlasaLM.from_pretrained(tmp_path / "m", device="cpu")
    assert back.vocab == lm.vocab
    ids = lm.build_prompt("Round trip.")
    assert back.build_prompt("Round trip.") == ids
    x = torch.tensor([ids])
    with torch.inference_mode():
        torch.testing.assert_close(back.model(x).logits, lm.model(x).logits)
    s = GenerationSettings(seed=3, max_new_tokens=12)
    assert back.generate([ids], s)[0][0].codes.tolist() == lm.generate([ids], s)[0][0].codes.tolist()


def test_load_bf16(tmp_path, lm):
    lm.save_pretrained(tmp_path / "m")
    back = LlasaLM.from_pretrained(str(tmp_path / "m"), dtype="bf16", device="cpu")
    assert back.dtype == torch.bfloat16 and back.model.dtype == torch.bfloat16
    [[g]] = back.generate([back.build_prompt("bf16")], GenerationSettings(max_new_tokens=5))
    assert g.num_tokens >= 1 and g.codes.dtype.kind == "i"


def test_missing_or_foreign_models_are_clear_errors(tmp_path, monkeypatch):
    import huggingface_hub.constants

    # huggingface_hub reads HF_HUB_OFFLINE at import: set its switch so no request can leave
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelLoadError, match="does not exist"):
        LlasaLM.from_pretrained(tmp_path / "nope")
    with pytest.raises(ModelLoadError, match="config.json"):
        LlasaLM.from_pretrained(tmp_path)
    with pytest.raises(ModelLoadError, match="hub"):  # offline: a hub id cannot be fetched
        LlasaLM.from_pretrained("llasa-tests/no-such-repo")


def test_tiny_factory_is_seeded_and_configurable():
    a, b = tiny_lm(codebook_size=16, seed=1), tiny_lm(codebook_size=16, seed=1)
    for pa, pb in zip(a.model.parameters(), b.model.parameters()):
        assert torch.equal(pa, pb)
    assert a.vocab.codebook_size == 16 and a.max_context == 2048
    assert a.model.config.tie_word_embeddings
    with pytest.raises(Exception, match="num_heads"):
        TinyLMConfig(hidden_size=30, num_heads=4)
