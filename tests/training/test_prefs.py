"""Preference data and training on a tiny real LM + codec with the real resemblyzer verifier
and espeak-ng voices: pairs are the best and worst by reward, data resumes exactly, DPO grows
the chosen/rejected margin, SFT on the best candidates raises their likelihood, GRPO samples
groups and trains, LoRA works, a run killed with
SIGKILL resumes to the uninterrupted run's weights, and bad inputs fail clearly."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import load_file

from llasa._common.errors import InputError
from llasa.training.prefs_data import (PrefDataSettings, load_items, make_preferences,
                                       search_config)

ROOT = Path(__file__).resolve().parents[2]
TEXTS = ["Hello there.", "The cat sat on the mat.", "Please call me.", "Green apples.",
         "We walked home.", "Birds sing."]


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):  # tests/conftest.py
    yield


@pytest.fixture(scope="module")
def world(tmp_path_factory, speech):
    """A saved tiny LM (256 codes) + codec, a voice prompt and a preference folder."""
    import soundfile as sf

    from llasa.lm.tiny import tiny_lm
    from llasa.tts import Llasa
    from lm_helpers import tiny_codec

    root = tmp_path_factory.mktemp("prefs")
    lm, codec = tiny_lm(codebook_size=256, seed=0), tiny_codec()
    lm.save_pretrained(root / "lm")
    codec.save_pretrained(root / "codec")
    sf.write(root / "voice.wav", speech("This is my voice.", voice="en-us"), 16000)
    rows = [{"utt": f"u{i}", "text": t, "prompt_wav": "voice.wav",
             "prompt_text": "This is my voice."} for i, t in enumerate(TEXTS)]
    (root / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    s = _data_settings(root, "data")
    tts = Llasa(lm, codec)
    with contextlib.chdir(root):  # a relative list, as typed in its folder; GRPO runs elsewhere
        items = load_items("items.jsonl")
    index = make_preferences(items, s, tts=tts)
    return {"root": root, "tts": tts, "index": index, "settings": s}


def _data_settings(root, name, **kw):
    return PrefDataSettings(out_dir=str(root / name), lm=str(root / "lm"),
                            codec=str(root / "codec"), search="best-of-n:4", reward="sim",
                            margin=0.0, seed=0, shard_items=4,
                            sampling={"max_new_tokens": 16}, **kw)


def test_pairs_are_best_and_worst_by_reward(world):
    from llasa.training.prefs import PreferenceData

    idx = world["index"]
    assert idx["complete"] and (idx["items"], idx["candidates"]) == (6, 24)
    metas = [json.loads((world["root"] / "data" / n / "meta.json").read_text())
             for n in idx["shards"]]
    tokens = sum(c["tokens"] for m in metas for c in m["candidates"])
    assert idx["lm_tokens"] == tokens <= 24 * 16 and idx["verifier_clips"] == 24
    assert idx["verifier_seconds"] > 0
    d = PreferenceData(world["root"] / "data")
    assert len(d.pairs) == idx["pairs"] >= 5
    for c, r in d.pairs:
        item = d.cand_item[c]
        assert d.cand_item[r] == item
        mine = d.reward[d.cand_item == item]
        assert d.reward[c] == mine.max() and d.reward[r] == mine.min()
    assert len(d.prompts) == 6 and all(len(p) > 0 for p in d.prompts)
    many = d.best_vs_rest(0.0)
    assert len(many) == 6 * 3  # each item's best against its 3 other candidates
    for c, r in many:
        assert c != r and d.reward[c] == d.reward[d.cand_item == d.cand_item[c]].max()


def test_items_keep_absolute_prompt_paths(world):
    meta = json.loads((world["root"] / "data" / world["index"]["shards"][0] / "meta.json")
                      .read_text())
    wav = Path(meta["items"][0]["prompt_wav"])
    assert wav.is_absolute() and wav.is_file() and wav.parent == world["root"].resolve()


def test_data_resumes_exactly_and_guards_its_plan(world):
    import shutil

    root = world["root"]
    src = root / "data"
    copy = root / "data_copy"
    shutil.copytree(src, copy)
    shutil.rmtree(copy / "shard-00001")  # as if killed before the second shard
    s = _data_settings(root, "data_copy")
    make_preferences(load_items(root / "items.jsonl"), s, tts=world["tts"])
    for name in ("codes", "reward", "pairs", "prompt_ids"):
        np.testing.assert_array_equal(np.load(copy / "shard-00001" / f"{name}.npy"),
                                      np.load(src / "shard-00001" / f"{name}.npy"))
    bad = _data_settings(root, "data_copy")
    bad.margin = 0.5
    with pytest.raises(InputError, match="other settings.*margin"):
        make_preferences(load_items(root / "items.jsonl"), bad, tts=world["tts"])


def test_parallel_workers_write_what_a_serial_run_writes(world):
    from llasa._common.errors import LlasaError

    root = world["root"]
    s = _data_settings(root, "data_par", workers=2)  # 2 shards: one per worker
    index = make_preferences(load_items(root / "items.jsonl"), s)
    assert index["complete"] and index["shards"] == world["index"]["shards"]
    for shard in index["shards"]:
        got, want = (lambda n: np.load(root / "data_par" / shard / f"{n}.npy"),
                     lambda n: np.load(root / "data" / shard / f"{n}.npy"))
        for name in ("codes", "code_offsets", "ended", "pairs", "prompt_ids"):
            np.testing.assert_array_equal(got(name), want(name))
        # the same candidates; SIM's float sums may differ in the last digit across processes
        np.testing.assert_allclose(got("reward"), want("reward"), atol=1e-5)
    bad = _data_settings(root, "data_bad", workers=2)
    bad.lm = str(root / "no-such-lm")
    with pytest.raises(LlasaError, match="worker failed.*resume"):
        make_preferences(load_items(root / "items.jsonl"), bad)
    with pytest.raises(InputError, match="workers"):
        _data_settings(root, "x", workers=0)


def _train(world, name, **kw):
    from llasa.training.prefs import train_prefs
    from llasa.training.prefs_config import load_recipe

    over = {"preset": "tiny", "data": str(world["root"] / "data"),
            "init": str(world["root"] / "lm"), "output_dir": str(world["root"] / name)}
    over.update(kw)
    return train_prefs(load_recipe(None, **over))


def _margins(world, run: str, many: bool = False) -> np.ndarray:
    """(π_c - ref_c) - (π_r - ref_r) of every pair under the trained model."""
    from transformers import LlamaForCausalLM

    from llasa.training.prefs import PairCollator, PairDataset, PreferenceData, token_logps
    from llasa.lm.tokens import SpeechVocab
    from transformers import AutoTokenizer

    out = world["root"] / run
    tok = AutoTokenizer.from_pretrained(str(out / "model"))
    model = LlamaForCausalLM.from_pretrained(str(out / "model")).eval()
    eot = tok.convert_tokens_to_ids("<|eot_id|>")
    data = PreferenceData(world["root"] / "data")
    if many:
        data.pairs = data.best_vs_rest(0.0)
    ds = PairDataset(data, SpeechVocab.from_tokenizer(tok), eot)
    ref = np.load(out / "ref_logps.npy")
    with torch.no_grad():
        lp, _ = token_logps(model, PairCollator(tok.pad_token_id or eot)(
            [ds[k] for k in range(len(ds))]))
    tot = lp.sum(-1).double().numpy()
    n = len(ds)
    return (tot[:n] - ref[:, 0]) - (tot[n:] - ref[:, 1])


def test_dpo_grows_the_chosen_rejected_margin(world):
    summary = _train(world, "dpo")
    assert summary["step"] == 6 and summary["method"] == "dpo"
    assert summary["first"]["margin"] == pytest.approx(0.0, abs=1e-4)  # policy == reference
    m = _margins(world, "dpo")
    assert m.mean() > 0.5 and (m > 0).all(), m
    rows = (world["root"] / "dpo" / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("step,loss,margin,accuracy") and len(rows) == 7
    assert (world["root"] / "dpo" / "loss.png").is_file()


def test_dpo_lora_trains_adapters_and_saves_a_merged_model(world):
    summary = _train(world, "dpo_lora", lora={"enabled": True, "r": 4, "alpha": 16,
                                              "dropout": 0.0}, optim={"lr": 2e-2},
                     pairs="best-vs-rest", sft_weight=0.5)
    assert summary["pairs"] == 18
    saved = load_file(world["root"] / "dpo_lora" / "adapter" / "adapter_model.safetensors")
    assert saved and all("lora_" in k for k in saved)
    assert _margins(world, "dpo_lora", many=True).mean() > 0
    assert Path(summary["output"]).name == "model"


def test_sft_raises_the_best_candidates_likelihood(world):
    """Rejection-sampling fine-tuning: one sequence per item, its best candidate by reward,
    and the trained model gives those sequences a higher log-prob than the initial one."""
    from transformers import AutoTokenizer, LlamaForCausalLM

    from llasa.lm.tokens import SpeechVocab
    from llasa.training.prefs import PreferenceData, token_logps
    from llasa.training.prefs_sft import BestDataset, SeqCollator

    summary = _train(world, "sft", method="sft")
    assert summary["method"] == "sft" and summary["step"] == 6
    data = PreferenceData(world["root"] / "data")
    best = data.best_candidates()
    assert summary["sequences"] == len(TEXTS) == len(best)
    for c in best:  # each is its item's highest reward
        assert data.reward[c] == data.reward[data.cand_item == data.cand_item[c]].max()

    def mean_logp(path):
        tok = AutoTokenizer.from_pretrained(str(path))
        model = LlamaForCausalLM.from_pretrained(str(path)).eval()
        eot = tok.convert_tokens_to_ids("<|eot_id|>")
        ds = BestDataset(data, SpeechVocab.from_tokenizer(tok), eot)
        with torch.no_grad():
            lp, mask = token_logps(model, SeqCollator(tok.pad_token_id or eot)(
                [ds[k] for k in range(len(ds))]))
        return (lp.sum(-1) / mask.sum(-1)).numpy()

    before, after = mean_logp(world["root"] / "lm"), mean_logp(world["root"] / "sft" / "model")
    assert (after > before).all(), (before, after)
    rows = (world["root"] / "sft" / "metrics.csv").read_text().splitlines()
    assert len(rows) == 7 and "chosen_logp" in rows[0]


def test_grpo_samples_groups_scores_audio_and_trains(world):
    summary = _train(world, "grpo", method="grpo", max_steps=2, batch_size=2,
                     grpo={"group_size": 3, "kl_beta": 0.04})
    assert summary["step"] == 2
    rows = [dict(zip(*[r.split(",") for r in (h, x)])) for h in
            [(world["root"] / "grpo" / "metrics.csv").read_text().splitlines()[0]]
            for x in (world["root"] / "grpo" / "metrics.csv").read_text().splitlines()[1:]]
    assert len(rows) == 2 and all(0 < float(r["reward"]) <= 1 for r in rows)
    assert float(rows[0]["kl"]) == pytest.approx(0.0, abs=1e-6)  # first step: policy == ref
    a = load_file(world["root"] / "lm" / "model.safetensors")
    b = load_file(world["root"] / "grpo" / "model" / "model.safetensors")
    assert any(not torch.equal(a[k].float(), b[k].float()) for k in a)


def _cli(cfg: Path) -> subprocess.Popen:
    env = {**os.environ, "LLASA_QUIET": "1", "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen([sys.executable, "-m", "llasa.cli.main", "train", "prefs",
                             "--config", str(cfg)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT)


def test_resume_after_sigkill_equals_uninterrupted_run(world, tmp_path):
    def recipe(name):
        cfg = {"preset": "tiny", "data": str(world["root"] / "data"),
               "init": str(world["root"] / "lm"), "output_dir": str(tmp_path / name),
               "max_steps": 40, "save_every": 5, "batch_size": 1}
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(cfg))
        return path

    ref = _cli(recipe("ref"))
    p = _cli(recipe("run"))
    state = tmp_path / "run" / "checkpoints" / "checkpoint-5" / "trainer_state.json"
    deadline = time.time() + 300
    while p.poll() is None and time.time() < deadline:
        try:
            json.loads(state.read_text())
            break
        except (OSError, ValueError):
            time.sleep(0.02)
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert state.is_file(), p.stdout.read()[-3000:]
    assert not (tmp_path / "run" / "model").exists(), "killed too late: the run had finished"
    out, _ = ref.communicate(timeout=600)
    assert ref.returncode == 0, out[-3000:]
    again = _cli(recipe("run"))
    out, _ = again.communicate(timeout=600)
    assert again.returncode == 0, out[-3000:]
    summary = json.loads(out[out.index('{\n  "method"'):])
    assert summary["resumed_from"] >= 5 and summary["step"] == 40
    a = load_file(tmp_path / "ref" / "model" / "model.safetensors")
    b = load_file(tmp_path / "run" / "model" / "model.safetensors")
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=0, atol=1e-6, msg=k)
    ra = (tmp_path / "ref" / "metrics.csv").read_text().splitlines()
    rb = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rb] == [r.split(",")[0] for r in ra]


# ---- bad inputs ---------------------------------------------------------------------------
@pytest.mark.parametrize("line, match", [
    ('{"text": ""}', "empty text"),
    ('{"text": "Hi.", "colour": 1}', "unknown key"),
    ('{"text": "Hi.", "prompt_wav": "voice.wav"}', "go together"),
    ('{"text": "Hi.", "prompt_wav": "nope.wav", "prompt_text": "x"}', "not found"),
    ('not json', "line 1: not JSON"),
    ('[1, 2]', "JSON object"),
])
def test_bad_item_lines_name_file_and_line(tmp_path, line, match):
    (tmp_path / "voice.wav").write_bytes(b"")
    path = tmp_path / "items.jsonl"
    path.write_text(line + "\n")
    with pytest.raises(InputError, match=match):
        load_items(path)


def test_bad_inputs(tmp_path):
    path = tmp_path / "items.jsonl"
    path.write_text('{"utt": "a", "text": "Hi."}\n{"utt": "a", "text": "Ho."}\n')
    with pytest.raises(InputError, match="duplicate utt"):
        load_items(path)
    with pytest.raises(InputError, match="either"):
        load_items(path, texts=path)
    with pytest.raises(InputError, match="not found"):
        load_items(texts=tmp_path / "none.txt")
    (tmp_path / "t.txt").write_text("One.\nTwo.\n")
    assert [i.text for i in load_items(texts=tmp_path / "t.txt")] == ["One.", "Two."]
    with pytest.raises(InputError, match="best-of-n:N or beam"):
        search_config("hybrid:2x2x25:1.0:4", "wer")
    assert search_config("beam:2x2x10", "wer").verifiers == ("wer",)
    with pytest.raises(InputError, match="margin"):
        PrefDataSettings(margin=-1)
    from llasa.training.prefs import PreferenceData
    from llasa.training.prefs_config import PrefTrainSettings

    with pytest.raises(InputError, match="not a preference folder"):
        PreferenceData(tmp_path)
    with pytest.raises(InputError, match="method"):
        PrefTrainSettings(method="ppo")


def test_dpo_refuses_a_folder_without_pairs(world, tmp_path):
    s = _data_settings(world["root"], "nopairs")
    s.margin = 10.0  # no reward gap is that large
    make_preferences(load_items(world["root"] / "items.jsonl"), s, tts=world["tts"])
    with pytest.raises(InputError, match="no pairs"):
        _train({"root": world["root"]}, "x", data=str(world["root"] / "nopairs"))


def test_cli_data_preferences_rejects_bad_input_before_loading(tmp_path, capsys):
    from llasa.cli.main import main

    (tmp_path / "items.jsonl").write_text('{"text": "Hi.", "oops": 1}\n')
    assert main(["data", "preferences", str(tmp_path / "out"), "--list",
                 str(tmp_path / "items.jsonl")]) != 0
    assert "unknown key" in capsys.readouterr().err
