"""MODEL_CARD.md beside the shipped weights, written from ``metrics.json`` (no hand edits)."""

from __future__ import annotations

import json

from . import common as C
from .common import (BIG, MAX_OPEN_WORDS, MAX_WORDS, MIXED, OPEN, OPEN_PHASES, ROOT, SHIP,
                     SHIPPED_SAMPLING, _final_codec, _final_lm)


def write_card(a, metrics: dict) -> None:
    """MODEL_CARD.md beside the shipped weights, from the measured numbers (no hand edits)."""
    def f(run, key):
        v = metrics.get(run, {}).get(key)
        if not isinstance(v, (int, float)):
            return "–"
        return f"{100 * v:.0f}" if key.startswith("wer") else f"{v:.2f}"  # WER: a fraction

    import yaml

    codec_cfg = yaml.safe_load((ROOT / "configs" / "default" / "codec.yaml").read_text())
    lm_cfg = yaml.safe_load((ROOT / "configs" / "default" / "lm.yaml").read_text())
    cc, lt = codec_cfg["model"]["config"], lm_cfg["model"]["tiny"]
    codes = 1
    for n in cc["quantization_levels"]:
        codes *= n
    total = sum(p.stat().st_size for p in SHIP.rglob("*.safetensors"))
    corpus = json.loads((C.WORK / "corpus" / "corpus.json").read_text())
    counts = corpus.get("counts", {})
    lines = [
        "# llasa default model (tiny, trained from scratch on synthetic speech)", "",
        "The model `Llasa.from_pretrained()` and `llasa tts TEXT -o out.wav` load when no model "
        "is named. It is a demonstration of the full Llasa recipe at toy scale, trained in "
        "about 7 hours on a 2-core CPU"
        + (" and 3 minutes on one GPU (its last LM phase)" if _final_lm().parent.name ==
           "lm_mixed" else "")
        + "; it is not a substitute for `HKUSTAudio/Llasa-1B` + `HKUSTAudio/xcodec2`.", "",
        "Reproduce it: `python recipes/default_model.py` (every number below comes from "
        "`runs/default/metrics.json`, written by that script).", "",
        "## Model", "",
        f"* `codec/`: X-codec2 architecture (transformers `Xcodec2Model`), hidden "
        f"{cc['hidden_size']}, {cc['num_hidden_layers']} decoder layers, FSQ "
        f"{'×'.join(map(str, cc['quantization_levels']))} = {codes} codes, 50 codes/s, 16 kHz. "
        f"Trained end to end from scratch for {a.codec_steps} steps (batch "
        f"{codec_cfg['data']['batch_size']} × {codec_cfg['data']['crop_seconds']} s crops, "
        "multi-scale mel loss + FSQ-bound penalty, `configs/default/codec.yaml`), then its "
        f"decoder alone for {a.decoder_steps} more steps on the frozen encoder's codes "
        "(`recipes/default_codec.py`)"
        + (f", and {a.decoder_more_steps} more on the codes of all three training corpora "
           "(template sentences, more sentences, open text), which made it decode other "
           "sentences and the held-out voice much better (stage `decoder_more`)."
           if _final_codec().parent.name == "codec_decoder2" else "."),
        f"* `lm/`: Llama (transformers `LlamaForCausalLM`), hidden {lt['hidden_size']}, "
        f"{lt['num_layers']} layers, byte-level tokenizer + Llasa tokens + {codes} speech "
        f"tokens, official prompt format; {a.lm_steps} steps of batch {lm_cfg['batch_size']}, "
        f"a share of {lm_cfg['data'].get('clone_pairs', 0)} extra sequences joining two "
        "utterances of one speaker (the cloning layout); `configs/default/lm.yaml`"
        + (f"; then {a.more_steps} more steps on a corpus with more distinct sentences "
           "(`configs/default/lm_more.yaml`)" if (C.WORK / "lm_more" / "model").is_dir()
           else "")
        + (f"; then {a.phoneme_steps} more steps on that corpus reading espeak-ng phonemes "
           "instead of letters (`configs/default/lm_phonemes.yaml`; the model's config.json "
           "declares `llasa_text_frontend: espeak:en-us`, so it needs espeak-ng at inference)."
           if (C.WORK / "lm_phonemes" / "model").is_dir() else ".")
        + (f" Then {a.guided_steps} steps with a tenth of extra items without text "
           "(`configs/default/lm_guided.yaml`), which classifier-free guidance (`--cfg-scale`) "
           "needs; guidance did not lower its WER, so it is not a default."
           if (C.WORK / "lm_guided" / "model").is_dir() else "")
        + (_open_phases_line(a) if _final_lm().parent.name in OPEN_PHASES else ""),
        f"* Sampling: `lm/config.json` recommends {_sampling_label()} (`llasa_sampling`); "
        "options a caller passes win. `cfg_scale` is classifier-free guidance on the text "
        "(two LM rows per sampled token).",
        f"* fp16 safetensors, {total / 1e6:.1f} MB in all.", "",
        "## Data", "",
        f"espeak-ng, en-us accent, voices m1 / edward / m7 (training) and max (held out); "
        f"sentences of at most {MAX_WORDS} words from `data/sentences` (held-out sentences "
        f"never trained on). Counts: {json.dumps(counts)}.", *_more_data_line(), "",
        "## Metrics (held-out sentences; Whisper tiny.en WER, resemblyzer SIM)", "",
        "| what | WER (%) ↓ | SIM ↑ | PESQ-WB | STOI |", "|---|---|---|---|---|",
        f"| corpus recordings (training voices) | {f('codec_eval_text', 'wer_gt')} | – | – | – |",
        f"| codec round trip (training voices) | {f('codec_eval_text', 'wer')} | "
        f"{f('codec_eval_text', 'sim')} | {f('codec_eval_text', 'pesq_wb')} | "
        f"{f('codec_eval_text', 'stoi')} |",
        f"| codec round trip (held-out voice) | {f('codec_eval_voice', 'wer')} | "
        f"{f('codec_eval_voice', 'sim')} | {f('codec_eval_voice', 'pesq_wb')} | "
        f"{f('codec_eval_voice', 'stoi')} |",
        f"| TTS, no prompt (training voices), sampling {_sampling_label()} | "
        f"{f('tts_text', 'wer')} | – | – | – |",
        f"| same, seeds 0–2 pooled | {f('tts_text_3seeds', 'wer')} | – | – | – |",
        f"| same, the official card's sampling (temperature 0.8, no guidance), seeds 0–2 | "
        f"{f('tts_text_card_3seeds', 'wer')} | – | – | – |",
        f"| TTS, cloning the held-out voice | {f('tts_voice', 'wer')} | "
        f"{f('tts_voice', 'sim_o')} (SIM-o) | – | – |",
        f"| held-out voice recordings (same-voice ceiling) | {f('gt_voice', 'wer')} "
        f"| {f('gt_voice', 'sim_o')} (SIM-o) | – | – |",
        *([f"| open text (held-out grammar sentences): recordings | "
           f"{f('codec_eval_open', 'wer_gt')} | – | – | – |",
           f"| open text: codec round trip | {f('codec_eval_open', 'wer')} | "
           f"{f('codec_eval_open', 'sim')} | {f('codec_eval_open', 'pesq_wb')} | "
           f"{f('codec_eval_open', 'stoi')} |",
           f"| open text: TTS, no prompt, seeds 0–2 pooled | {f('tts_open_3seeds', 'wer')} "
           "| – | – | – |"] if "tts_open_3seeds" in metrics else []), "",
        "Quality bar of issue 6: TTS WER ≤ 1.5 × the recordings' WER. See "
        "`docs/default_model.md` for whether it is reached, and for the scaling figures.", "",
        "## Licence and limits", "",
        "Trained only on espeak-ng output (GPL-3.0 engine; its audio output is not covered by "
        "the GPL). English only, robotic voices. "
        + ("Sentences like its template text come out best; other text of up to 12 words "
           "is read less reliably (open-text rows above); longer text is read in chunks, each "
           "prompted by the voice alone (`llasa_long_text` in `lm/config.json`)." if _final_lm().parent.name == "lm_mixed" else
           "Sentences like its template text (16 templates of at most 9 words) come out best; "
           "other text of up to 12 words is read by its sounds and is mostly unintelligible "
           "(open-text rows above)." if _final_lm().parent.name in OPEN_PHASES else
           "It speaks short sentences like its training text (16 templates of at most 9 "
           "words); other text comes out as some training-style sentence."), ""]
    (SHIP / "MODEL_CARD.md").write_text("\n".join(lines))


