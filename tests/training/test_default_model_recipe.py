"""recipes/default_model.py, the later phases on a toy scale (stages corpus_more, prepare_more,
lm_more, lm_phonemes, lm_guided, corpus_open, prepare_open, decoder_more, lm_open, lm_open2,
lm_open3, corpus_mixed, prepare_mixed, lm_mixed, lm_big): more distinct sentences (none held
out), their codes from the phase-1 codec, the phase-1 LM continued on them, then reading
espeak-ng phonemes, then items without text, then open text beside the templates, and the
decoder again on all three corpora, then new sentences of both styles for phase 8 and a larger
LM from scratch — the wiring the shipped model was made with."""

import argparse
import importlib.util
import json
import shutil
from pathlib import Path

from lm_helpers import cached_prepared

ROOT = Path(__file__).resolve().parents[2]


def _recipe():
    spec = importlib.util.spec_from_file_location("default_model",
                                                  ROOT / "recipes" / "default_model.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_second_phase_stages_continue_the_phase1_lm_on_new_text(speech, tmp_path):
    from llasa.lm.tiny import tiny_lm

    work = tmp_path / "work"
    codec_src = cached_prepared(speech).parent / "codec"  # a tiny codec (256 codes)
    shutil.copytree(codec_src, work / "codec" / "model")
    held = (ROOT / "data" / "sentences" / "heldout.txt").read_text().splitlines()
    (work / "heldout_sentences.txt").write_text("\n".join(held) + "\n")
    phase1 = tiny_lm(codebook_size=256, hidden_size=48, num_layers=1, seed=3)
    phase1.model.save_pretrained(work / "lm" / "model")
    phase1.tokenizer.save_pretrained(work / "lm" / "model")

    recipe = _recipe()
    recipe.main(["--work", str(work), "--stages", "corpus_more,prepare_more,lm_more",
                 "--more-sentences", "400", "--more-utterances", "12", "--more-steps", "2"])

    big = work / "big"
    rows = [json.loads(x) for x in (big / "corpus" / "manifest.jsonl").read_text().splitlines()]
    assert len(rows) == 12 and {r["split"] for r in rows} == {"train"}
    assert {r["speaker"] for r in rows} <= {f"en-us+{v}" for v in ("m1", "edward", "m7")}
    texts = {r["text"] for r in rows}
    assert not texts & set(held)  # held-out sentences never reach training
    assert all(len(t.split()) <= recipe.MAX_WORDS for t in texts)
    assert json.loads((big / "prepared" / "index.json").read_text())["codebook_size"] == 256
    assert recipe._final_lm() == work / "lm_more" / "model"  # what export ships
    cfg = json.loads((work / "lm_more" / "model" / "config.json").read_text())
    assert (cfg["hidden_size"], cfg["num_hidden_layers"]) == (48, 1)  # phase 1's, not a preset
    steps = [r.split(",")[0] for r in
             (work / "lm_more" / "metrics.csv").read_text().splitlines()[1:]]
    assert steps and steps[-1] == "2"

    recipe.main(["--work", str(work), "--stages", "lm_phonemes", "--phoneme-steps", "2"])
    assert recipe._final_lm() == work / "lm_phonemes" / "model"  # the third phase ships
    cfg = json.loads((work / "lm_phonemes" / "model" / "config.json").read_text())
    assert cfg["llasa_text_frontend"] == "espeak:en-us"
    assert (cfg["hidden_size"], cfg["num_hidden_layers"]) == (48, 1)
    from llasa.lm import LlasaLM

    lm = LlasaLM.from_pretrained(work / "lm_phonemes" / "model")
    assert "wˈeɪt" in lm.tokenizer.decode(lm.build_prompt("Please wait here."))

    recipe.main(["--work", str(work), "--stages", "lm_guided", "--guided-steps", "2"])
    assert recipe._final_lm() == work / "lm_guided" / "model"
    cfg = json.loads((work / "lm_guided" / "model" / "config.json").read_text())
    assert cfg["llasa_text_frontend"] == "espeak:en-us"  # inherited from phase 3
    settings = json.loads((work / "lm_guided" / "settings.json").read_text())
    assert settings["data"]["unconditional"] == 0.1

    # the alternative third phase (letters, more steps) is measured, never shipped
    recipe.main(["--work", str(work), "--stages", "lm_more2", "--more2-steps", "2"])
    assert (work / "lm_more2" / "model" / "config.json").is_file()
    assert recipe._final_lm() == work / "lm_guided" / "model"
    assert "llasa_text_frontend" not in json.loads(
        (work / "lm_more2" / "model" / "config.json").read_text())

    # phases 5 and 6: open text (the phrase grammar) beside the template corpus, read as one
    recipe.main(["--work", str(work), "--stages", "corpus_open,prepare_open,lm_open",
                 "--open-sentences", "300", "--open-utterances", "12", "--open-steps", "2"])
    op = work / "open"
    rows = [json.loads(x) for x in (op / "corpus" / "manifest.jsonl").read_text().splitlines()]
    train_texts = {r["text"] for r in rows if r["split"] == "train"}
    held_open = set((op / "sentences" / "heldout.txt").read_text().splitlines())
    assert train_texts and not train_texts & held_open
    assert all(len(t.split()) <= recipe.MAX_OPEN_WORDS for t in train_texts)
    assert not train_texts & texts  # other sentences than the template corpus
    settings = json.loads((work / "lm_open" / "settings.json").read_text())
    assert settings["data"]["train"] == [str(big / "prepared"), str(op / "prepared")]
    assert (work / "lm_open" / "model" / "config.json").is_file()
    assert recipe._final_lm() == work / "lm_guided" / "model"  # phase 5 alone is not shipped
    # the decoder's second phase reads the codes of all three corpora; export then ships it
    shutil.copytree(cached_prepared(speech), work / "prepared")
    assert recipe._final_codec() == work / "codec" / "model"
    recipe.main(["--work", str(work), "--stages", "decoder_more", "--decoder-more-steps", "1"])
    assert recipe._final_codec() == work / "codec_decoder2" / "model"
    assert (work / "codec_decoder2" / "metrics.csv").read_text().splitlines()[0].startswith("1,")
    recipe.main(["--work", str(work), "--stages", "lm_open2", "--open2-steps", "2"])
    assert recipe._final_lm() == work / "lm_open2" / "model"
    settings = json.loads((work / "lm_open2" / "settings.json").read_text())
    assert settings["model"]["init"] == str(work / "lm_open" / "model")
    assert settings["optim"]["lr"] == 5e-4 and len(settings["data"]["train"]) == 2
    cfg = json.loads((work / "lm_open2" / "model" / "config.json").read_text())
    assert cfg["llasa_text_frontend"] == "espeak:en-us"  # inherited through phases 4 and 5
    recipe.main(["--work", str(work), "--stages", "lm_open3", "--open3-steps", "2"])
    assert recipe._final_lm() == work / "lm_open3" / "model"  # phase 7 ships
    settings = json.loads((work / "lm_open3" / "settings.json").read_text())
    assert settings["model"]["init"] == str(work / "lm_open2" / "model")
    assert settings["optim"]["lr"] == 2.5e-4 and len(settings["data"]["train"]) == 2
    steps = argparse.Namespace(open_steps=3, open2_steps=4, open3_steps=5,
                               mixed_steps=6)  # the card's line
    assert recipe._open_phases_line(steps).startswith(" Then 3 + 4 + 5 steps")
    held_rows = [r for r in rows if r["split"] == "eval_text"]
    listed = [json.loads(x) for x in recipe.open_list(4).read_text().splitlines()]
    assert [r["target_text"] for r in listed] == [r["text"] for r in held_rows][:4]
    assert all(r["target_text"] in held_open for r in listed)
    assert all((work / r["reference_wav"]).is_file() for r in listed)

    # phase 8: only sentences no earlier corpus spoke and no held-out list holds
    recipe.main(["--work", str(work), "--stages", "corpus_mixed,prepare_mixed,lm_mixed",
                 "--mixed-sentences", "300", "--mixed-utterances", "12", "--mixed-steps", "2"])
    mixed = work / "open2"
    rows = [json.loads(x) for x in (mixed / "corpus" / "manifest.jsonl").read_text().splitlines()]
    mixed_texts = {r["text"] for r in rows}
    assert len(rows) == 12 and {r["split"] for r in rows} == {"train"}
    assert not mixed_texts & (texts | train_texts)  # unheard by phases 1-7
    assert not mixed_texts & (set(held) | held_open)
    assert not mixed_texts & set((mixed / "sentences" / "heldout.txt").read_text().splitlines())
    assert all(len(t.split()) <= recipe.MAX_OPEN_WORDS for t in mixed_texts)
    settings = json.loads((work / "lm_mixed" / "settings.json").read_text())
    assert settings["model"]["init"] == str(work / "lm_open3" / "model")
    assert settings["data"]["train"] == [str(big / "prepared"), str(op / "prepared"),
                                         str(mixed / "prepared")]
    assert settings["batch_size"] == 32 and settings["optim"]["lr"] == 1e-3
    assert recipe._final_lm() == work / "lm_mixed" / "model"  # phase 8 ships
    line = recipe._open_phases_line(steps)
    assert line.startswith(" Then 3 + 4 + 5 steps") and "Last, 6 steps" in line
    cfg = json.loads((work / "lm_mixed" / "model" / "config.json").read_text())
    assert cfg["llasa_text_frontend"] == "espeak:en-us"
    assert (cfg["hidden_size"], cfg["num_hidden_layers"]) == (48, 1)  # phase 1's shape
    # the larger LM: from scratch, its own shape, phonemes, never shipped
    recipe.main(["--work", str(work), "--stages", "lm_big", "--big-steps", "1"])
    cfg = json.loads((work / "lm_big" / "model" / "config.json").read_text())
    assert (cfg["hidden_size"], cfg["num_hidden_layers"]) == (384, 10)
    assert cfg["llasa_text_frontend"] == "espeak:en-us"
    settings = json.loads((work / "lm_big" / "settings.json").read_text())
    assert settings["model"]["init"] == "tiny" and settings["batch_size"] == 64
    assert settings["data"]["train"] == [str(big / "prepared"), str(op / "prepared")]
    assert recipe._final_lm() == work / "lm_mixed" / "model"
