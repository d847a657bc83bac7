"""``LlasaLM``: a Llama causal LM + its Llasa tokenizer, loaded, saved and sampled from.

The network is the unchanged ``transformers.LlamaForCausalLM``; what Llasa adds is the
vocabulary (:mod:`llasa.lm.tokens`), the prompt (:mod:`llasa.lm.prompt`) and the decoding
loop (:mod:`llasa.lm.decoding`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import torch

from .._common.device import resolve_device, resolve_dtype, warn_if_emulated
from .._common.errors import Cancelled, InputError, ModelLoadError, no_safetensors_message
from .._common.hub import resolve
from .decoding import DecodeState, HeadRows
from .._common.packing import decode_batch_hint, pack_linears, should_pack, unpack_linears
from . import bf16 as bf16_kernel
from .frontend import FRONTEND_KEY, get_frontend
from .prompt import build_tts_prompt, prompt_text_chars
from .quant import (CALIBRATION_TEXTS, QUANT_KEY, check_quant, input_absmax, quant_config,
                    quantize_model)
from .quant_io import (HEAD_ABSMAX, declared_quant as _declared_quant, load_quantized_model,
                       save_quantized_model, stored_quant)
from .sampling import GenerationSettings
from .tokens import SpeechVocab

MAX_CONTEXT = 2048  # Llasa was trained on 2048-token rows (text + speech)


@dataclass
class Generation:
    """One generated candidate.

    Attributes:
        codes: int64 [T] new speech codes (prompt codes and END excluded).
        ended: True if sampling stopped on SPEECH_GENERATION_END, False if it hit the cap.
        num_tokens: LM tokens sampled (END included).
        cancelled: its prompt's ``should_stop`` fired: the codes so far, the row left the batch.
    """

    codes: np.ndarray
    ended: bool
    num_tokens: int
    cancelled: bool = False


class LlasaLM:
    """A Llasa speech LM.

    Attributes:
        model: ``transformers.LlamaForCausalLM`` (eval mode).
        tokenizer: the Llasa tokenizer (8 added tokens + speech tokens + chat template).
        frontend: what the model reads instead of raw text, as its config declares
            (:mod:`llasa.lm.frontend`; None for the official checkpoints).
        sampling_defaults: :class:`GenerationSettings` fields the model recommends, from
            ``config.json``'s ``llasa_sampling`` (empty for the official checkpoints: the
            model card's settings stay the defaults).
        long_text_defaults: how the model wants long text chunked, from ``config.json``'s
            ``llasa_long_text`` (``{"carry": false}``: prompt each chunk with the voice only;
            empty for the official checkpoints).
        vocab: :class:`SpeechVocab` of the tokenizer, validated at construction.
        max_context: 2048, the training length; prompt + new tokens never exceed it.
        device, dtype: where the weights live.
    """

    def __init__(self, model, tokenizer, *, device=None, dtype=None,
                 max_context: int = MAX_CONTEXT, optimize: bool = False,
                 quant: str | None = None):
        self.vocab = SpeechVocab.from_tokenizer(tokenizer)
        emb = model.get_input_embeddings().weight.shape[0]
        if emb < self.vocab.vocab_size:
            raise ModelLoadError(f"model has {emb} embedding rows but the tokenizer has "
                                 f"{self.vocab.vocab_size} ids: not a matching Llasa pair")
        self.device = resolve_device(device) if device is not None else model.device
        self.dtype = resolve_dtype(dtype) if dtype is not None else model.dtype
        self.model = model.to(device=self.device, dtype=self.dtype).eval()
        self.tokenizer = tokenizer
        self.frontend = get_frontend(getattr(model.config, FRONTEND_KEY, None))
        self.sampling_defaults = _sampling_defaults(model.config)
        self.long_text_defaults = _long_text_defaults(model.config)
        self.max_context = int(max_context)
        self._head: HeadRows | None = None
        self.optimized = False
        self.quant = _declared_quant(model)  # a checkpoint stored quantized (load_quantized)
        self._head_absmax = getattr(model, HEAD_ABSMAX, None)  # int8 head smoothing
        if quant is not None:
            self.quantize(quant)
        if optimize:
            self.optimize()

    # ---- loading / saving -------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, path_or_id: str | Path, *, device=None, dtype=None,
                        revision: str | None = None, optimize: bool | str = "auto",
                        quant: str | None = None) -> "LlasaLM":
        """Load an official checkpoint (e.g. ``HKUSTAudio/Llasa-1B``) or a saved directory.

        Args:
            path_or_id: hub id or local directory (``config.json``, weights, tokenizer files).
            device: "cpu", "cuda", ... (default: CUDA if available).
            dtype: "fp32" / "bf16" / torch dtype (default fp32).
            revision: hub revision (branch, tag or commit).
            optimize: "auto" (default) or True: prepare for fast CPU inference
                (:meth:`optimize`; a no-op on GPU or in fp16): the loaded model is then
                inference-only until :meth:`unoptimize`. False: plain trainable layers.
                (The constructor defaults to False: it wraps a model the caller may train.)
            quant: "int8" or "int4": quantize the decoder's weights for CPU decoding
                (:mod:`llasa.lm.quant`). A checkpoint saved quantized (``llasa quantize``)
                loads quantized without it.

        Raises:
            ModelLoadError: not found, not a Llama checkpoint, or a tokenizer without the
                Llasa tokens.
        """
        from transformers import AutoTokenizer, LlamaForCausalLM

        if optimize not in (True, False, "auto"):
            raise InputError(f"optimize must be True, False or 'auto', got {optimize!r}")
        path = resolve(path_or_id, revision=revision)
        if not (path / "config.json").is_file():
            raise ModelLoadError(f"{path} has no config.json: not a model directory")
        dev = resolve_device(device)
        dt = resolve_dtype(dtype, dev)
        warn_if_emulated(dt, dev, "LM")
        quant = check_quant(quant)
        stored = stored_quant(path)
        if (quant or stored) and dev.type != "cpu":
            raise InputError("quantized weights (int8/int4) run on the CPU only; use --dtype "
                             "bf16 on a GPU")
        if stored and quant not in (None, stored["method"]):
            raise InputError(f"{path} is stored as {stored['method']}; it cannot be "
                             f"re-quantized to {quant}: start from the float model")
        quant = None if stored else quant
        if not stored and not any(path.glob("*.safetensors")):
            raise ModelLoadError(no_safetensors_message(path))  # transformers would unpickle
        try:
            tok = AutoTokenizer.from_pretrained(str(path))
            if stored:
                model = load_quantized_model(path, dt)
            else:
                model = LlamaForCausalLM.from_pretrained(str(path), dtype=dt)
        except (OSError, ValueError, KeyError) as e:
            raise ModelLoadError(f"cannot load a Llama LM from {path}: {e}") from None
        return cls(model, tok, device=dev, dtype=dt, optimize=bool(optimize), quant=quant)

    def save_pretrained(self, directory: str | Path) -> None:
        """Write ``config.json`` + ``model.safetensors`` + tokenizer files (HF layout)."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        if self.quant:  # integers and scales, as llasa quantize writes them
            save_quantized_model(self.model, d, self.quant, self._head_absmax)
            self.tokenizer.save_pretrained(str(d))
            return
        was = self.optimized
        self.unoptimize()  # packed layers have no state_dict weights: save plain ones
        try:
            self.model.save_pretrained(str(d))
            self.tokenizer.save_pretrained(str(d))
        finally:
            if was:
                self.optimize()

    def optimize(self) -> "LlasaLM":
        """Pack the decoder's linear layers for oneDNN (CPU, fp32/bf16; no-op elsewhere), or,
        in bf16 on CPUs with AVX512-BF16 and no AMX, for llasa's bf16 kernel (:mod:`.bf16`).

        Decoding gets faster (see ``bench/lm.py``), outputs stay the same (oneDNN: bit-identical
        in bf16, ~1e-6 in fp32; the bf16 kernel: within bf16 rounding, its sums run in another
        order); the layers are no longer trainable until :meth:`unoptimize`.
        """
        if self.optimized or self.quant or self.device.type != "cpu":
            return self
        if self.dtype == torch.bfloat16 and bf16_kernel.preferred():
            bf16_kernel.swap_in(self.model.model.layers)
        elif should_pack(self.device, self.dtype, "decode"):
            pack_linears(self.model.model.layers, decode_batch_hint(self.dtype))
        else:
            return self
        self.optimized, self._head = True, None
        return self

    def quantize(self, method: str) -> "LlasaLM":
        """Quantize the decoder's linear layers to ``method`` ("int8" / "int4") in place, and
        the allowed output rows with them (:mod:`llasa.lm.quant`). Inference only, CPU."""
        method = check_quant(method)
        if method is None or method == self.quant:
            return self
        if self.quant:
            raise InputError(f"the LM is already {self.quant}; load the float model to "
                             f"quantize it to {method}")
        if self.device.type != "cpu":
            raise InputError("quantized weights (int8/int4) run on the CPU only")
        self.unoptimize()
        stats = self._calibrate() if method == "int8" else {}
        quantize_model(self.model.model.layers, method, stats)
        self.quant, self._head = method, None
        self._head_absmax = stats.get("head")
        setattr(self.model.config, QUANT_KEY, quant_config(method))
        return self

    def _calibrate(self) -> dict:
        """Per-channel |input| maxima of every linear layer and of the head's input, over a
        short seeded generation from :data:`CALIBRATION_TEXTS` (int8 smoothing)."""
        layers = self.model.model.layers
        prompts = [self.build_prompt(t) for t in CALIBRATION_TEXTS]
        settings = GenerationSettings(**{**self.sampling_defaults, "seed": 0,
                                         "max_new_tokens": 32})
        with input_absmax(layers, {"head": self.model.model.norm}) as cal:
            self.generate(prompts, settings)
        return cal.stats

    def unoptimize(self) -> "LlasaLM":
        """Undo :meth:`optimize`: plain, trainable ``nn.Linear`` layers again."""
        if self.optimized:
            unpack_linears(self.model.model.layers)
            bf16_kernel.swap_out(self.model.model.layers)
            self.optimized = False
            self._head = None
        return self

    # ---- prompts ----------------------------------------------------------------------------
    def prepare_text(self, text: str) -> str:
        """``text`` as the model reads it: through its frontend (trailing space kept), or as is.

        Raises:
            InputError: text with nothing the frontend can speak (e.g. only punctuation).
        """
        if self.frontend is None or not isinstance(text, str) or not text.strip():
            return text
        out = self.frontend(text)
        if not out.strip():
            raise InputError(f"nothing to speak in {text!r}")
        return out + (" " if text[-1].isspace() else "")

    def build_prompt(self, text: str, *, prompt_text: str | None = None,
                     prompt_codes=None) -> list[int]:
        """Official TTS / cloning prompt ids (see :func:`llasa.lm.prompt.build_tts_prompt`),
        both texts through :meth:`prepare_text`."""
        if prompt_text is not None:
            prompt_text = self.prepare_text(prompt_text)
        return build_tts_prompt(self.tokenizer, self.prepare_text(text), prompt_text=prompt_text,
                                prompt_codes=prompt_codes, vocab=self.vocab)

    def prompt_stats(self, prompt: list[int]) -> tuple[int, int]:
        """(text characters, prompt speech tokens) of a prompt; drives the length cap."""
        return prompt_text_chars(prompt, self.tokenizer, self.vocab)

    def head_rows(self) -> HeadRows:
        """The allowed rows of the output matrix (a view; rebuilt if the weights moved)."""
        w = self.model.get_output_embeddings().weight
        if self._head is None or self._head.source_ptr != w.data_ptr():
            self._head = HeadRows(w, self.vocab, packed=self.optimized, quant=self.quant,
                                  act_absmax=self._head_absmax)
        return self._head

    # ---- generation -------------------------------------------------------------------------
    def default_settings(self) -> GenerationSettings:
        """The card's sampling defaults with what this model declares (``llasa_sampling``)."""
        return GenerationSettings(**self.sampling_defaults)

    def start(self, prompt: list[int], num_rows: int = 1,
              settings: GenerationSettings | None = None, *,
              should_stop: Callable[[], bool] | None = None) -> DecodeState:
        """Prefill ``prompt`` once and fork it into ``num_rows`` rows (search API).

        ``should_stop`` is asked before each step (see :class:`DecodeState`)."""
        return DecodeState(self, [list(prompt)], int(num_rows),
                           settings or self.default_settings(), should_stop=should_stop)

    def generate(self, prompts: list[list[int]], settings: GenerationSettings | None = None, *,
                 num_candidates: int = 1,
                 should_stop: Callable[[], bool] | Sequence[Callable[[], bool]] | None = None
                 ) -> list[list[Generation]]:
        """Sample speech for several prompts at once (left-padded batch).

        Args:
            prompts: token-id lists, e.g. from :meth:`build_prompt`.
            settings: sampling settings (default: the official card's).
            num_candidates: candidates per prompt; each prompt is prefilled once and its KV
                cache copied to its candidates.
            should_stop: one function, asked once per decoding step, whose True stops the
                whole batch; or one function per prompt: when prompt i's returns True its
                rows leave the batch (``out[i][j].cancelled``) and the others go on.

        Returns:
            ``out[i][j]``: candidate j of prompt i.

        Raises:
            Cancelled: the single ``should_stop()`` returned True before every row finished,
                or every prompt's own function did.
        """
        if isinstance(prompts, (list, tuple)) and prompts and isinstance(prompts[0], int):
            raise InputError("generate takes a list of prompts (list of lists of ids)")
        per_prompt = isinstance(should_stop, (list, tuple))
        if per_prompt and len(should_stop) != len(prompts):
            raise InputError(f"should_stop has {len(should_stop)} functions for "
                             f"{len(prompts)} prompts")
        state = DecodeState(self, [list(p) for p in prompts], int(num_candidates),
                            settings or self.default_settings(),
                            should_stop=None if per_prompt else should_stop)
        owner = [(i, j) for i in range(len(prompts)) for j in range(num_candidates)]
        out: list[list[Generation | None]] = [[None] * num_candidates for _ in prompts]
        while state.num_rows:
            if per_prompt:
                owner = _drop_cancelled(state, owner, should_stop, out)
                if not owner:
                    break
            state.step(1)
            keep = []
            for r, (i, j) in enumerate(owner):
                if state.finished(r):
                    out[i][j] = Generation(state.codes(r), state.ended(r), state.num_tokens(r))
                else:
                    keep.append(r)
            if not keep:
                break
            if len(keep) < state.num_rows:  # finished rows leave the batch: no wasted compute
                state.select(keep)
                owner = [owner[r] for r in keep]
        if per_prompt and all(g.cancelled for row in out for g in row):
            raise Cancelled("generation cancelled")
        return out  # type: ignore[return-value]

    def stream(self, prompt: list[int], settings: GenerationSettings | None = None,
               chunk: int = 1, *, should_stop: Callable[[], bool] | None = None
               ) -> Iterator[np.ndarray | Generation]:
        """Yield new speech codes (int64 [≤ chunk]) as they are sampled (END is not yielded),
        then one :class:`Generation` of the whole: its ``ended`` says END rather than the cap."""
        state = self.start(prompt, 1, settings, should_stop=should_stop)
        sent = 0
        while not state.finished(0):
            state.step(chunk)
            codes = state.codes(0)
            if len(codes) > sent:
                yield codes[sent:]
                sent = len(codes)
        yield Generation(state.codes(0), state.ended(0), state.num_tokens(0))


