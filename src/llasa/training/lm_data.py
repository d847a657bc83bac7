"""LM training sequences, labels, packing and the collator.

Notation: ``l`` tokens in one sequence, ``b`` sequences in a batch, ``L`` the longest in it.

**TTS** (the official ``train_tts.py`` layout; the prefix up to ``<|SPEECH_GENERATION_START|>``
equals the inference prompt of :func:`llasa.lm.build_tts_prompt` token for token)::

    <|begin_of_text|><|start_header_id|>system<|end_header_id|>\\n\\nCutting Knowledge Date: ...
    Today Date: 26 Jul 2024\\n\\n<|eot_id|><|start_header_id|>user<|end_header_id|>\\n\\n
    Convert the text to speech:<|TEXT_UNDERSTANDING_START|>TEXT<|TEXT_UNDERSTANDING_END|><|eot_id|>
    <|start_header_id|>assistant<|end_header_id|>\\n\\n[Speaker NAME ]<|SPEECH_GENERATION_START|>
    <|s_c0|>...<|s_cT|><|SPEECH_GENERATION_END|><|eot_id|>

Labels are -100 except from ``<|SPEECH_GENERATION_START|>`` through
``<|SPEECH_GENERATION_END|>`` (the official recipe masks every ``<|eot_id|>``, its pad id, so
the final one carries no loss either).

**ASR** (the paper's understanding direction; its exact prompt is unpublished, this is ours)::

    ...user<|end_header_id|>\\n\\nConvert the speech to text:<|SPEECH_UNDERSTANDING_START|>
    <|s_c0|>...<|s_cT|><|SPEECH_UNDERSTANDING_END|><|eot_id|>
    <|start_header_id|>assistant<|end_header_id|>\\n\\n<|TEXT_GENERATION_START|>TEXT
    <|TEXT_GENERATION_END|><|eot_id|>

with labels on ``<|TEXT_GENERATION_START|>`` .. ``<|TEXT_GENERATION_END|>``.

**Attention mask.** The official dataset sets ``attention_mask = ids != pad`` with pad ==
``<|eot_id|>``, which also hides the system and user turns' ``<|eot_id|>`` from attention.
``mask_template_eot=True`` reproduces that (keeps a fine-tune consistent with how the released
checkpoints were trained); False attends to every real token (as inference does).

**Packing** puts several sequences in one row with restarting ``position_ids`` and no
attention mask: transformers then builds a block-diagonal causal mask, so each sequence sees
only itself and its logits equal those of the sequence alone (tested).
"""

from __future__ import annotations

import numpy as np
import torch

from .._common.errors import InputError
from ..lm.prompt import DEFAULT_DATE, INSTRUCTION
from ..lm.tokens import ADDED_TOKENS, SpeechVocab

ASR_INSTRUCTION = "Convert the speech to text:"
IGNORE = -100
NO_TEXT = -1  # marks an LMDataset item whose text is left out (see ``unconditional``)
_T = {name: tok for name, tok in zip(
    ("tgs", "tge", "tus", "tue", "sgs", "sge", "sus", "sue"), ADDED_TOKENS)}


