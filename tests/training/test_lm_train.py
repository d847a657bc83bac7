"""The LM recipe on a tiny model with real espeak-ng speech (tiny codec codes): the loss falls,
metrics / plot / samples are written, resume after a real SIGKILL equals an uninterrupted run,
LoRA trains only adapters and merges back equal, the ASR direction learns and decodes text."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from lm_helpers import cached_prepared
from llasa._common.errors import InputError
from llasa.lm import LlasaLM
from llasa.training.lm import train_lm
from llasa.training.lm_config import PRESETS, load_recipe

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):  # tests/conftest.py
    yield


@pytest.fixture(scope="module")
def prepared(speech):
    return cached_prepared(speech)


def _settings(prepared, out, **over):
    data = {"train": str(prepared), **over.pop("data", {})}
    return load_recipe(None, preset="tiny", output_dir=str(out), data=data, **over)


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_loss_falls_and_run_folder_is_complete(prepared, tmp_path):
    codec_dir = prepared.parent / "codec"
    s = _settings(prepared, tmp_path / "run", max_steps=40, save_every=20, eval_every=20,
                  sample={"codec": str(codec_dir), "texts": ["Hello there."], "max_seconds": 1})
    summary = train_lm(s)
    assert summary["step"] == 40 and summary["tokens_per_second"] > 0
    # a real margin: the loss starts near ln(vocab) ~ 6.3 and must lose more than 40 %
    assert summary["last_loss"] < 0.6 * summary["first_loss"], summary
    assert summary["eval_loss"] < 0.7 * summary["first_loss"], summary
    rows = _rows(tmp_path / "run" / "metrics.csv")
    assert list(rows[0]) == ["step", "loss", "eval_loss", "lr", "grad_norm", "tokens_per_second"]
    evals = [float(r["eval_loss"]) for r in rows if r["eval_loss"]]
    assert len(evals) == 2 and evals[1] < evals[0]
    assert (tmp_path / "run" / "loss.png").stat().st_size > 1000
    wavs = sorted((tmp_path / "run" / "samples").glob("*.wav"))
    assert [w.name for w in wavs] == ["step_00000020_0.wav", "step_00000040_0.wav"]
    lm = LlasaLM.from_pretrained(tmp_path / "run" / "model")  # a normal, loadable checkpoint
    assert lm.vocab.codebook_size == 256 and lm.model.config.use_cache


def _cli(cfg: Path, **kw):
    env = dict(os.environ, OMP_NUM_THREADS="1", LLASA_QUIET="1", HF_HUB_OFFLINE="1")
    return subprocess.Popen([sys.executable, "-m", "llasa.cli.main", "train", "lm", "--config",
                             str(cfg)], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, **kw)


def _recipe(tmp_path, prepared, name, steps):
    cfg = tmp_path / f"{name}.yaml"
    cfg.write_text(yaml.safe_dump({
        "preset": "tiny", "output_dir": str(tmp_path / name), "max_steps": steps,
        "save_every": 10, "eval_every": 0, "log_every": 1,
        "data": {"train": str(prepared), "eval_fraction": 0}}))
    return cfg


def _complete(state_json: Path) -> bool:
    try:
        json.loads(state_json.read_text())
        return True
    except (OSError, ValueError):
        return False


def test_resume_after_sigkill_equals_uninterrupted_run(prepared, tmp_path):
    steps = 60
    ref = _cli(_recipe(tmp_path, prepared, "ref", steps))
    run_cfg = _recipe(tmp_path, prepared, "run", steps)
    p = _cli(run_cfg)
    ckpt = tmp_path / "run" / "checkpoints" / "checkpoint-10" / "trainer_state.json"
    deadline = time.time() + 300
    while not _complete(ckpt) and p.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert ckpt.is_file(), p.stdout.read()[-3000:]
    assert not (tmp_path / "run" / "model").exists(), "killed too late: the run had finished"
    ref_out, _ = ref.communicate(timeout=600)
    assert ref.returncode == 0, ref_out[-3000:]
    again = _cli(run_cfg)
    out, _ = again.communicate(timeout=600)
    assert again.returncode == 0, out[-3000:]
    summary = json.loads(out[out.rindex('{\n  "step"'):])
    assert summary["resumed_from"] >= 10 and summary["step"] == steps
    a = load_file(tmp_path / "ref" / "model" / "model.safetensors")
    b = load_file(tmp_path / "run" / "model" / "model.safetensors")
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=0, atol=1e-6, msg=k)
    ra, rb = _rows(tmp_path / "ref" / "metrics.csv"), _rows(tmp_path / "run" / "metrics.csv")
    assert [r["step"] for r in rb] == [r["step"] for r in ra]  # no duplicated or lost steps
    for x, y in zip(ra, rb):
        assert float(y["loss"]) == pytest.approx(float(x["loss"]), rel=1e-5), x["step"]


def test_lora_trains_only_adapters_and_merge_equals_adapter_model(prepared, tmp_path):
    from peft import PeftModel
    from transformers import LlamaForCausalLM

    from llasa.cli.main import main

    s = _settings(prepared, tmp_path / "lora", max_steps=20, save_every=0, eval_every=0,
                  lora={"enabled": True, "r": 4, "alpha": 16, "dropout": 0.0},
                  optim={"lr": 1e-2})
    summary = train_lm(s)
    assert summary["last_loss"] < summary["first_loss"]
    adapter = tmp_path / "lora" / "adapter"
    saved = load_file(adapter / "adapter_model.safetensors")
    assert saved and all("lora_" in k for k in saved)  # nothing but adapter weights saved
    base = LlamaForCausalLM.from_pretrained(tmp_path / "lora" / "base")
    before = {k: v.clone() for k, v in base.state_dict().items()}
    model = PeftModel.from_pretrained(base, adapter)
    trained = [n for n, p in model.named_parameters() if "lora_" in n]
    assert trained and all(k.startswith(("q_proj", "v_proj")) or ".q_proj." in k or
                           ".v_proj." in k for k in trained)
    assert any(v.abs().sum() > 0 for k, v in saved.items() if "lora_B" in k)  # B left zero-init
    ids = torch.randint(0, 500, (2, 40))
    with torch.no_grad():
        ref = model(input_ids=ids).logits
    assert main(["train", "merge-lora", str(adapter), "-o", str(tmp_path / "merged")]) == 0
    merged = LlamaForCausalLM.from_pretrained(tmp_path / "merged")
    with torch.no_grad():
        got = merged(input_ids=ids).logits
    torch.testing.assert_close(got, ref, atol=1e-4, rtol=1e-4)
    plain = LlamaForCausalLM.from_pretrained(tmp_path / "lora" / "base")
    for k, v in plain.state_dict().items():  # the base itself was never modified
        torch.testing.assert_close(v, before[k])
    with torch.no_grad():
        assert not torch.allclose(plain(input_ids=ids).logits, ref, atol=1e-3)
    LlasaLM.from_pretrained(tmp_path / "merged")  # tokenizer travelled with it


def test_lora_run_with_phonemes_merges_into_a_phoneme_model(prepared, tmp_path):
    from llasa.cli.main import main

    s = _settings(prepared, tmp_path / "lora", max_steps=1, save_every=0, eval_every=0,
                  lora={"enabled": True, "r": 4, "alpha": 16, "dropout": 0.0},
                  data={"text_frontend": "espeak:en-us"})
    assert train_lm(s)["text_frontend"] == "espeak:en-us"
    # a base that reads raw text (as an official checkpoint does): the adapter's run decides
    base = tmp_path / "lora" / "base"
    cfg = json.loads((base / "config.json").read_text())
    cfg.pop("llasa_text_frontend", None)
    (base / "config.json").write_text(json.dumps(cfg))
    assert LlasaLM.from_pretrained(base).frontend is None
    assert main(["train", "merge-lora", str(tmp_path / "lora" / "adapter"), "-o",
                 str(tmp_path / "merged")]) == 0
    assert LlasaLM.from_pretrained(tmp_path / "merged").frontend.name == "espeak:en-us"


def test_asr_direction_learns_and_decodes_text_only(prepared, tmp_path):
    from llasa.training.data.shards import CodeShards
    from llasa.training.lm_asr import allowed_text_ids, transcribe_codes

    s = _settings(prepared, tmp_path / "asr", max_steps=40, save_every=0, eval_every=0,
                  data={"task": "asr", "eval_fraction": 0})
    summary = train_lm(s)
    assert summary["last_loss"] < 0.6 * summary["first_loss"], summary
    lm = LlasaLM.from_pretrained(tmp_path / "asr" / "model")
    codes = CodeShards(prepared).codes(0)
    [text] = transcribe_codes(lm.model, lm.tokenizer, [codes], max_new_tokens=30)
    allowed = set(allowed_text_ids(lm.tokenizer, lm.vocab).tolist())
    ids = lm.tokenizer.encode(text, add_special_tokens=False)
    assert text and set(ids) <= allowed
    with pytest.raises(InputError):
        transcribe_codes(lm.model, lm.tokenizer, [[]])


def test_shipped_recipes_load():
    files = sorted((ROOT / "configs" / "lm").glob("*.yaml"))
    assert len(files) >= 5
    for f in files:
        s = load_recipe(f)
        assert s.output_dir and s.data.task in ("tts", "asr"), f
    assert load_recipe(ROOT / "configs/lm/lora.yaml").lora.enabled
    for name in PRESETS:
        load_recipe(None, preset=name)
    for f in (ROOT / "configs" / "accelerate").iterdir():
        (json.loads if f.suffix == ".json" else yaml.safe_load)(f.read_text())


def test_bad_settings_are_clear_errors(prepared, tmp_path):
    with pytest.raises(InputError, match="unknown LM preset"):
        load_recipe(None, preset="huge")
    with pytest.raises(InputError, match="unknown setting"):
        load_recipe(None, preset="tiny", data={"trian": "x"})
    with pytest.raises(InputError, match="packing"):
        load_recipe(None, preset="tiny", data={"packing": True, "mask_template_eot": True})
    with pytest.raises(InputError, match="data.train"):
        train_lm(load_recipe(None, preset="tiny", output_dir=str(tmp_path / "x")))
    with pytest.raises(InputError, match="no prepared shards"):
        train_lm(_settings(tmp_path, tmp_path / "y"))


def _plain_llama(folder: Path):
    """A tiny Llama-3-style checkpoint *without* Llasa's tokens (byte-level BPE + specials)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    from llasa.lm.tiny import LLAMA3_CHAT_TEMPLATE, LLAMA3_SPECIALS

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    t = Tokenizer(models.BPE(vocab={c: i for i, c in enumerate(alphabet)}, merges=[]))
    t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    t.decoder = decoders.ByteLevel()
    t.add_special_tokens(list(LLAMA3_SPECIALS))
    tok = PreTrainedTokenizerFast(tokenizer_object=t, bos_token="<|begin_of_text|>",
                                  eos_token="<|eot_id|>")
    tok.chat_template = LLAMA3_CHAT_TEMPLATE
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64,
                      num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
                      tie_word_embeddings=True, bos_token_id=tok.bos_token_id,
                      eos_token_id=tok.eos_token_id)
    torch.manual_seed(0)
    LlamaForCausalLM(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return len(tok)


def test_start_from_checkpoints(prepared, tmp_path):
    # a plain Llama: the vocabulary is extended (8 tokens + 256 speech tokens), pad = eos
    base_vocab = _plain_llama(tmp_path / "llama")
    s = _settings(prepared, tmp_path / "ext", max_steps=6, save_every=0, eval_every=0,
                  model={"init": str(tmp_path / "llama")})
    summary = train_lm(s)
    assert summary["mask_template_eot"] is True  # a checkpoint fine-tune keeps the quirk
    lm = LlasaLM.from_pretrained(tmp_path / "ext" / "model")
    assert lm.vocab.speech_offset == base_vocab + 8 and lm.vocab.codebook_size == 256
    assert lm.model.get_input_embeddings().weight.shape[0] == base_vocab + 8 + 256
    # continue from that run's model/ (an official-style Llasa checkpoint), and from scratch
    s = _settings(prepared, tmp_path / "cont", max_steps=4, save_every=0, eval_every=0,
                  model={"init": str(tmp_path / "ext" / "model")})
    assert train_lm(s)["step"] == 4
    s = _settings(prepared, tmp_path / "scratch", max_steps=2, save_every=0, eval_every=0,
                  model={"init": str(tmp_path / "ext" / "model"), "from_scratch": True})
    assert train_lm(s)["mask_template_eot"] is False
    # a run that switches to phonemes declares it in the saved model; continuing from that
    # model keeps it unless the settings say "none"
    s = _settings(prepared, tmp_path / "ipa", max_steps=2, save_every=0, eval_every=0,
                  data={"text_frontend": "espeak:en-us"},
                  model={"init": str(tmp_path / "ext" / "model")})
    assert train_lm(s)["text_frontend"] == "espeak:en-us"
    assert LlasaLM.from_pretrained(tmp_path / "ipa" / "model").frontend.name == "espeak:en-us"
    s = _settings(prepared, tmp_path / "ipa2", max_steps=1, save_every=0, eval_every=0,
                  model={"init": str(tmp_path / "ipa" / "model")})
    assert train_lm(s)["text_frontend"] == "espeak:en-us"
    s = _settings(prepared, tmp_path / "raw", max_steps=1, save_every=0, eval_every=0,
                  data={"text_frontend": "none"}, model={"init": str(tmp_path / "ipa" / "model")})
    assert train_lm(s)["text_frontend"] is None
    assert LlasaLM.from_pretrained(tmp_path / "raw" / "model").frontend is None


def test_packing_bf16_and_checkpointing_train(prepared, tmp_path):
    s = _settings(prepared, tmp_path / "packed", max_steps=8, save_every=0, eval_every=0,
                  log_every=1, precision="bf16", gradient_checkpointing=True, batch_size=2,
                  data={"packing": True, "max_length": 512, "eval_fraction": 0})
    summary = train_lm(s)
    assert summary["train_sequences"] < 12  # rows of several utterances
    assert summary["mask_template_eot"] is False
    assert summary["last_loss"] < summary["first_loss"]


def test_several_prepared_folders_train_as_one(prepared, tmp_path, capsys):
    import shutil

    from llasa.cli.main import main

    second = tmp_path / "second"  # e.g. a second corpus prepared with the same codec
    shutil.copytree(prepared, second)
    one = train_lm(_settings(prepared, tmp_path / "one", max_steps=1, save_every=0,
                             eval_every=0, data={"eval_fraction": 0}))
    cfg = tmp_path / "run.yaml"
    cfg.write_text("preset: tiny\nmax_steps: 1\nsave_every: 0\neval_every: 0\n"
                   "data: {eval_fraction: 0}\n")
    assert main(["train", "lm", "--config", str(cfg), "--data", str(prepared), str(second),
                 "--output-dir", str(tmp_path / "two")]) == 0
    out = capsys.readouterr().out
    two = json.loads(out[out.rindex('{\n  "'):])  # the summary the command prints last
    assert two["train_sequences"] == 2 * one["train_sequences"]
    settings = json.loads((tmp_path / "two" / "settings.json").read_text())
    assert settings["data"]["train"] == [str(prepared), str(second)]
    with pytest.raises(InputError, match="a folder or a list of folders"):
        load_recipe(None, preset="tiny", data={"train": [str(prepared), 3]})
    assert load_recipe(None, preset="tiny", data={"train": [str(prepared)]}).data.train == \
        str(prepared)
