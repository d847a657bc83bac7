"""Atomic checkpoints: exact resume, value encoding, kill -9 during a save, pruning, errors."""

import json
import random
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from llasa._common.errors import ModelLoadError
from llasa.training.checkpoint import CheckpointManager, _decode, _encode, atomic_write_text
from llasa.training.schedule import WarmupDecay, warmup_decay_scheduler


def _objects(seed=0):
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Dropout(0.5), torch.nn.Linear(8, 1))
    opt = torch.optim.AdamW(model.parameters(), betas=(0.8, 0.9))
    sched = warmup_decay_scheduler(opt, WarmupDecay(1e-3, 1e-2, 1e-3, warmup_steps=3,
                                                    decay_steps=10))
    return model, opt, sched


def _step(model, opt, sched):
    """One step drawing from every global RNG (data from numpy/python, dropout from torch)."""
    x = torch.from_numpy(np.random.randn(5, 4).astype(np.float32)) * random.random()
    loss = model(x).square().mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    sched.step()
    return loss.item()


def test_resume_reproduces_an_uninterrupted_run(tmp_path):
    model, opt, sched = _objects()
    straight = [_step(model, opt, sched) for _ in range(6)]
    final = [p.detach().clone() for p in model.parameters()]

    model, opt, sched = _objects()
    first = [_step(model, opt, sched) for _ in range(3)]
    mgr = CheckpointManager(tmp_path / "ckpt")
    mgr.save(3, modules={"model": model}, optimizers={"opt": opt}, schedulers={"opt": sched},
             state={"sample": 15})
    for _ in range(2):  # the process goes on (and is then lost): must not leak into the resume
        _step(model, opt, sched)

    model2, opt2, sched2 = _objects(seed=123)  # different initial weights
    info = mgr.load(mgr.latest(), modules={"model": model2}, optimizers={"opt": opt2},
                    schedulers={"opt": sched2})
    assert info == {"step": 3, "state": {"sample": 15}}
    resumed = first + [_step(model2, opt2, sched2) for _ in range(3)]
    assert resumed == straight
    for a, b in zip(final, model2.parameters()):
        assert torch.equal(a, b)
    assert opt2.param_groups[0]["lr"] == pytest.approx(WarmupDecay(
        1e-3, 1e-2, 1e-3, 3, 10)(6))


def test_encoding_round_trips_every_kind_of_value():
    value = {"int_keys": {0: torch.arange(3), 7: {"betas": (0.8, 0.9)}},
             "np": np.arange(5, dtype=np.uint32), "scalar": np.float32(1.5), "none": None,
             "nested": [1, "a", (2, [3.5, torch.ones(2, 2)])], "flag": True,
             "py_rng": random.getstate(), "np_rng": np.random.get_state()}
    tensors = {}
    skeleton = _encode(value, tensors)
    json.dumps(skeleton)  # the skeleton is pure JSON
    back = _decode(json.loads(json.dumps(skeleton)), tensors)
    assert set(back["int_keys"]) == {0, 7} and back["int_keys"][7]["betas"] == (0.8, 0.9)
    assert torch.equal(back["int_keys"][0], torch.arange(3))
    assert back["np"].dtype == np.uint32 and back["np"].tolist() == [0, 1, 2, 3, 4]
    assert back["scalar"] == 1.5 and back["none"] is None and back["flag"] is True
    assert back["nested"][2][0] == 2 and torch.equal(back["nested"][2][1][1], torch.ones(2, 2))
    random.setstate(back["py_rng"])
    np.random.set_state(back["np_rng"])
    with pytest.raises(TypeError, match="cannot store"):
        _encode({"f": lambda: 0}, {})


_KILLER = textwrap.dedent("""
    import os, signal, sys, torch
    import llasa.training.checkpoint as ck
    mgr = ck.CheckpointManager(sys.argv[1])
    model = torch.nn.Linear(3, 3)
    mgr.save(1, modules={"m": model}, state={"tag": "first"})
    real_save = ck.save_file
    def save_then_die(*a, **k):  # the second save is killed after writing part of its files
        real_save(*a, **k)
        os.kill(os.getpid(), signal.SIGKILL)
    ck.save_file = save_then_die
    with torch.no_grad():
        model.weight.add_(1.0)
    mgr.save(2, modules={"m": model}, state={"tag": "second"})
""")


