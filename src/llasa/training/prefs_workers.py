"""Parallel workers of ``llasa data preferences`` (:func:`make_preferences` with
``workers > 1``): spawned processes, each on its share of the cores, take every n-th
unfinished shard; the output equals a serial run's (item seeds do not depend on the order)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from .._common.log import progress
from .prefs_data import PrefDataSettings, _range, _shard, _write_shard, search_config


def run_workers(items, s: PrefDataSettings, todo: list[int], out: Path) -> None:
    """Spawned processes take every n-th unfinished shard, each on its share of the cores
    (small-batch sampling and Whisper scale poorly with threads, processes do). The parent's
    bar counts the shards on disk. A failed worker stops the rest; a rerun resumes."""
    import multiprocessing as mp

    from .._common.errors import LlasaError

    n = min(s.workers, len(todo))
    threads = max(1, (os.cpu_count() or n) // n)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_worker, args=(items, s, todo[w::n], threads))
             for w in range(n)]
    for p in procs:
        p.start()
    size = {k: len(_range(k, s, items)) for k in todo}
    start = len(items) - sum(size.values())
    bar = progress(total=len(items), desc=f"preference search ({n} workers)", unit="item",
                   initial=start)
    try:
        while True:
            bar.n = start + sum(v for k, v in size.items()
                                if (out / _shard(k) / "meta.json").is_file())
            bar.refresh()
            bad = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
            if bad:
                raise LlasaError(f"a preference worker failed (exit code {bad[0]}); its error "
                                 "is above. Rerun the same command to resume")
            if all(p.exitcode == 0 for p in procs):
                break
            time.sleep(0.5)
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
            p.join()
        bar.close()


def _worker(items, s: PrefDataSettings, shards: list[int], threads: int) -> None:
    import torch

    from ..tts import Llasa
    from ..verifiers import VerifierRegistry
    from ..verifiers.asr import Transcriber

    torch.set_num_threads(threads)
    tts = Llasa.from_pretrained(s.lm, s.codec, device=s.device)
    registry = VerifierRegistry(device=s.device) if s.device != "cpu" else \
        VerifierRegistry(transcriber=Transcriber(cpu_threads=threads))
    cfg, voices = search_config(s.search, s.reward), {}
    for k in shards:
        _write_shard(Path(s.out_dir), k, [(i, items[i]) for i in _range(k, s, items)], tts,
                     cfg, s, registry, voices, None)
