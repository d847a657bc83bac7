import json

import numpy as np
import pytest

from llasa._common.errors import InputError
from llasa.tts.voices import (Voice, VoiceRegistry, check_voice_name, default_voices_dir,
                              resolve_voice)


def _voice(n=40, text="Hello there."):
    rng = np.random.default_rng(0)
    return Voice(text=text, codes=rng.integers(0, 256, n), audio=rng.standard_normal(n * 320)
                 .astype(np.float32) * 0.1, codebook_size=256)


def test_voice_validates_fields():
    with pytest.raises(InputError, match="empty"):
        _voice(text="  ")
    with pytest.raises(InputError, match="outside"):
        Voice(text="a", codes=np.array([0, 256]), audio=np.zeros(640), codebook_size=256)
    with pytest.raises(InputError, match="1-D integer"):
        Voice(text="a", codes=np.zeros((2, 2), np.int64), audio=np.zeros(640), codebook_size=4)
    with pytest.raises(InputError, match="1-D integer"):
        Voice(text="a", codes=np.array([0.5]), audio=np.zeros(640), codebook_size=4)


def test_voice_save_load_roundtrip(tmp_path):
    v = _voice()
    p = v.save(tmp_path / "sub" / "v.npz")
    w = Voice.load(p)
    assert w.text == v.text and w.codebook_size == 256
    np.testing.assert_array_equal(w.codes, v.codes)
    np.testing.assert_array_equal(w.audio, v.audio)
    assert w.codes.dtype == np.int64 and w.audio.dtype == np.float32
    assert not list((tmp_path / "sub").glob("*.tmp"))


def test_voice_load_refuses_other_files_and_newer_versions(tmp_path):
    with pytest.raises(InputError, match="not found"):
        Voice.load(tmp_path / "missing.npz")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(InputError, match="not a llasa voice"):
        Voice.load(junk)
    other = tmp_path / "other.npz"
    np.savez(other, x=np.zeros(3))
    with pytest.raises(InputError, match="not a llasa voice"):
        Voice.load(other)
    newer = tmp_path / "newer.npz"
    hdr = {"format": "llasa-voice", "version": 99, "text": "a", "codebook_size": 4}
    np.savez(newer, header=np.frombuffer(json.dumps(hdr).encode(), np.uint8),
             codes=np.zeros(2, np.int64), audio=np.zeros(640, np.float32))
    with pytest.raises(InputError, match="version 99"):
        Voice.load(newer)


@pytest.mark.parametrize("name", ["", "../x", "a/b", ".hidden", "-x", "a b", "x" * 65, "é",
                                  "abc\n", "abc\r\n", "a\nb"])  # "$" matched before "\n"
def test_bad_voice_names(name):
    with pytest.raises(InputError, match="bad voice name"):
        check_voice_name(name)


def test_registry_add_get_list_delete(tmp_path):
    reg = VoiceRegistry(tmp_path / "voices")
    assert reg.list() == []
    reg.add("alice", _voice(text="Alice speaking."))
    reg.add("bob_2", _voice(text="Bob speaking."))
    assert reg.list() == ["alice", "bob_2"]
    assert reg.get("alice").text == "Alice speaking."
    with pytest.raises(InputError, match="already exists"):
        reg.add("alice", _voice())
    reg.add("alice", _voice(text="New alice."), overwrite=True)
    assert reg.get("alice").text == "New alice."
    with pytest.raises(InputError, match="known: alice, bob_2"):
        reg.get("carol")
    reg.delete("bob_2")
    assert reg.list() == ["alice"]
    with pytest.raises(InputError, match="no voice named"):
        reg.delete("bob_2")
    with pytest.raises(InputError, match="bad voice name"):
        reg.get("../alice")


def test_resolve_voice_by_name_or_file(tmp_path, monkeypatch):
    monkeypatch.setenv("LLASA_VOICES_DIR", str(tmp_path / "reg"))
    assert default_voices_dir() == tmp_path / "reg"
    VoiceRegistry().add("carol", _voice(text="Carol."))
    assert resolve_voice("carol").text == "Carol."
    f = _voice(text="From file.").save(tmp_path / "f.npz")
    assert resolve_voice(str(f)).text == "From file."
    with pytest.raises(InputError, match="not found"):
        resolve_voice(str(tmp_path / "nope.npz"))
