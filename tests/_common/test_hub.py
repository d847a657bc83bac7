"""weights_fingerprint: what makes a resumed evaluation refuse another model's folder."""

import shutil

import numpy as np

from llasa._common.hub import weights_fingerprint


def test_fingerprint_follows_the_weights_not_the_folder(tmp_path):
    a = tmp_path / "a"
    a.mkdir()
    rng = np.random.default_rng(0)
    (a / "model.safetensors").write_bytes(rng.bytes(5 * 2**20))  # several samples apart
    (a / "config.json").write_text("{}")
    b = tmp_path / "b"
    shutil.copytree(a, b)
    assert weights_fingerprint(a) == weights_fingerprint(b)  # same bytes elsewhere: same id
    (b / "config.json").write_text('{"x": 1}')  # not a weight file
    assert weights_fingerprint(a) == weights_fingerprint(b)
    data = bytearray((b / "model.safetensors").read_bytes())
    data[len(data) // 2] ^= 0xFF  # one byte in the middle, as retraining would change
    (b / "model.safetensors").write_bytes(bytes(data))
    assert weights_fingerprint(a) != weights_fingerprint(b)


def test_fingerprint_of_hub_ids_and_the_default(tmp_path):
    assert weights_fingerprint("HKUSTAudio/Llasa-1B") == "id:HKUSTAudio/Llasa-1B"
    (tmp_path / "model.safetensors").write_bytes(b"\0" * 10)
    assert weights_fingerprint(None, tmp_path) == weights_fingerprint(tmp_path)


def test_hub_errors_fit_on_one_line(monkeypatch):
    """Offline and missing repos: huggingface_hub's messages span lines; ours must not."""
    import pytest

    from llasa._common.errors import ModelLoadError
    from llasa._common.hub import resolve

    import huggingface_hub.constants

    # huggingface_hub reads HF_HUB_OFFLINE at import: set its switch so no request can leave
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelLoadError) as e:
        resolve("llasa-tests/no-such-repo")
    assert "\n" not in str(e.value) and "no-such-repo" in str(e.value)