def test_kill_9_during_a_save_leaves_the_previous_checkpoint(tmp_path):
    root = tmp_path / "ckpt"
    proc = subprocess.run([sys.executable, "-c", _KILLER, str(root)], capture_output=True)
    assert proc.returncode == -9, proc.stderr.decode()
    assert [p.name for p in root.glob(".tmp-*")], "the killed save left no temporary folder?"
    mgr = CheckpointManager(root)
    assert mgr.latest().name == "step_00000001"
    model = torch.nn.Linear(3, 3)
    assert mgr.load(mgr.latest(), modules={"m": model})["state"] == {"tag": "first"}
    mgr.save(2, modules={"m": model})
    assert not list(root.glob(".tmp-*")), "stale temporary folders are cleaned on the next save"
    assert mgr.latest().name == "step_00000002"


def test_keeps_the_newest_and_replaces_a_resaved_step(tmp_path):
    mgr = CheckpointManager(tmp_path, keep_last=2)
    m = torch.nn.Linear(2, 2)
    for step in (1, 2, 3):
        mgr.save(step, modules={"m": m}, state={"v": step})
    assert [p.name for p in mgr.checkpoints()] == ["step_00000002", "step_00000003"]
    mgr.save(3, modules={"m": m}, state={"v": "again"})
    assert mgr.load(mgr.latest(), modules={"m": m})["state"] == {"v": "again"}
    # a stale pointer falls back to scanning
    (tmp_path / "latest").write_text("step_99999999\n")
    assert mgr.latest().name == "step_00000003"


def test_load_errors_name_the_problem(tmp_path):
    mgr = CheckpointManager(tmp_path)
    path = mgr.save(1, modules={"m": torch.nn.Linear(2, 2)}, optimizers={})
    with pytest.raises(ModelLoadError, match="no module"):
        mgr.load(path, modules={"other": torch.nn.Linear(2, 2)})
    with pytest.raises(ModelLoadError, match="does not match"):
        mgr.load(path, modules={"m": torch.nn.Linear(3, 2)})
    opt = torch.optim.SGD(torch.nn.Linear(2, 2).parameters(), lr=0.1)
    with pytest.raises(ModelLoadError, match="no optimizer 'opt'"):
        mgr.load(path, modules={}, optimizers={"opt": opt})
    (path / "trainer.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="cannot read checkpoint"):
        mgr.load(path, modules={})
    assert CheckpointManager(tmp_path / "empty").latest() is None


def test_atomic_write_text_replaces_whole_files(tmp_path):
    p = tmp_path / "f.txt"
    atomic_write_text(p, "one")
    atomic_write_text(p, "two")
    assert p.read_text() == "two" and [x.name for x in tmp_path.iterdir()] == ["f.txt"]


def test_warmup_decay_schedule_matches_the_recipe():
    lr = WarmupDecay()  # 1e-5 → 1e-4 quadratically over 3000 steps, → 2e-5 over 400k steps
    assert lr(0) == pytest.approx(1e-5)
    assert lr(1500) == pytest.approx(1e-5 + 9e-5 * 0.25)  # quadratic, not linear
    assert lr(3000) == pytest.approx(1e-4)
    assert lr(3000 + 200_000) == pytest.approx(6e-5)
    assert lr(403_000) == pytest.approx(2e-5) and lr(10**7) == pytest.approx(2e-5)
    opt = torch.optim.AdamW(torch.nn.Linear(1, 1).parameters(), lr=0.5)
    sched = warmup_decay_scheduler(opt, lr)
    assert opt.param_groups[0]["lr"] == pytest.approx(1e-5)  # lambda value is the absolute lr
    opt.step()
    for _ in range(1500):
        sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(lr(1500))
