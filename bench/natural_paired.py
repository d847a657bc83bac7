"""Two LMs on the same held-out lists and seeds, paired, against the recordings (issue 18).

Reads folders of ``llasa eval tts`` runs laid out as ``RUNS/<system>/s<seed>/<list>/`` and,
for the recordings (the same judge on the corpus audio through ``--audio-dir``),
``RUNS/rec/<list>/``. Prints one table row per list: each system's mean WER over utterances
and seeds (± standard error; capped: each utterance at most 1), the share that ended on END,
SIM-o where scored, the ratio to the recordings' WER, and the paired difference (new − old)
over the same (utterance, seed) pairs.

    python bench/natural_paired.py runs/natural3/ev --old old --new new --seeds 0,1
"""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
LISTS = ("text", "numbers", "templates", "voice", "long")


def _rows(folder: Path) -> dict[str, dict]:
    f = folder / "results.jsonl"
    if not f.is_file():
        return {}
    return {r["utt"]: r for r in map(json.loads, f.read_text().splitlines()) if r}


def _mean_se(xs: list[float]) -> tuple[float, float]:
    n = len(xs)
    if not n:
        return float("nan"), float("nan")
    m = sum(xs) / n
    var = sum((x - m) ** 2 for x in xs) / (n - 1) if n > 1 else 0.0
    return m, math.sqrt(var / n)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs")
    ap.add_argument("--old", default="old")
    ap.add_argument("--new", default="new")
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--json", help="also write the figures here")
    a = ap.parse_args()
    root, seeds = Path(a.runs), [s for s in a.seeds.split(",") if s]
    print(f"| list | n | recordings WER | {a.old} WER | {a.new} WER | {a.old} capped | "
          f"{a.new} capped | {a.new} − {a.old} (paired) | ratio to rec. {a.old} / {a.new} | "
          f"ended on END {a.old} / {a.new} | SIM-o rec. / {a.old} / {a.new} |")
    print("|" + "---|" * 11)
    out = {}
    for name in LISTS:
        rec = _rows(root / "rec" / name)
        per = {sys_: {s: _rows(root / sys_ / f"s{s}" / name) for s in seeds}
               for sys_ in (a.old, a.new)}
        keys = [(u, s) for s in seeds for u in per[a.old][s] if u in per[a.new][s]]
        if not keys:
            continue
        wer = {k: [per[k][s][u]["wer"] for u, s in keys] for k in per}
        cap = {k: [min(1.0, x) for x in v] for k, v in wer.items()}
        ended = {k: sum(bool(per[k][s][u].get("ended")) for u, s in keys) for k in per}
        sim = {k: [per[k][s][u]["sim_o"] for u, s in keys if "sim_o" in per[k][s][u]]
               for k in per}
        diff = _mean_se([n - o for n, o in zip(wer[a.new], wer[a.old])])
        utts = sorted({u for u, _ in keys})
        rec_w = _mean_se([rec[u]["wer"] for u in utts if u in rec])
        rec_s = _mean_se([rec[u]["sim_o"] for u in utts if u in rec and "sim_o" in rec[u]])
        m = {k: _mean_se(v) for k, v in wer.items()}
        mc = {k: _mean_se(v) for k, v in cap.items()}
        ms = {k: _mean_se(v)[0] for k, v in sim.items()}
        ratio = {k: m[k][0] / rec_w[0] if rec_w[0] and rec_w[0] == rec_w[0] else float("nan")
                 for k in per}
        out[name] = {"n": len(keys), "rec_wer": rec_w[0], "rec_sim_o": rec_s[0],
                     **{f"{k}_{what}": v for k in per for what, v in (
                         ("wer", m[k][0]), ("wer_se", m[k][1]), ("wer_capped", mc[k][0]),
                         ("ended", ended[k] / len(keys)), ("sim_o", ms[k]),
                         ("ratio", ratio[k]))},
                     "diff": diff[0], "diff_se": diff[1]}
        print(f"| {name} | {len(keys)} | {rec_w[0]:.3f} | {m[a.old][0]:.3f} ± {m[a.old][1]:.3f} "
              f"| {m[a.new][0]:.3f} ± {m[a.new][1]:.3f} | {mc[a.old][0]:.3f} | "
              f"{mc[a.new][0]:.3f} | {diff[0]:+.3f} ± {diff[1]:.3f} | "
              f"{ratio[a.old]:.2f} / {ratio[a.new]:.2f} | {ended[a.old]}/{len(keys)} / "
              f"{ended[a.new]}/{len(keys)} | {rec_s[0]:.3f} / {ms[a.old]:.3f} / "
              f"{ms[a.new]:.3f} |")
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
