"""Manifests from JSONL, CSV and folders with sidecar transcripts."""

import json

import pytest

from llasa._common.errors import InputError
from llasa.training.data.manifest import ManifestEntry, read_manifest, write_manifest


def test_jsonl_relative_paths_and_extra_keys(tmp_path):
    m = tmp_path / "m.jsonl"
    m.write_text(json.dumps({"path": "a/x.wav", "transcript": "Hi.", "spk": "s1", "lang": "en"})
                 + "\n\n" + json.dumps({"audio": "/abs/y.flac", "text": " Yo ", "split": "train"})
                 + "\n")
    e = read_manifest(m)
    assert e[0].audio == str((tmp_path / "a/x.wav").resolve())
    assert (e[0].text, e[0].speaker, e[0].extra) == ("Hi.", "s1", {"lang": "en"})
    assert (e[1].audio, e[1].text, e[1].speaker, e[1].split) == ("/abs/y.flac", "Yo", None, "train")
    # round trip: written relative to the new file's folder, read back to the same entries
    out = write_manifest(tmp_path / "sub" / "copy.jsonl", e)
    back = read_manifest(out)
    assert [(x.audio, x.text, x.speaker, x.split) for x in back] == \
        [(x.audio, x.text, x.speaker, x.split) for x in e]
    # outside the manifest's folder: absolute; inside it: relative (the folder can move)
    assert json.loads(out.read_text().splitlines()[0])["audio"] == e[0].audio
    out2 = write_manifest(tmp_path / "copy.jsonl", e)
    assert json.loads(out2.read_text().splitlines()[0])["audio"] == "a/x.wav"


def test_csv(tmp_path):
    m = tmp_path / "m.csv"
    m.write_text('audio,text,speaker\nclip.wav,"Hello, world.",bob\n')
    (e,) = read_manifest(m)
    assert (e.text, e.speaker) == ("Hello, world.", "bob")


def test_folder_with_sidecars(tmp_path):
    (tmp_path / "spk1").mkdir()
    (tmp_path / "spk1" / "a.wav").write_bytes(b"x")
    (tmp_path / "spk1" / "a.txt").write_text("Alpha.\n")
    (tmp_path / "b.flac").write_bytes(b"x")
    (tmp_path / "b.lab").write_text("Beta.")
    (tmp_path / "c.wav").write_bytes(b"x")  # no transcript: ignored
    e = read_manifest(tmp_path)
    assert [(x.text, x.speaker) for x in e] == [("Beta.", None), ("Alpha.", "spk1")]


@pytest.mark.parametrize("content, match", [
    ('{"text": "no audio"}\n', "no audio path"),
    ('{"audio": "a.wav"}\n', "no transcript"),
    ("not json\n", "not valid JSON"),
    ("\n", "no utterances"),
])
def test_errors(tmp_path, content, match):
    m = tmp_path / "m.jsonl"
    m.write_text(content)
    with pytest.raises(InputError, match=match):
        read_manifest(m)


def test_missing(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_manifest(tmp_path / "nope.jsonl")
    assert ManifestEntry("a", "b").to_json() == {"audio": "a", "text": "b"}