class SequenceBuilder:
    """Turns (text, codes, speaker) into ``input_ids`` / ``labels`` / ``attention_mask``.

    Args:
        tokenizer: a Llasa tokenizer with a chat template.
        task: "tts" or "asr".
        speaker_prefix: put ``"Speaker NAME "`` before SPEECH_GENERATION_START (tts).
        mask_template_eot: the official attention-mask quirk (see the module docstring).
        date_string: "Today Date" of the system block (the inference prompts' default).
        frontend: what the model reads instead of the transcript (a
            :func:`llasa.lm.frontend.get_frontend` object, e.g. espeak-ng phonemes), applied
            exactly as :class:`~llasa.lm.LlasaLM` applies it at inference (tts only).
    """

    def __init__(self, tokenizer, task: str = "tts", *, speaker_prefix: bool = False,
                 mask_template_eot: bool = False, date_string: str = DEFAULT_DATE,
                 frontend=None):
        if task not in ("tts", "asr"):
            raise InputError(f"task must be 'tts' or 'asr', got {task!r}")
        if frontend is not None and task != "tts":
            raise InputError("a text frontend (data.text_frontend) works with task 'tts' only")
        self.frontend = frontend
        self.tok, self.task = tokenizer, task
        self.vocab = SpeechVocab.from_tokenizer(tokenizer)
        self.speaker_prefix, self.mask_template_eot = speaker_prefix, mask_template_eot
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None \
            else tokenizer.eos_token_id
        self.eot_id = tokenizer.convert_tokens_to_ids("<|eot_id|>")
        if task == "tts":
            chat = [{"role": "user", "content": INSTRUCTION + _T["tus"] + _T["tue"]},
                    {"role": "assistant", "content": _T["sgs"]}]
        else:
            chat = [{"role": "user", "content": ASR_INSTRUCTION + _T["sus"] + _T["sue"]},
                    {"role": "assistant", "content": _T["tgs"]}]
        text = tokenizer.apply_chat_template(chat, tokenize=False, date_string=date_string)
        self.skeleton = list(tokenizer.encode(text, add_special_tokens=False))
        v = self.vocab
        first, second = ((v.text_start, v.speech_start) if task == "tts"
                         else (v.speech_und_start, v.text_gen_start))
        try:
            self._i1 = self.skeleton.index(first)
            self._i2 = self.skeleton.index(second)
        except ValueError:
            raise InputError("the tokenizer's chat template dropped Llasa's marker tokens") \
                from None
        # tokens the template adds around the content: the per-item length is overhead + text
        # tokens + codes (+ the speaker prefix)
        self.overhead = len(self.skeleton) + 1  # + the END token (SGE / TGE)

    def text_ids(self, text: str) -> list[int]:
        """Token ids of a transcript (through the frontend, if any)."""
        return self.plain_ids(self.frontend(text) if self.frontend and text else text)

    def texts_ids(self, texts: list[str]) -> list[list[int]]:
        """:meth:`text_ids` of many transcripts (one frontend run, one tokenizer call)."""
        if not texts:
            return []
        if self.frontend:
            texts = self.frontend.batch(texts)
        return [list(x) for x in self.tok(texts, add_special_tokens=False)["input_ids"]]

    def plain_ids(self, text: str) -> list[int]:
        """Token ids of a string as is (separators, speaker prefixes)."""
        return list(self.tok.encode(text, add_special_tokens=False))

    def build(self, text: str, codes, speaker: str | None = None,
              text_ids: list[int] | None = None) -> dict:
        """One training sequence.

        Args:
            text: transcript; codes: codec codes [T]; speaker: name or None.
            text_ids: pre-tokenised ``text`` (saves a tokenizer call).

        Returns:
            dict of int64 arrays [l]: ``input_ids``, ``labels``, ``attention_mask``.
        """
        v, sk = self.vocab, self.skeleton
        tids = self.text_ids(text) if text_ids is None else list(text_ids)
        sids = v.code_to_id(codes).tolist()
        if self.task == "tts":
            prefix = self.plain_ids(f"Speaker {speaker} ") if (self.speaker_prefix and speaker) \
                else []
            head = sk[: self._i1 + 1] + tids + sk[self._i1 + 1: self._i2] + prefix
            target = [v.speech_start] + sids + [v.speech_end]
        else:
            head = sk[: self._i1 + 1] + sids + sk[self._i1 + 1: self._i2]
            target = [v.text_gen_start] + tids + [v.text_gen_end]
        tail = sk[self._i2 + 1:]  # <|eot_id|> closing the assistant turn
        ids = np.asarray(head + target + tail, np.int64)
        labels = np.full(ids.shape, IGNORE, np.int64)
        labels[len(head): len(head) + len(target)] = target
        labels[ids == self.pad_id] = IGNORE  # the official recipe: no loss on pad (== eot)
        if self.mask_template_eot:
            mask = (ids != self.pad_id).astype(np.int64)
        else:
            mask = np.ones(ids.shape, np.int64)
        return {"input_ids": ids, "labels": labels, "attention_mask": mask}

    def prompt(self, text: str | None = None, codes=None, speaker: str | None = None) -> list[int]:
        """Inference prompt: the training sequence up to and including the assistant's start
        marker (SGS for tts; TGS for asr)."""
        seq = self.build(text or "", codes if codes is not None else [], speaker)
        ids = seq["input_ids"].tolist()
        start = self.vocab.speech_start if self.task == "tts" else self.vocab.text_gen_start
        return ids[: len(ids) - 1 - ids[::-1].index(start) + 1]