SAMPLING_KEY = "llasa_sampling"


def _sampling_defaults(config) -> dict:
    """The ``llasa_sampling`` a model's config declares, checked now (bad values and unknown
    keys are a load error, not a surprise at the first request)."""
    from dataclasses import fields

    d = getattr(config, SAMPLING_KEY, None) or {}
    if not isinstance(d, dict):
        raise ModelLoadError(f"config.json {SAMPLING_KEY} must be an object, got {d!r}")
    known = {f.name for f in fields(GenerationSettings)} - {"seed", "max_new_tokens",
                                                            "token_limit"}
    unknown = sorted(set(d) - known)
    if unknown:
        raise ModelLoadError(f"config.json {SAMPLING_KEY} has unknown keys {unknown}; "
                             f"known: {sorted(known)}")
    try:
        GenerationSettings(**d)
    except InputError as e:
        raise ModelLoadError(f"config.json {SAMPLING_KEY}: {e}") from None
    return dict(d)


LONG_TEXT_KEY = "llasa_long_text"


def _long_text_defaults(config) -> dict:
    """The ``llasa_long_text`` a model's config declares, checked now: ``{"carry": bool}``."""
    d = getattr(config, LONG_TEXT_KEY, None) or {}
    if not isinstance(d, dict) or set(d) - {"carry"}:
        raise ModelLoadError(f"config.json {LONG_TEXT_KEY} must be an object with the only key "
                             f"'carry', got {d!r}")
    if "carry" in d and not isinstance(d["carry"], bool):
        raise ModelLoadError(f"config.json {LONG_TEXT_KEY}.carry must be true or false, "
                             f"got {d['carry']!r}")
    return dict(d)


def _drop_cancelled(state: DecodeState, owner: list[tuple[int, int]], stops, out) -> list:
    """Rows of prompts whose ``stops[i]()`` is True leave the batch (their generations so far
    are kept, marked cancelled); returns the remaining rows' (prompt, candidate) owners."""
    gone = {i for i in dict.fromkeys(i for i, _ in owner) if stops[i]()}
    if not gone:
        return owner
    keep = []
    for r, (i, j) in enumerate(owner):
        if i in gone:
            out[i][j] = Generation(state.codes(r), False, state.num_tokens(r), cancelled=True)
        else:
            keep.append(r)
    if keep:
        state.select(keep)
    return [owner[r] for r in keep]
