"""Typed search configurations and the ``--search`` spec grammar.

Each config is a validated dataclass; :func:`parse_search` turns a CLI/server spec into one.

Grammar (``T`` = tokens per beam step, 50 tokens = 1 s of speech)::

    best-of-n:N                      BestOfN(n=N)
    beam:BxK[xT]                     Beam(width=B, candidates_per_beam=K, chunk_tokens=T)
    partial:BxK[xT]:S                PartialPRM(beam, prm_seconds=S)      e.g. partial:2x4x25:1.5
    partial:BxK[xT]:Nc               PartialPRM(beam, prm_chunks=N)       e.g. partial:2x4x25:3c
    hybrid:BxK[xT]:S:M               Hybrid(beam, prm_seconds=S, final_candidates=M)
    threshold:V<=X,max=N[,batch=b]   Threshold(verifier V, target X, max_samples N)
                                     (``>=`` for higher-is-better verifiers such as sim/mos)

The verifier of the first four comes from ``--verifier`` (several → weighted equally);
the hybrid's PRM defaults to ``sim`` and its ORM to ``wer``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Union

from .._common.errors import InputError
from ..codec.config import FRAME_RATE  # the spec's seconds are X-codec2 frames

DEFAULT_CHUNK_TOKENS = 25  # 0.5 s of speech per beam step


def _check_int(name: str, value, lo: int = 1) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < lo:
        raise InputError(f"{name} must be an integer >= {lo}, got {value!r}")


def _check_verifiers(verifiers) -> tuple:
    if isinstance(verifiers, str) or not isinstance(verifiers, (list, tuple)):
        verifiers = (verifiers,)
    verifiers = tuple(verifiers)
    if not verifiers:
        raise InputError("a search needs at least one verifier (e.g. 'sim' or 'wer')")
    for v in verifiers:
        if isinstance(v, str) and not v.strip():
            raise InputError("a verifier spec is empty")
    return verifiers


@dataclass(frozen=True)
class BestOfN:
    """ORM: sample ``n`` complete candidates as one batch (shared prefill), keep the best.

    Attributes:
        n: number of candidates (>= 1).
        verifiers: verifier specs (``"wer"``, ``"sim"``, ``"0.7*wer+0.3*sim"``) or Verifier
            objects; the first ranks, the others are only reported.
    """

    n: int = 8
    verifiers: tuple = ("wer",)

    def __post_init__(self):
        _check_int("best-of-n n", self.n)
        object.__setattr__(self, "verifiers", _check_verifiers(self.verifiers))

    @property
    def budget(self) -> int:
        return self.n


@dataclass(frozen=True)
class Beam:
    """PRM: chunked beam search over partial audio.

    Each step forks each of ``width`` beams into ``candidates_per_beam`` rows (KV caches are
    forked, never recomputed), samples ``chunk_tokens`` tokens on every row, decodes and scores
    the partial audio, and keeps the ``width`` best rows. A row that ends (END or cap) and is
    kept becomes a complete hypothesis and leaves the beam.

    Attributes:
        width: B, beams kept per step.
        candidates_per_beam: K, rows sampled per beam per step (B*K rows in the batch).
        chunk_tokens: T, tokens per step (25 = 0.5 s).
        verifiers: as :class:`BestOfN`.
    """

    width: int = 2
    candidates_per_beam: int = 4
    chunk_tokens: int = DEFAULT_CHUNK_TOKENS
    verifiers: tuple = ("sim",)

    def __post_init__(self):
        _check_int("beam width", self.width)
        _check_int("candidates per beam", self.candidates_per_beam)
        _check_int("chunk_tokens", self.chunk_tokens)
        object.__setattr__(self, "verifiers", _check_verifiers(self.verifiers))

    @property
    def rows(self) -> int:
        return self.width * self.candidates_per_beam

    @property
    def budget(self) -> int:
        return self.rows


@dataclass(frozen=True)
class PartialPRM:
    """PRM beam search for the first part of the utterance, then plain sampling to the end.

    The best beam after the PRM part is continued by plain sampling (one row).

    Attributes:
        beam: the beam settings used for the guided part.
        prm_chunks: guided steps (exclusive with ``prm_seconds``).
        prm_seconds: guided length in seconds (rounded up to whole steps).
    """

    beam: Beam = field(default_factory=Beam)
    prm_chunks: int | None = None
    prm_seconds: float | None = None

    def __post_init__(self):
        _check_prm(self)

    @property
    def guided_chunks(self) -> int:
        return _guided(self)

    @property
    def verifiers(self) -> tuple:
        return self.beam.verifiers

    @property
    def budget(self) -> int:
        return self.beam.rows


@dataclass(frozen=True)
class Hybrid:
    """The paper's hybrid: partial PRM (speaker similarity), then ORM (WER) over final
    candidates.

    After the guided part, the kept beams are forked round-robin into ``final_candidates``
    rows, sampled to the end, and ranked by ``orm_verifiers``.

    Attributes:
        beam: guided-part beam settings (its verifiers are the PRM, default ``sim``).
        prm_chunks / prm_seconds: length of the guided part (as :class:`PartialPRM`).
        final_candidates: M, complete candidates ranked by the ORM.
        orm_verifiers: ORM verifier specs (default ``wer``).
    """

    beam: Beam = field(default_factory=Beam)
    prm_chunks: int | None = None
    prm_seconds: float | None = 1.0
    final_candidates: int = 4
    orm_verifiers: tuple = ("wer",)

    def __post_init__(self):
        if self.prm_chunks is not None and self.prm_seconds == 1.0:
            object.__setattr__(self, "prm_seconds", None)  # chunks given: drop the default
        _check_prm(self)
        _check_int("final_candidates", self.final_candidates)
        object.__setattr__(self, "orm_verifiers", _check_verifiers(self.orm_verifiers))

    @property
    def guided_chunks(self) -> int:
        return _guided(self)

    @property
    def verifiers(self) -> tuple:
        return self.orm_verifiers

    @property
    def budget(self) -> int:
        return max(self.beam.rows, self.final_candidates)


@dataclass(frozen=True)
class Threshold:
    """Resample until the verifier reaches ``target`` or ``max_samples`` are spent.

    Rounds of ``batch`` candidates share one prefill; the search stops after the first round
    holding a candidate that meets the target (``<= target`` for lower-is-better verifiers such
    as WER, ``>=`` otherwise).

    Attributes:
        verifier: the verifier spec or object (exactly one).
        target: the score to reach.
        max_samples: candidate budget.
        batch: candidates per round (1 = strictly sequential).
        op: ``"<="`` or ``">="`` as written by the user (None: from the verifier's direction);
            checked against the verifier's direction when the search runs.
    """

    verifier: object = "wer"
    target: float = 0.1
    max_samples: int = 8
    batch: int = 1
    op: str | None = None

    def __post_init__(self):
        _check_verifiers(self.verifier)
        if not isinstance(self.target, (int, float)) or not math.isfinite(self.target):
            raise InputError(f"threshold target must be a number, got {self.target!r}")
        _check_int("max_samples", self.max_samples)
        _check_int("batch", self.batch)
        if self.op not in (None, "<=", ">="):
            raise InputError(f"threshold op must be '<=' or '>=', got {self.op!r}")

    @property
    def verifiers(self) -> tuple:
        return (self.verifier,)

    def check_direction(self, higher_is_better: bool, name: str) -> None:
        """Refuse an ``op`` written against the verifier's direction (InputError)."""
        if self.op is not None and (self.op == ">=") != bool(higher_is_better):
            better, want = ("higher", ">=") if higher_is_better else ("lower", "<=")
            raise InputError(f"verifier {name!r} is {better}-is-better: write "
                             f"{name}{want}{self.target:g}")

    @property
    def budget(self) -> int:
        return self.max_samples


SearchConfig = Union[BestOfN, Beam, PartialPRM, Hybrid, Threshold]


def _check_prm(cfg) -> None:
    if not isinstance(cfg.beam, Beam):
        raise InputError(f"beam must be a Beam config, got {type(cfg.beam).__name__}")
    if (cfg.prm_chunks is None) == (cfg.prm_seconds is None):
        raise InputError("give the guided part as prm_chunks or prm_seconds (exactly one)")
    if cfg.prm_chunks is not None:
        _check_int("prm_chunks", cfg.prm_chunks)
    elif not isinstance(cfg.prm_seconds, (int, float)) or not cfg.prm_seconds > 0:
        raise InputError(f"prm_seconds must be a number > 0, got {cfg.prm_seconds!r}")


def _guided(cfg) -> int:
    if cfg.prm_chunks is not None:
        return cfg.prm_chunks
    return max(1, math.ceil(round(cfg.prm_seconds * FRAME_RATE
                                  / cfg.beam.chunk_tokens, 6)))


# ------------------------------------------------------------------------------- parsing
_BEAM = re.compile(r"(\d+)x(\d+)(?:x(\d+))?")
_THRESH = re.compile(r"\s*(\S+?)\s*(<=|>=)\s*([-+0-9.eE]+)\s*")


def _parse_beam(text: str, verifiers: tuple) -> Beam:
    m = _BEAM.fullmatch(text.strip())
    if not m:
        raise InputError(f"beam shape {text!r} must read BxK or BxKxT (e.g. 4x4x25)")
    b, k, t = int(m.group(1)), int(m.group(2)), m.group(3)
    return Beam(b, k, int(t) if t else DEFAULT_CHUNK_TOKENS, verifiers)


def _parse_guided(text: str) -> dict:
    text = text.strip()
    try:
        if text.endswith("c"):
            return {"prm_chunks": int(text[:-1]), "prm_seconds": None}
        return {"prm_seconds": float(text.rstrip("s"))}
    except ValueError:
        raise InputError(f"guided length {text!r} must be seconds (1.5) or chunks (3c)") from None


def parse_search(spec: str, verifiers: tuple | list = ()) -> SearchConfig:
    """Read a search spec (module docstring grammar) into a config.

    Args:
        spec: e.g. ``"best-of-n:8"``, ``"beam:4x4x25"``, ``"hybrid:2x4x25:1.0:4"``,
            ``"threshold:wer<=0.1,max=16"``.
        verifiers: verifier specs from ``--verifier`` (default: ``wer`` for best-of-N,
            ``sim`` for beam / partial, ``sim`` + ``wer`` for hybrid).

    Raises:
        InputError: the spec does not follow the grammar or holds invalid numbers.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise InputError("search spec is empty; e.g. best-of-n:8 or beam:4x4x25")
    kind, _, rest = spec.strip().partition(":")
    kind = kind.lower().replace("_", "-")
    parts = rest.split(":") if rest else []
    vs = tuple(verifiers)
    try:
        if kind in ("best-of-n", "bon", "orm"):
            if len(parts) != 1:
                raise InputError("write best-of-n:N, e.g. best-of-n:8")
            return BestOfN(int(parts[0]), vs or ("wer",))
        if kind in ("beam", "prm"):
            if len(parts) != 1:
                raise InputError("write beam:BxK or beam:BxKxT, e.g. beam:4x4x25")
            return _parse_beam(parts[0], vs or ("sim",))
        if kind == "partial":
            if len(parts) != 2:
                raise InputError("write partial:BxK[xT]:SECONDS (or :Nc chunks), "
                                 "e.g. partial:2x4x25:1.5")
            return PartialPRM(_parse_beam(parts[0], vs or ("sim",)), **_parse_guided(parts[1]))
        if kind == "hybrid":
            if len(parts) != 3:
                raise InputError("write hybrid:BxK[xT]:SECONDS:M, e.g. hybrid:2x4x25:1.0:4")
            prm, orm = (vs[:1], vs[1:]) if len(vs) >= 2 else ((), vs)
            return Hybrid(_parse_beam(parts[0], prm or ("sim",)), **_parse_guided(parts[1]),
                          final_candidates=int(parts[2]), orm_verifiers=orm or ("wer",))
        if kind == "threshold":
            return _parse_threshold(rest)
    except ValueError as e:
        if isinstance(e, InputError):
            raise
        raise InputError(f"cannot read the numbers in search spec {spec!r}: {e}") from None
    raise InputError(f"unknown search strategy {kind!r} in {spec!r}; use best-of-n:N, "
                     "beam:BxKxT, partial:BxKxT:S, hybrid:BxKxT:S:M or threshold:V<=X,max=N")


def _parse_threshold(rest: str) -> Threshold:
    items = [x for x in rest.split(",") if x.strip()]
    if not items:
        raise InputError("write threshold:VERIFIER<=X,max=N, e.g. threshold:wer<=0.1,max=16")
    m = _THRESH.fullmatch(items[0])
    if not m:
        raise InputError(f"threshold {items[0]!r} must read VERIFIER<=X or VERIFIER>=X")
    kw = {"verifier": m.group(1), "target": float(m.group(3)), "op": m.group(2)}
    for item in items[1:]:
        key, _, val = item.partition("=")
        key = key.strip()
        if key not in ("max", "batch"):
            raise InputError(f"unknown threshold option {key!r}; use max=N and batch=B")
        kw["max_samples" if key == "max" else "batch"] = int(val)
    return Threshold(**kw)