class LMDataset(torch.utils.data.Dataset):
    """Training sequences over a prepared folder (:class:`~llasa.training.data.shards.CodeShards`).

    Items longer than ``max_length`` are left out (``num_too_long`` counts them); with
    ``packing`` an item is a row of several sequences (first-fit in a seeded order).

    ``clone_pairs`` adds joined pairs: two utterances of the same speaker as one sequence
    (texts joined by a space, codes concatenated). That is the layout of a cloning prompt plus
    its continuation (:func:`llasa.lm.build_tts_prompt` with a voice), which a small model
    trained on single utterances never sees: it then stops right after the prompt's speech.

    Args:
        shards: the prepared data; indices: which of its items to use (default all).
        builder: a :class:`SequenceBuilder`.
        max_length: longest sequence (or packed row).
        packing: pack short sequences into rows.
        seed: order in which sequences are packed, and which utterances are paired.
        clone_pairs: joined pairs to add, as a share of the single items (0: none; 1: as many
            pairs as single items). Items without a speaker are never paired.
        unconditional: items to add with the text left out (an empty TEXT_UNDERSTANDING
            span), as a share of the single items (seeded). They teach the model speech
            without text, the "unconditional" half that classifier-free guidance
            (``GenerationSettings.cfg_scale``) contrasts with.
    """

    def __init__(self, shards, builder: SequenceBuilder, max_length: int,
                 indices=None, packing: bool = False, seed: int = 0,
                 clone_pairs: float = 0.0, unconditional: float = 0.0):
        if clone_pairs < 0:
            raise InputError(f"clone_pairs must be >= 0, got {clone_pairs}")
        if not 0 <= unconditional <= 1:
            raise InputError(f"unconditional must lie in [0, 1], got {unconditional}")
        self.shards, self.builder, self.max_length = shards, builder, int(max_length)
        idx = np.arange(len(shards)) if indices is None else np.asarray(indices, np.int64)
        texts = [shards.text(int(i)) for i in idx]
        self._text_ids = dict(zip(idx.tolist(), builder.texts_ids(texts)))
        self._space = builder.plain_ids(" ")
        pre = ({s: len(builder.plain_ids(f"Speaker {s} ")) for s in shards.speakers}
               if builder.speaker_prefix and builder.task == "tts" else {})
        groups = ([(int(i),) for i in idx] + _pairs(shards, idx, clone_pairs, seed)
                  + _unconditional(idx, unconditional, seed))

        def length(g):
            units = [i for i in g if i != NO_TEXT]
            text = 0 if g[0] == NO_TEXT else (sum(len(self._text_ids[i]) for i in units)
                                              + len(self._space) * (len(units) - 1))
            return (builder.overhead + text + sum(int(shards.lengths[i]) for i in units)
                    + pre.get(shards.speaker(units[0]), 0))

        lengths = np.array([length(g) for g in groups], np.int64)
        keep = lengths <= self.max_length
        self.num_too_long = int((~keep[:len(idx)]).sum())
        self.items = [g for g, k in zip(groups, keep) if k]
        self.lengths = lengths[keep]
        if not len(self.items):
            raise InputError(f"no training sequence fits in max_length {max_length} "
                             f"({self.num_too_long} too long)")
        self.rows = _pack(self.lengths, self.max_length, seed) if packing else None

    def __len__(self) -> int:
        return len(self.rows) if self.rows is not None else len(self.items)

    def sequence(self, k: int) -> dict:
        group = self.items[k]
        if group[0] == NO_TEXT:
            u = self.shards[group[1]]
            return self.builder.build("", np.asarray(u.codes), u.speaker, [])
        units = [self.shards[i] for i in group]
        text_ids = list(self._text_ids[group[0]])
        for i in group[1:]:
            text_ids += self._space + list(self._text_ids[i])
        codes = np.concatenate([np.asarray(u.codes) for u in units])
        return self.builder.build(" ".join(u.text for u in units), codes, units[0].speaker,
                                  text_ids)

    def __getitem__(self, k: int) -> dict:
        if self.rows is None:
            return self.sequence(k)
        parts = [self.sequence(j) for j in self.rows[k]]
        return {"input_ids": np.concatenate([p["input_ids"] for p in parts]),
                "labels": np.concatenate([p["labels"] for p in parts]),
                "position_ids": np.concatenate([np.arange(len(p["input_ids"])) for p in parts])}

    @property
    def num_tokens(self) -> int:
        return int(self.lengths.sum())


