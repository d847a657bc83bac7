"""A Llasa LM on ONNX Runtime + numpy: the torch-free twin of :class:`~llasa.lm.model.LlasaLM`.

Notation: ``L`` layers, ``h`` KV heads, ``p`` cached positions, ``e`` head size, ``v`` allowed
ids (0 = SPEECH_GENERATION_END, 1 + k = ``<|s_k|>``).

It runs the graph made by :mod:`llasa.lm.onnx_export` (prefill once, then one position per
step with the KV cache passed back in) and samples in numpy (:mod:`llasa.lm.np_sampling`).
Prompts are built by the same functions as the torch LM (:mod:`llasa.lm.prompt`) over the
same ``tokenizer.json`` (:class:`~llasa.lm.tokenizer.LiteTokenizer`), and the token cap
follows the same rule, so greedy decoding gives the torch LM's tokens. It offers what the
:class:`~llasa.tts.pipeline.Llasa` pipeline uses: ``vocab``, ``tokenizer``,
``prepare_text``, ``build_prompt``, ``generate``, ``max_context``, ``sampling_defaults``,
``long_text_defaults``. One row at a time: the shipped model decodes a step in well under a
millisecond, and rows of a batch run one after another.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._common.errors import BudgetError, Cancelled, InputError, ModelLoadError
from .._common.ort import session
from .frontend import apply_frontend, get_frontend
from .np_sampling import choose
from .prompt import build_tts_prompt, prompt_text_chars
from .settings import GenerationSettings, token_budget
from .tokenizer import LiteTokenizer
from .tokens import SpeechVocab


@dataclass
class Generation:
    """One generated candidate (the fields of :class:`llasa.lm.model.Generation`).

    Attributes:
        codes: int64 [T] new speech codes (END excluded). ended: stopped on END, not the cap.
        num_tokens: tokens sampled (END included). cancelled: its ``should_stop`` fired.
    """

    codes: np.ndarray
    ended: bool
    num_tokens: int
    cancelled: bool = False


@dataclass
class OnnxLMConfig:
    """The manifest's ``lm`` section (written by :func:`llasa.lm.onnx_export.export_lm`)."""

    layers: int
    kv_heads: int
    head_dim: int
    vocab: dict
    file: str = "lm.onnx"
    tokenizer: str = "tokenizer.json"
    max_context: int = 2048
    chat_template: str | None = None
    rendered_skeleton: dict = field(default_factory=dict)
    frontend: str | None = None
    sampling: dict = field(default_factory=dict)
    long_text: dict = field(default_factory=dict)


