"""``reports/default_inference_scaling.png`` and ``reports/default_train_scaling.png``."""

from __future__ import annotations

import json

from . import common as C
from .common import REPORTS, _final_lm, _summary
from .scaling import _folder, _runs, train_compute


def plot(a) -> None:
    """reports/default_inference_scaling.png and reports/default_train_scaling.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ev = C.WORK / "eval"
    REPORTS.mkdir(exist_ok=True)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for ax, (folder, metric, label) in zip(axes, (("bon_wer", "wer", "WER (%) ↓, WER verifier"),
                                                  ("bon_sim", "sim_o", "SIM-o ↑, SIM verifier"))):
        sweep = ev / folder / "sweep.json"
        if not sweep.is_file():
            continue
        rows = json.loads(sweep.read_text())["points"]
        k = 100 if metric == "wer" else 1  # summaries hold WER as a fraction
        ax.plot([r["compute"] for r in rows], [k * r.get(metric) for r in rows], "o-")
        for r in rows:
            ax.annotate(f"N={r['budget']}", (r["compute"], k * r.get(metric)), fontsize=7)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("LM tokens sampled per utterance")
        ax.set_title(label)
        ax.grid(alpha=0.3)
    fig.suptitle("default model: inference-time scaling (held-out sentences / voice)")
    fig.tight_layout()
    fig.savefig(REPORTS / "default_inference_scaling.png", dpi=120)
    curves: dict[str, list] = {}  # size → [(PFLOP, WER of plain TTS %, SIM-o of cloning)]
    for size, step, ckpt in _runs(a):
        text, voice = ev / _folder(size, "text", step), ev / _folder(size, "voice", step)
        if all((f / "summary.json").is_file() for f in (text, voice)) and ckpt.is_dir():
            curves.setdefault(size, []).append((
                train_compute(ckpt, a), 100 * _summary(text)["metrics"]["wer"]["mean"],
                _summary(voice)["metrics"]["sim_o"]["mean"]))
    for later, earlier in (("lm_more", "lm"), ("lm_more2", "lm_more"),
                           ("lm_phonemes", "lm_more"), ("lm_guided", "lm_phonemes"),
                           ("lm_open", "lm_guided"), ("lm_open2", "lm_open"),
                           ("lm_open3", "lm_open2"), ("lm_mixed", "lm_open3")):
        if later in curves and earlier in curves:  # a phase starts where the last one ended
            curves[later].append(max(curves[earlier]))
    if curves:
        labels = {"lm": "hidden 192, 6 layers", "lm_small": "hidden 128, 4 layers",
                  "lm_more": "hidden 192, 6 layers, phase 2: more text",
                  "lm_more2": "hidden 192, 6 layers, phase 3 (alternative): more steps, letters",
                  "lm_phonemes": "hidden 192, 6 layers, phase 3: phonemes",
                  "lm_guided": "hidden 192, 6 layers, phase 4: + items without text",
                  "lm_open": "hidden 192, 6 layers, phase 5: + open text",
                  "lm_open2": "hidden 192, 6 layers, phase 6: open text, lower lr",
                  "lm_open3": "hidden 192, 6 layers, phase 7: open text, lr / 4",
                  "lm_mixed": "hidden 192, 6 layers, phase 8: + 18 k new sentences (GPU)",
                  "lm_big": "hidden 384, 10 layers, from scratch on phases 5-7's data (GPU)"}
        shipped = _final_lm().parent.name
        if shipped in labels:
            labels[shipped] += " (shipped)"
        fig, axes = plt.subplots(1, 2, figsize=(10, 6))
        colors = plt.get_cmap("tab20").colors  # more curves than tab10 has colours
        for i, (size, pts) in enumerate(curves.items()):
            pts.sort()
            for ax, k in ((axes[0], 1), (axes[1], 2)):
                ax.plot([p[0] for p in pts], [p[k] for p in pts], "os^D"[i % 4] + "-",
                        color=colors[(2 * i) % 20 + (i // 10)], label=labels[size])
        for ax, title in ((axes[0], "WER (%) ↓, plain TTS, held-out sentences"),
                          (axes[1], "SIM-o ↑, cloning the held-out voice")):
            ax.set_xlabel("LM training compute (PFLOP = 6 · params · tokens)")
            ax.set_xscale("log")  # 0.01 to several PFLOP
            ax.set_title(title, fontsize=9)
            ax.grid(alpha=0.3)
        handles, names = axes[0].get_legend_handles_labels()
        fig.legend(handles, names, loc="lower center", ncol=2, fontsize=7, frameon=False)
        fig.suptitle("default model: train-time scaling (LM checkpoints)")
        fig.tight_layout(rect=(0, 0.22, 1, 1))
        fig.savefig(REPORTS / "default_train_scaling.png", dpi=120)