def _unconditional(idx: np.ndarray, share: float, seed: int) -> list[tuple[int, int]]:
    """``round(share · len(idx))`` distinct utterances to repeat without text (seeded)."""
    want = min(len(idx), int(round(share * len(idx))))
    if want <= 0:
        return []
    pick = np.random.default_rng(seed + 104729).choice(len(idx), size=want, replace=False)
    return [(NO_TEXT, int(idx[j])) for j in np.sort(pick)]


def _pairs(shards, idx: np.ndarray, share: float, seed: int) -> list[tuple[int, int]]:
    """``round(share · len(idx))`` pairs of distinct utterances of one speaker (seeded)."""
    want = int(round(share * len(idx)))
    if want <= 0:
        return []
    by_speaker: dict[str, list[int]] = {}
    for i in idx.tolist():
        name = shards.speaker(i)
        if name is not None:
            by_speaker.setdefault(name, []).append(i)
    pools = [v for v in by_speaker.values() if len(v) > 1]
    if not pools:
        return []
    rng = np.random.default_rng(seed + 7919)
    sizes = np.array([len(v) for v in pools], np.float64)
    out = []
    for p in rng.choice(len(pools), size=want, p=sizes / sizes.sum()).tolist():
        a, b = rng.choice(len(pools[p]), size=2, replace=False).tolist()
        out.append((pools[p][a], pools[p][b]))
    return out


def _pack(lengths: np.ndarray, max_length: int, seed: int) -> list[list[int]]:
    """First-fit packing of sequence lengths into rows of at most ``max_length``."""
    order = np.random.default_rng(seed).permutation(len(lengths))
    rows: list[list[int]] = []
    room: list[int] = []
    for k in order.tolist():
        n = int(lengths[k])
        for r, free in enumerate(room):
            if n <= free:
                rows[r].append(k)
                room[r] -= n
                break
        else:
            rows.append([k])
            room.append(max_length - n)
    return rows


class Collator:
    """Right-pads a list of items to the longest: ``input_ids`` with the pad id, ``labels``
    with -100, ``attention_mask`` with 0, packed ``position_ids`` by continuing the last
    sequence (its padding then carries no loss and nothing after it attends to it).

    Returns:
        dict of int64 tensors [b, L].
    """

    def __init__(self, pad_id: int):
        self.pad_id = int(pad_id)

    def __call__(self, items: list[dict]) -> dict:
        n = max(len(it["input_ids"]) for it in items)
        fill = {"input_ids": self.pad_id, "labels": IGNORE, "attention_mask": 0}
        out = {}
        for key in items[0]:
            rows = []
            for it in items:
                a = np.asarray(it[key], np.int64)
                if key == "position_ids":
                    pad = a[-1] + 1 + np.arange(n - len(a))
                else:
                    pad = np.full(n - len(a), fill[key], np.int64)
                rows.append(np.concatenate([a, pad]))
            out[key] = torch.from_numpy(np.stack(rows))
        return out
