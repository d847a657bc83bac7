"""The search strategies: best-of-N (ORM), chunked beam (PRM), partial PRM, hybrid, threshold.

Notation: ``B`` beam width, ``K`` candidates per beam, ``T`` tokens per beam step, ``M`` final
candidates of the hybrid, ``r`` LM rows.

All strategies sample through :class:`llasa.lm.DecodeState`: the prompt is prefilled once, and
rows are forked with ``select`` (KV-cache rows are copied, never recomputed from the prompt).
"""

from __future__ import annotations

import numpy as np

from .config import Beam, BestOfN, Hybrid, PartialPRM, Threshold
from .engine import SearchRun
from .result import Candidate, SearchResult
from .scoring import Scorer


def _candidates(gens_or_rows, audios, rank, per, start: int = 0, meta=None) -> list[Candidate]:
    out = []
    for i, (codes, ended, ntok) in enumerate(gens_or_rows):
        out.append(Candidate(index=start + i, codes=np.asarray(codes, np.int64), ended=ended,
                             num_tokens=int(ntok), scores=per[i], rank_score=float(rank[i]),
                             meta=dict(meta[i]) if meta else {}))
    return out


# ----------------------------------------------------------------------------- best-of-N
def best_of_n(run: SearchRun, cfg: BestOfN) -> SearchResult:
    """N candidates in one batch (one prefill), one batched decode, one batched scoring."""
    scorer = run.scorer(cfg.verifiers)
    with run.lm_time():
        gens = run.lm.generate([run.prompt], run.settings, num_candidates=cfg.n,
                               should_stop=run.should_stop)[0]
    run.compute.lm_tokens += sum(int(g.num_tokens) for g in gens)
    audios = run.decode([g.codes for g in gens])
    rank, per = scorer.score(audios)
    cands = _candidates([(g.codes, g.ended, g.num_tokens) for g in gens], audios, rank, per)
    return run.finish(f"best-of-n:{cfg.n}", scorer, cands, audios, scorer.best(rank))


# ---------------------------------------------------------------------------------- beam
class _Hyp:
    """A complete hypothesis that left the beam (codes, audio, its score when it finished)."""

    def __init__(self, codes, ended, ntok, audio, rank, per):
        self.codes, self.ended, self.ntok, self.audio = codes, ended, ntok, audio
        self.rank, self.per = rank, per


def beam_phase(run: SearchRun, beam: Beam, scorer: Scorer, max_steps: int | None = None):
    """Chunked beam search for at most ``max_steps`` steps (None: until every beam ends).

    Each step samples T tokens on B·K rows, scores all rows' (partial) audio in one batch, and
    keeps the best ``width`` rows; kept rows that ended become complete hypotheses and shrink
    the width. Scoring is skipped when every row would be kept anyway (e.g. B = K = 1).

    Returns:
        (state with the kept unfinished rows, best first; [(rank, per-verifier scores)] of
        those rows (None where not scored); complete hypotheses; per-step log).
    """
    lm = run.lm
    with run.lm_time():
        state = lm.start(run.prompt, beam.rows, run.settings, should_stop=run.should_stop)
    width, hyps, steps, n_step = beam.width, [], [], 0
    kept_scores: list = [None] * state.num_rows
    while True:
        with run.lm_time():
            run.compute.lm_tokens += state.step(beam.chunk_tokens)
        n_step += 1
        rows = list(range(state.num_rows))
        done = [state.finished(r) for r in rows]
        if len(rows) <= width:
            order, rank, per, audios = rows, None, None, None
        else:
            audios = run.decode([state.codes(r) for r in rows])
            rank, per = scorer.score(audios)
            order = scorer.order(rank)
        kept = order[:width]
        steps.append({"step": n_step, "tokens": int(max(state.num_tokens(r) for r in rows)),
                      "scores": None if rank is None else [round(float(x), 6) for x in rank],
                      "kept": kept, "finished": [r for r in kept if done[r]]})
        going = [r for r in kept if not done[r]]
        for r in (r for r in kept if done[r]):
            audio = audios[r] if audios is not None else run.decode([state.codes(r)])[0]
            hyps.append(_Hyp(state.codes(r), state.ended(r), state.num_tokens(r), audio,
                             None if rank is None else float(rank[r]),
                             None if per is None else per[r]))
        width -= len(kept) - len(going)
        kept_scores = [None if rank is None else (float(rank[r]), per[r]) for r in going]
        if not going:
            return None, [], hyps, steps
        with run.lm_time():
            if max_steps is not None and n_step >= max_steps:
                state.select(going)
                return state, kept_scores, hyps, steps
            state.select([r for r in going for _ in range(beam.candidates_per_beam)])


def _run_to_end(run: SearchRun, state) -> list[tuple]:
    """Sample every row of ``state`` to its end; returns [(codes, ended, tokens)] per row."""
    with run.lm_time():
        while not all(state.finished(r) for r in range(state.num_rows)):
            run.compute.lm_tokens += state.step(run.cap)
    return [(state.codes(r), state.ended(r), state.num_tokens(r)) for r in range(state.num_rows)]


