"""Multi-process training: ``torchrun --nproc_per_node 2`` on the CPU (gloo, HF Trainer's own
DDP) gives the same losses and weights as one process with the same global batch (2 x 2 vs
1 x 4). Tolerance: relative 1e-4 on losses, 1e-5 absolute on weights (the all-reduce sums
gradients in another order); measured agreement is ~1e-7."""

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from lm_helpers import cached_prepared

ROOT = Path(__file__).resolve().parents[2]


def _recipe(tmp_path, prepared, name, batch):
    cfg = tmp_path / f"{name}.yaml"
    cfg.write_text(yaml.safe_dump({
        "preset": "tiny", "output_dir": str(tmp_path / name), "max_steps": 6,
        "batch_size": batch, "save_every": 0, "eval_every": 0, "log_every": 1,
        "data": {"train": str(prepared), "eval_fraction": 0}}))
    return cfg


def _run(cmd, env, timeout=300):
    """Run ``cmd``; on a hang, kill it and every process it started, then fail. torchrun
    starts its workers in sessions of their own, so killing the launcher's process group is
    not enough: an orphaned worker would keep the output pipe, and this test, open forever."""
    import psutil

    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        tree = psutil.Process(proc.pid).children(recursive=True)
        for p in [*tree, proc]:
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
        out, _ = proc.communicate(timeout=30)
        _, alive = psutil.wait_procs(tree, timeout=5)
        pytest.fail(f"timed out after {timeout} s (left running: {[p.pid for p in alive]}): "
                    f"{' '.join(cmd)}\n"
                    f"{out[-4000:]}")
    assert proc.returncode == 0, out[-4000:]


def _losses(run):
    with open(run / "metrics.csv", newline="") as f:
        return [float(r["loss"]) for r in csv.DictReader(f) if r["loss"]]


def test_torchrun_two_processes_match_one_process(speech, tmp_path):
    torchrun = shutil.which("torchrun") or str(Path(sys.executable).parent / "torchrun")
    prepared = cached_prepared(speech)
    env = dict(os.environ, OMP_NUM_THREADS="1", LLASA_QUIET="1", HF_HUB_OFFLINE="1")
    _run([torchrun, "--standalone", "--nproc_per_node", "2", "-m", "llasa.cli.main", "train",
          "lm", "--config", str(_recipe(tmp_path, prepared, "two", 2))], env)
    _run([sys.executable, "-m", "llasa.cli.main", "train", "lm", "--config",
          str(_recipe(tmp_path, prepared, "one", 4))], env)
    a, b = _losses(tmp_path / "one"), _losses(tmp_path / "two")
    assert len(a) == len(b) == 6
    assert b == pytest.approx(a, rel=1e-4)
    assert a[-1] < a[0]  # it did train
    wa = load_file(tmp_path / "one" / "model" / "model.safetensors")
    wb = load_file(tmp_path / "two" / "model" / "model.safetensors")
    for k in wa:
        torch.testing.assert_close(wb[k], wa[k], rtol=0, atol=1e-5, msg=k)