def _open_phases_line(a) -> str:
    shipped = _final_lm().parent.name
    names = ["lm_open", *OPEN_PHASES[:OPEN_PHASES.index(shipped) + 1]]
    names = [n for n in names if n != "lm_mixed"]
    steps = {"lm_open": a.open_steps, "lm_open2": a.open2_steps, "lm_open3": a.open3_steps}
    line = (f" Then {' + '.join(str(steps[n]) for n in names)} steps on that corpus and an "
            "open-text corpus together, at falling learning rates ("
            + ", ".join(f"`configs/default/{n}.yaml`" for n in names)
            + "), so that it reads text beyond its 16 templates.")
    if shipped == "lm_mixed":
        line += (f" Last, {a.mixed_steps} steps of batch 32 on one GPU (bf16) on those two "
                 "corpora and a third one of sentences no earlier phase heard "
                 "(`configs/default/lm_mixed.yaml`).")
    return line


def _sampling_label() -> str:
    return ", ".join(f"{k} {v:g}" for k, v in SHIPPED_SAMPLING.items())


def _more_data_line() -> list[str]:
    info = C.WORK / BIG / "corpus" / "corpus.json"
    if not (C.WORK / "lm_more" / "model").is_dir() or not info.is_file():
        return []
    rows = [json.loads(x) for x in (C.WORK / BIG / "corpus" / "manifest.jsonl").read_text()
            .splitlines() if x.strip()]
    hours = sum(r["seconds"] for r in rows) / 3600
    out = ["", f"LM phase 2: {len(rows)} more utterances ({hours:.1f} h) of the training voices "
           f"speaking {len({r['text'] for r in rows})} distinct sentences of at most "
           f"{MAX_WORDS} words (`runs/default/{BIG}`, the same generator with a larger count)."]
    manifest = C.WORK / OPEN / "corpus" / "manifest.jsonl"
    if _final_lm().parent.name in OPEN_PHASES and manifest.is_file():
        rows = [json.loads(x) for x in manifest.read_text().splitlines() if x.strip()]
        rows = [r for r in rows if r["split"] == "train"]
        hours = sum(r["seconds"] for r in rows) / 3600
        out += ["", f"LM phases 5 to 7: {len(rows)} utterances ({hours:.1f} h) of the training "
                f"voices speaking {len({r['text'] for r in rows})} distinct sentences of open text "
                f"(`llasa data sentences --style open`: statements, questions, commands, "
                f"replies; 1 to {MAX_OPEN_WORDS} words; `runs/default/{OPEN}`), trained "
                "together with the phase-2 corpus in phases 5 to 7."]
    manifest = C.WORK / MIXED / "corpus" / "manifest.jsonl"
    if _final_lm().parent.name == "lm_mixed" and manifest.is_file():
        rows = [json.loads(x) for x in manifest.read_text().splitlines() if x.strip()]
        hours = sum(r["seconds"] for r in rows) / 3600
        out += ["", f"LM phase 8: {len(rows)} utterances ({hours:.1f} h) of the training voices "
                f"speaking {len({r['text'] for r in rows})} distinct sentences that no earlier "
                "corpus spoke (`llasa data sentences --style mixed`: templates and open text "
                f"evenly; `runs/default/{MIXED}`), trained together with the corpora of "
                "phases 5 to 7."]
    return out