def _rank_final(run: SearchRun, scorer: Scorer, hyps: list[_Hyp], rows: list[tuple],
                name: str, steps: list, meta_rows=None) -> SearchResult:
    """Rank complete hypotheses (scored when they ended) + newly finished ``rows`` (scored
    here in one batch; hypotheses without a score are scored in the same batch)."""
    todo = [h for h in hyps if h.rank is None]
    new_audio = run.decode([c for c, _, _ in rows])
    rank, per = scorer.score([h.audio for h in todo] + new_audio)
    for h, s, p in zip(todo, rank[:len(todo)], per[:len(todo)]):
        h.rank, h.per = float(s), p
    cands, audios = [], []
    for h in hyps:
        cands.append(Candidate(len(cands), np.asarray(h.codes, np.int64), bool(h.ended),
                               int(h.ntok), h.per, h.rank, {"source": "beam"}))
        audios.append(h.audio)
    for i, (codes, ended, ntok) in enumerate(rows):
        j = len(todo) + i
        meta = {"source": "continued", **(meta_rows[i] if meta_rows else {})}
        cands.append(Candidate(len(cands), np.asarray(codes, np.int64), bool(ended), int(ntok),
                               per[j], float(rank[j]), meta))
        audios.append(new_audio[i])
    chosen = scorer.best(np.array([c.rank_score for c in cands]))
    return run.finish(name, scorer, cands, audios, chosen, steps)


def beam_search(run: SearchRun, cfg: Beam) -> SearchResult:
    """Full PRM beam search; the best complete hypothesis (scored on its whole audio) wins."""
    scorer = run.scorer(cfg.verifiers)
    _, _, hyps, steps = beam_phase(run, cfg, scorer)
    return _rank_final(run, scorer, hyps, [], _beam_name(cfg), steps)


def partial_prm(run: SearchRun, cfg: PartialPRM) -> SearchResult:
    """PRM beam for the guided chunks, then the best beam sampled to the end (one row)."""
    scorer = run.scorer(cfg.beam.verifiers)
    state, _, hyps, steps = beam_phase(run, cfg.beam, scorer, cfg.guided_chunks)
    rows = []
    if state is not None:
        with run.lm_time():
            state.select([0])  # rows come best first
        rows = _run_to_end(run, state)
    name = f"partial:{_shape(cfg.beam)}:{cfg.guided_chunks}c"
    return _rank_final(run, scorer, hyps, rows, name, steps)


def hybrid(run: SearchRun, cfg: Hybrid) -> SearchResult:
    """Partial PRM (e.g. SIM), then M final candidates forked round-robin from the kept beams,
    sampled to the end and ranked by the ORM (e.g. WER); guided hypotheses that ended early
    compete too."""
    prm = run.scorer(cfg.beam.verifiers)
    state, kept, hyps, steps = beam_phase(run, cfg.beam, prm, cfg.guided_chunks)
    for h in hyps:  # their PRM score is reported; the ORM scores them below
        h.prm, h.rank, h.per = h.rank, None, None
    orm = run.scorer(cfg.orm_verifiers)
    rows, meta = [], []
    if state is not None:
        n = state.num_rows
        pick = [i % n for i in range(cfg.final_candidates)]
        with run.lm_time():
            state.select(pick)
        rows = _run_to_end(run, state)
        meta = [{"beam": i, "prm_score": None if kept[i] is None else round(kept[i][0], 6)}
                for i in pick]
    res = _rank_final(run, orm, hyps, rows,
                      f"hybrid:{_shape(cfg.beam)}:{cfg.guided_chunks}c:{cfg.final_candidates}",
                      steps, meta)
    for c, h in zip(res.candidates, hyps):
        c.meta["prm_score"] = None if h.prm is None else round(h.prm, 6)
    res.ranking["prm"] = prm.name
    return res


# ----------------------------------------------------------------------------- threshold
def threshold(run: SearchRun, cfg: Threshold) -> SearchResult:
    """Rounds of ``batch`` candidates (round i uses seed + i) until one meets the target."""
    scorer = run.scorer(cfg.verifiers)
    hib = scorer.higher_is_better
    cfg.check_direction(hib, scorer.name)
    cands, audios, seed, rnd = [], [], run.settings.seed, 0
    met = False
    while len(cands) < cfg.max_samples and not met:
        k = min(cfg.batch, cfg.max_samples - len(cands))
        s = run.settings if seed is None else run.settings_with(seed=seed + rnd)
        with run.lm_time():
            gens = run.lm.generate([run.prompt], s, num_candidates=k,
                                   should_stop=run.should_stop)[0]
        run.compute.lm_tokens += sum(int(g.num_tokens) for g in gens)
        new = run.decode([g.codes for g in gens])
        rank, per = scorer.score(new)
        cands += _candidates([(g.codes, g.ended, g.num_tokens) for g in gens], new, rank, per,
                             start=len(cands), meta=[{"round": rnd}] * k)
        audios += new
        met = bool(np.any(rank >= cfg.target) if hib else np.any(rank <= cfg.target))
        rnd += 1
    res = run.finish(f"threshold:{scorer.name}{'>=' if hib else '<='}{cfg.target:g},"
                     f"max={cfg.max_samples}", scorer, cands, audios,
                     scorer.best(np.array([c.rank_score for c in cands])))
    res.info["target_met"] = met
    res.info["rounds"] = rnd
    return res


def _shape(b: Beam) -> str:
    return f"{b.width}x{b.candidates_per_beam}x{b.chunk_tokens}"


def _beam_name(b: Beam) -> str:
    return f"beam:{_shape(b)}"


STRATEGIES = {BestOfN: best_of_n, Beam: beam_search, PartialPRM: partial_prm, Hybrid: hybrid,
              Threshold: threshold}
