"""Measure preference training: WER and SIM-o against inference compute (best-of-N, N = 1…16),
before and after, paired over the same held-out items and seeds (docs/preferences.md).

For every (item, seed) one best-of-16 search samples 16 candidates and scores each with the
search verifiers (Whisper tiny.en WER + resemblyzer SIM-o to the prompt recording). Best-of-N
for N < 16 is read off disjoint blocks of N of those 16 i.i.d. samples (16 / N blocks,
averaged), so one search gives the whole curve. A second, independent ASR (Whisper base,
`--judge DIR`) re-transcribes the first 4 candidates and the best-of-16 pick.

    python recipes/preferences.py measure --lm src/llasa/models/default/lm \\
        --list runs/prefs/eval_voice.jsonl --out runs/prefs/eval_before.jsonl --seeds 0,1
    python recipes/preferences.py report runs/prefs/eval_before.jsonl runs/prefs/eval_after.jsonl

Item lists from a ``llasa data synth-corpus`` folder (each utterance's text, cloned from the
previous utterance of the same speaker):

    python recipes/preferences.py items runs/prefs/corpus/manifest.jsonl runs/prefs/items.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
NS = (1, 2, 4, 8, 16)
REWARD = "0.7*wer+0.3*sim"


def items(a) -> None:
    """Items of ``a.manifest`` (split ``a.split``): each row's text, in its speaker's voice
    given by that speaker's previous utterance (the first takes the speaker's last)."""
    rows = [json.loads(x) for x in Path(a.manifest).read_text().splitlines() if x.strip()]
    rows = [r for r in rows if r.get("split", "train") == a.split]
    by = {}
    for r in rows:
        by.setdefault(r.get("speaker"), []).append(r)
    base, out = Path(a.manifest).parent, Path(a.out)
    lines = []
    for spk, rs in by.items():
        for k, r in enumerate(rs):
            if len(rs) < 2:
                continue
            p = rs[k - 1]
            wav = os.path.relpath((base / p["audio"]).resolve(), out.parent.resolve())
            lines.append({"utt": Path(r["audio"]).stem, "target_text": r["text"],
                          "prompt_wav": wav, "prompt_text": p["text"]})
    lines = lines[: a.limit] if a.limit else lines
    out.write_text("".join(json.dumps(x) + "\n" for x in lines))
    print(f"{out}: {len(lines)} items, {len(by)} speaker(s)")


def measure(a) -> None:
    from llasa._common.log import progress
    from llasa.eval.judges import Judges
    from llasa.search import BestOfN, search
    from llasa.tts import Llasa
    from llasa.verifiers import VerifierRegistry

    rows = [json.loads(x) for x in Path(a.list).read_text().splitlines() if x.strip()]
    rows = rows[: a.limit] if a.limit else rows
    base = Path(a.list).parent
    out = Path(a.out)
    done = set()
    if out.is_file():
        done = {(r["utt"], r["seed"]) for r in map(json.loads, out.read_text().splitlines())}
    tts = Llasa.from_pretrained(a.lm, a.codec)
    reg = VerifierRegistry()
    judge = Judges.build(asr=a.judge, sim=None, mos=None) if a.judge else None
    seeds = [int(s) for s in a.seeds.split(",")]
    # sampling overrides (unset: the model's own defaults)
    sampling = {k: v for k in ("temperature", "top_k", "top_p")
                if (v := getattr(a, k, None)) is not None}
    todo = [(r, s) for s in seeds for r in rows if (r["utt"], s) not in done]
    voices = {}
    with open(out, "a") as f:
        for r, seed in progress(todo, desc="measure", unit="item"):
            key = r["prompt_wav"]
            if key not in voices:
                voices[key] = tts.voice_from_audio(str(base / key), r["prompt_text"])
            voice = voices[key]
            res = search(tts, r["target_text"], voice, BestOfN(a.n, (REWARD,)), registry=reg,
                         seed=seed, **sampling)
            cands = [{"wer": c.scores["wer"], "sim": c.scores["sim"], "reward": c.rank_score,
                      "tokens": c.num_tokens, "ended": c.ended,
                      "hyp": c.meta.get("transcript")} for c in res.candidates]
            line = {"utt": r["utt"], "seed": seed, "cands": cands,
                    "compute": res.compute.to_dict()}
            if judge is not None:
                pick = _pick([c["wer"] for c in cands], [c["sim"] for c in cands])
                idx = sorted(set(range(4)) | {pick})
                ctx = tts.context_codes(tts.build_prompt(r["target_text"], voice))
                wavs = tts.decode([res.candidates[i].codes for i in idx], [ctx] * len(idx))
                got = judge.intelligibility(wavs, [r["target_text"]] * len(idx), "en")
                line["judge2"] = {str(i): g["wer"] for i, g in zip(idx, got)}
            f.write(json.dumps(line) + "\n")
            f.flush()


def _pick(wer, sim) -> int:
    """Best by WER, ties broken by SIM (the WER verifier's choice)."""
    return int(min(range(len(wer)), key=lambda i: (wer[i], -sim[i])))


def curves(path: str | Path) -> dict:
    """Per (utt, seed): best-of-N WER / SIM-o (WER verifier) and the judge-2 WER."""
    rows = [json.loads(x) for x in Path(path).read_text().splitlines() if x.strip()]
    out = {}
    for r in rows:
        wer = np.array([c["wer"] for c in r["cands"]])
        sim = np.array([c["sim"] for c in r["cands"]])
        d = {}
        for n in (n for n in NS if n <= len(wer)):
            blocks = [range(b * n, (b + 1) * n) for b in range(len(wer) // n)]
            picks = [b[_pick(wer[list(b)], sim[list(b)])] for b in blocks]
            d[f"wer@{n}"] = float(np.mean(wer[picks]))
            d[f"sim@{n}"] = float(np.mean(sim[picks]))
        if "judge2" in r:
            j = {int(k): v for k, v in r["judge2"].items()}
            d["wer2@1"] = float(np.mean([j[i] for i in range(4)]))
            d["wer2@4"] = j[_pick(wer[:4], sim[:4])]
            d["wer2@16"] = j[_pick(wer, sim)]
        d["lm_tokens"] = r["compute"]["lm_tokens"] / len(wer)
        out[(r["utt"], r["seed"])] = d
    return out


def report(a) -> None:
    # a+b: one model measured in several parts (e.g. one process per seed)
    runs = {Path(p.split("+")[0]).stem: {k: v for q in p.split("+") for k, v in curves(q).items()}
            for p in a.files}
    names = list(runs)
    keys = sorted(set.intersection(*(set(r) for r in runs.values())))
    print(f"{len(keys)} paired (utt, seed) samples")
    table = {}
    print("| model | " + " | ".join(f"WER@{n}" for n in NS) + " | " +
          " | ".join(f"SIM@{n}" for n in NS) + " | judge-2 WER@1 / @4 / @16 | tokens/cand |")
    print("|---" * (2 * len(NS) + 3) + "|")
    for name in names:
        r = runs[name]
        m = {k: _mean_se([r[x][k] for x in keys]) for k in r[keys[0]]}
        table[name] = m
        j2 = " / ".join(f"{100 * m[k][0]:.1f}" for k in ("wer2@1", "wer2@4", "wer2@16")
                        if k in m)
        print(f"| {name} | " + " | ".join(
            f"{100 * m[f'wer@{n}'][0]:.1f} ± {100 * m[f'wer@{n}'][1]:.1f}" if f"wer@{n}" in m
            else "–" for n in NS) + " | " + " | ".join(
            f"{m[f'sim@{n}'][0]:.3f}" if f"sim@{n}" in m else "–" for n in NS)
            + f" | {j2} | {m['lm_tokens'][0]:.0f} |")
    for name in names[1:]:  # each later run against the first
        b, t = runs[names[0]], runs[name]
        print(f"{name} - {names[0]}:")
        for label, kb, kt in (("WER after@1 - before@1", "wer@1", "wer@1"),
                              ("WER after@1 - before@4 (goal <= 0)", "wer@4", "wer@1"),
                              ("WER after@4 - before@16 (stretch < 0)", "wer@16", "wer@4"),
                              ("SIM after@1 - before@1 (goal >= -0.01)", "sim@1", "sim@1"),
                              ("judge-2 WER after@1 - before@1", "wer2@1", "wer2@1"),
                              ("judge-2 WER after@1 - before@4", "wer2@4", "wer2@1"),
                              ("judge-2 WER after@4 - before@16", "wer2@16", "wer2@4")):
            if kb in b[keys[0]] and kt in t[keys[0]]:
                mu, se = _mean_se([t[k][kt] - b[k][kb] for k in keys])
                scale = 1 if "SIM" in label else 100
                print(f"- {label}: {scale * mu:+.3f} ± {scale * se:.3f}")
    if a.plot:
        _plot(table, a.plot)
    if a.json:
        Path(a.json).write_text(json.dumps({n: {k: list(v) for k, v in m.items()}
                                            for n, m in table.items()}, indent=1))


def _mean_se(x) -> tuple[float, float]:
    x = np.asarray(x, np.float64)
    return float(x.mean()), float(x.std(ddof=1) / np.sqrt(len(x))) if len(x) > 1 else 0.0


def _plot(table: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for name, m in table.items():
        ns = [n for n in NS if f"wer@{n}" in m]
        for ax, key in zip(axes, ("wer", "sim")):
            y = np.array([m[f"{key}@{n}"][0] for n in ns]) * (100 if key == "wer" else 1)
            e = np.array([m[f"{key}@{n}"][1] for n in ns]) * (100 if key == "wer" else 1)
            ax.errorbar(ns, y, yerr=e, marker="o", capsize=3, label=name)
    for ax, lab in zip(axes, ("WER % (Whisper tiny.en) ↓", "SIM-o (resemblyzer) ↑")):
        ax.set_xscale("log", base=2)
        ax.set_xticks(NS, [str(n) for n in NS])
        ax.set_xlabel("best-of-N (LM samples per utterance)")
        ax.set_ylabel(lab)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle("Held-out voice and sentences: before vs after preference training")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("measure")
    m.add_argument("--lm")
    m.add_argument("--codec")
    m.add_argument("--list", required=True)
    m.add_argument("--out", required=True)
    m.add_argument("--seeds", default="0,1")
    m.add_argument("--n", type=int, default=16)
    m.add_argument("--limit", type=int)
    m.add_argument("--judge", help="second ASR judge (faster-whisper dir), e.g. Whisper base")
    m.add_argument("--temperature", type=float, help="override the model's sampling default")
    m.add_argument("--top-k", type=int)
    m.add_argument("--top-p", type=float)
    m.set_defaults(func=measure)
    i = sub.add_parser("items")
    i.add_argument("manifest")
    i.add_argument("out")
    i.add_argument("--split", default="train")
    i.add_argument("--limit", type=int)
    i.set_defaults(func=items)
    r = sub.add_parser("report")
    r.add_argument("files", nargs="+")
    r.add_argument("--plot")
    r.add_argument("--json")
    r.set_defaults(func=report)
    a = p.parse_args(argv)
    a.func(a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
