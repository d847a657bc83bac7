"""Exact Llasa prompts (official model-card recipe) and parsing generated ids back to codes.

The official recipe, for text ``t`` (and for cloning: prompt transcript ``p`` + prompt codes
``c``):

1. ``formatted = "<|TEXT_UNDERSTANDING_START|>" + (p + t) + "<|TEXT_UNDERSTANDING_END|>"``
   (prompt and target text concatenated with no separator);
2. ``chat = [{"role": "user", "content": "Convert the text to speech:" + formatted},
   {"role": "assistant", "content": "<|SPEECH_GENERATION_START|>" + "".join(<|s_k|> for k in c)}]``;
3. ``tokenizer.apply_chat_template(chat, tokenize=True, continue_final_message=True)``: the
   assistant turn stays open right after the last speech token.

:func:`build_tts_prompt` renders the chat *skeleton* (markers only) with the tokenizer's own
template and splices in the tokenised text and the speech ids. Added tokens split the text
before BPE, so this equals rendering the full chat (tested), without pushing hundreds of
``<|s_k|>`` strings through the template and the tokenizer.

The Llama-3.2 template writes "Today Date: <date>" in its system block; by default we pass the
fixed :data:`DEFAULT_DATE` (the template's own fallback) so prompts do not change from day to
day. ``date_string=None`` lets the template use today's date, as the card's code does.
"""

from __future__ import annotations

import numpy as np

from .._common.errors import InputError, ModelLoadError
from .tokens import ADDED_TOKENS, SpeechVocab

INSTRUCTION = "Convert the text to speech:"
DEFAULT_DATE = "26 Jul 2024"
_TEXT_START, _TEXT_END = ADDED_TOKENS[2], ADDED_TOKENS[3]
_SPEECH_START = ADDED_TOKENS[4]


def official_chat(text: str, prompt_text: str | None = None, speech_prefix: str = "") -> list:
    """The official chat messages (strings), before templating. ``speech_prefix``: <|s_k|>..."""
    full = (prompt_text or "") + text
    return [
        {"role": "user", "content": INSTRUCTION + _TEXT_START + full + _TEXT_END},
        {"role": "assistant", "content": _SPEECH_START + speech_prefix},
    ]


def build_tts_prompt(tokenizer, text: str, *, prompt_text: str | None = None,
                     prompt_codes=None, vocab: SpeechVocab | None = None,
                     date_string: str | None = DEFAULT_DATE) -> list[int]:
    """Token ids of the official TTS / zero-shot cloning prompt.

    Args:
        tokenizer: a Llasa tokenizer (with a chat template).
        text: the text to speak (non-empty).
        prompt_text: transcript of the voice prompt (cloning / continuation); needs
            ``prompt_codes``.
        prompt_codes: codec codes [T] of the voice prompt; needs ``prompt_text``.
        vocab: the tokenizer's :class:`SpeechVocab` (computed if None).
        date_string: "Today Date" of the Llama-3 system block (None: the template decides).

    Returns:
        ids [P]: ``<|begin_of_text|>`` … ``<|SPEECH_GENERATION_START|>`` + prompt speech ids.

    Raises:
        InputError: empty text, a prompt transcript without codes (or the reverse), codes out of
            range. ModelLoadError: the tokenizer has no chat template.
    """
    if not isinstance(text, str) or not text.strip():
        raise InputError("text to speak is empty")
    has_codes = prompt_codes is not None and len(prompt_codes) > 0
    if prompt_text is not None and not prompt_text.strip():
        raise InputError("the voice prompt's transcript is empty; give the words spoken in it")
    if (prompt_text is not None) != has_codes:
        raise InputError("voice cloning needs both the prompt transcript and the prompt codes")
    vocab = vocab or SpeechVocab.from_tokenizer(tokenizer)
    code_ids = vocab.code_to_id(prompt_codes).tolist() if has_codes else []
    skeleton = _skeleton(tokenizer, date_string)
    try:
        i_ts = skeleton.index(vocab.text_start)
        i_te = skeleton.index(vocab.text_end)
    except ValueError:
        raise ModelLoadError("the chat template dropped the TEXT_UNDERSTANDING markers") from None
    if skeleton[-1] != vocab.speech_start or not i_ts < i_te:
        raise ModelLoadError("the chat template does not end the prompt on "
                             "<|SPEECH_GENERATION_START|>; cannot continue the assistant turn")
    text_ids = tokenizer.encode((prompt_text or "") + text, add_special_tokens=False)
    return skeleton[: i_ts + 1] + list(text_ids) + skeleton[i_te:] + code_ids


def _skeleton(tokenizer, date_string: str | None) -> list[int]:
    if not getattr(tokenizer, "chat_template", None):
        raise ModelLoadError("tokenizer has no chat template (a Llasa tokenizer has the "
                             "Llama-3 one)")
    kw = {} if date_string is None else {"date_string": date_string}
    rendered = tokenizer.apply_chat_template(official_chat(""), tokenize=False,
                                             continue_final_message=True, **kw)
    return list(tokenizer.encode(rendered, add_special_tokens=False))


def unconditional_prompt(ids, vocab: SpeechVocab) -> list[int]:
    """``ids`` with the text between the TEXT_UNDERSTANDING markers left out (voice codes and
    everything else kept): the "unconditional" prompt of classifier-free guidance.

    Raises:
        InputError: the prompt has no TEXT_UNDERSTANDING span.
    """
    ids = list(ids)
    try:
        i_ts = ids.index(vocab.text_start)
        i_te = ids.index(vocab.text_end, i_ts)
    except ValueError:
        raise InputError("guidance needs a TTS prompt with a TEXT_UNDERSTANDING span") from None
    return ids[: i_ts + 1] + ids[i_te:]


def prompt_text_chars(ids, tokenizer, vocab: SpeechVocab) -> tuple[int, int]:
    """(characters of text between the TEXT_UNDERSTANDING markers, speech ids after the last
    SPEECH_GENERATION_START) in a prompt; used to derive the length cap."""
    ids = list(ids)
    try:
        i_ts = ids.index(vocab.text_start)
        i_te = ids.index(vocab.text_end, i_ts)
    except ValueError:
        return 0, 0
    chars = len(tokenizer.decode(ids[i_ts + 1:i_te]))
    try:
        i_ss = len(ids) - 1 - ids[::-1].index(vocab.speech_start)
    except ValueError:
        return chars, 0
    return chars, int(vocab.is_speech(ids[i_ss + 1:]).sum())


def parse_speech(ids, vocab: SpeechVocab) -> np.ndarray:
    """Generated ids → codes [T]: stops at SPEECH_GENERATION_END, keeps only speech tokens."""
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    end = np.nonzero(ids == vocab.speech_end)[0]
    if end.size:
        ids = ids[: end[0]]
    return ids[vocab.is_speech(ids)] - vocab.speech_offset