class OnnxLM:
    """Args:
        directory: the export folder (graph + ``tokenizer.json``).
        config: its manifest section.
        threads: intra-op threads; one is fastest for a model this small.

    Raises:
        ModelLoadError: missing files, or a tokenizer whose Llasa ids differ from the graph's.
    """

    def __init__(self, directory: str | Path, config: OnnxLMConfig, threads: int = 1):
        d = Path(directory)
        self.config = config
        self.tokenizer = LiteTokenizer(d / config.tokenizer, config.chat_template,
                                       config.rendered_skeleton)
        self.vocab = SpeechVocab.from_tokenizer(self.tokenizer)
        if self.vocab != SpeechVocab(**config.vocab):
            raise ModelLoadError(f"{d}: tokenizer.json does not match the exported graph's "
                                 "vocabulary; export again")
        self.frontend = get_frontend(config.frontend)
        self.sampling_defaults = dict(config.sampling)
        GenerationSettings(**self.sampling_defaults)  # bad values fail at load
        self.long_text_defaults = dict(config.long_text)
        self.max_context = int(config.max_context)
        self.session = session(d / config.file, threads=threads)
        self._cache_names = [(f"past_{kv}{i}", f"present_{kv}{i}")
                             for kv in "kv" for i in range(config.layers)]
        v = self.vocab
        self._head_ids = np.concatenate([[v.speech_end], v.speech_offset
                                         + np.arange(v.codebook_size)]).astype(np.int64)

    # ---- prompts (the rules of LlasaLM) ------------------------------------------------------
    def prepare_text(self, text: str) -> str:
        """``text`` through the model's frontend (see ``LlasaLM.prepare_text``)."""
        return apply_frontend(self.frontend, text)

    def build_prompt(self, text: str, *, prompt_text: str | None = None,
                     prompt_codes=None) -> list[int]:
        """Official TTS / cloning prompt ids, both texts through :meth:`prepare_text`."""
        if prompt_text is not None:
            prompt_text = self.prepare_text(prompt_text)
        return build_tts_prompt(self.tokenizer, self.prepare_text(text), prompt_text=prompt_text,
                                prompt_codes=prompt_codes, vocab=self.vocab)

    def default_settings(self) -> GenerationSettings:
        return GenerationSettings(**self.sampling_defaults)

    def cap(self, prompt: Sequence[int], s: GenerationSettings) -> int:
        """New-token cap of a prompt: explicit, or from its text length; within the context."""
        room = self.max_context - len(prompt)
        if room < 1:
            raise BudgetError(f"prompt of {len(prompt)} tokens leaves no room in the "
                              f"{self.max_context}-token context; shorten the text or voice "
                              "prompt")
        chars, speech = (0, 0) if s.max_new_tokens is not None else prompt_text_chars(
            list(prompt), self.tokenizer, self.vocab)
        return token_budget(chars, room, s, prompt_codes=speech)

    # ---- generation --------------------------------------------------------------------------
    def generate(self, prompts: list[list[int]], settings: GenerationSettings | None = None, *,
                 num_candidates: int = 1,
                 should_stop: Callable[[], bool] | Sequence[Callable[[], bool]] | None = None
                 ) -> list[list[Generation]]:
        """Sample speech for each prompt (``out[i][j]``: candidate j of prompt i).

        One numpy generator seeded with ``settings.seed`` serves the rows in order, so a seed
        reproduces the whole result. ``should_stop``: one function (True raises
        :class:`Cancelled`) or one per prompt (True drops that prompt: ``cancelled``).
        """
        if not prompts or isinstance(prompts[0], int):
            raise InputError("generate takes a non-empty list of prompts (lists of ids)")
        if num_candidates < 1:
            raise InputError(f"number of candidates must be >= 1, got {num_candidates}")
        s = settings or self.default_settings()
        if s.cfg_scale != 1.0:
            raise InputError("the onnx engine has no classifier-free guidance; use the torch "
                             "engine for cfg_scale != 1")
        per_prompt = isinstance(should_stop, (list, tuple))
        if per_prompt and len(should_stop) != len(prompts):
            raise InputError(f"should_stop has {len(should_stop)} functions for "
                             f"{len(prompts)} prompts")
        for p in prompts:
            self.vocab.check_prompt(p)
        rng = np.random.default_rng(s.seed)
        out = []
        for i, p in enumerate(prompts):
            stop = should_stop[i] if per_prompt else should_stop
            row = []
            for _ in range(num_candidates):
                try:
                    row.append(self._sample(p, s, rng, stop))
                except Cancelled:
                    if not per_prompt:
                        raise
                    row.append(Generation(np.zeros(0, np.int64), False, 0, cancelled=True))
            out.append(row)
        if per_prompt and all(g.cancelled for row in out for g in row):
            raise Cancelled("generation cancelled")
        return out

    def start(self, *_args, **_kw):
        raise InputError("the onnx engine has no forkable decoding state (beam search); use "
                         "the torch engine")

    def stream(self, *_args, **_kw):
        raise InputError("the onnx engine does not stream; use the torch engine "
                         "(--engine torch, or Llasa.from_pretrained)")

    def _bind(self, length: int):
        """An IO binding whose pasts and presents share preallocated [1, h, length, e] buffers
        (one per layer and side): the graph then appends in place (``onnx_graph``)."""
        import onnxruntime as ort

        c = self.config
        b = self.session.io_binding()
        b.bind_output("logits")
        for past, present in self._cache_names:
            buf = ort.OrtValue.ortvalue_from_numpy(
                np.zeros((1, c.kv_heads, length, c.head_dim), np.float32))
            b.bind_ortvalue_input(past, buf)
            b.bind_ortvalue_output(present, buf)
        return b

    def _run(self, binding, ids: np.ndarray, past_len: int) -> np.ndarray:
        """ids [1, s] after ``past_len`` cached positions → logits [v] of the last one."""
        binding.bind_cpu_input("ids", ids)
        binding.bind_cpu_input("past_len", np.array(past_len, np.int64))
        self.session.run_with_iobinding(binding)
        return binding.get_outputs()[0].numpy()[0]

    def _sample(self, prompt: Sequence[int], s: GenerationSettings, rng: np.random.Generator,
                should_stop: Callable[[], bool] | None) -> Generation:
        vocab = self.vocab
        cap = self.cap(prompt, s)
        arr = np.asarray(prompt, dtype=np.int64)
        spoken = (arr[vocab.is_speech(arr)] - vocab.speech_offset + 1).tolist()  # into v
        hist = spoken[-s.repetition_window:] if s.repetition_window else spoken
        binding = self._bind(len(arr) + cap)  # the cap keeps this within the context
        row = self._run(binding, arr[None], 0)
        picks: list[int] = []
        ended = False
        while True:
            if should_stop is not None and should_stop():
                raise Cancelled("generation cancelled")
            if not picks:  # never END at step 0
                row[0] = -math.inf
            window = hist[-s.repetition_window:] if s.repetition_window else hist
            pick = choose(row, s, np.asarray(window, np.int64), rng)
            picks.append(pick)
            if pick == 0:
                ended = True
                break
            if len(picks) >= cap:
                break
            hist.append(pick)
            row = self._run(binding, self._head_ids[pick].reshape(1, 1),
                            len(arr) + len(picks) - 1)
        codes = np.asarray([t - 1 for t in picks if t != 0], dtype=np.int64)
        return Generation(codes, ended, len(picks))

    def warm_up(self) -> None:
        """A 2-token prefill and one step: ORT's first runs plan and allocate."""
        binding = self._bind(4)
        self._run(binding, np.array([[0, 1]], np.int64), 0)
        self._run(binding, np.array([[2]], np.int64), 2)
