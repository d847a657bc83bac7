"""The prompt builder against the tokenizer's own chat template, step by step (model card)."""

import datetime

import numpy as np
import pytest

from llasa._common.errors import InputError
from llasa.lm.prompt import DEFAULT_DATE, build_tts_prompt, parse_speech


def _official(tok, text, prompt_text=None, prompt_codes=None, **kw):
    # The documented recipe, literally: markers around the (prompt + target) text, the
    # assistant turn prefilled with SPEECH_GENERATION_START + <|s_k|> strings, and
    # apply_chat_template(tokenize=True, continue_final_message=True).
    input_text = (prompt_text or "") + text
    formatted = "<|TEXT_UNDERSTANDING_START|>" + input_text + "<|TEXT_UNDERSTANDING_END|>"
    speech = "".join(f"<|s_{c}|>" for c in (prompt_codes if prompt_codes is not None else []))
    chat = [{"role": "user", "content": "Convert the text to speech:" + formatted},
            {"role": "assistant", "content": "<|SPEECH_GENERATION_START|>" + speech}]
    out = tok.apply_chat_template(chat, tokenize=True, continue_final_message=True, **kw)
    return list(out["input_ids"] if hasattr(out, "keys") else out)


@pytest.mark.parametrize("text", ["Hello there.", "  Spaces, digits 123 & ünïcödé ✓ ",
                                  "Tabs\tand\nnewlines"])
def test_tts_prompt_equals_chat_template(lm, text):
    ids = build_tts_prompt(lm.tokenizer, text)
    assert ids == _official(lm.tokenizer, text, date_string=DEFAULT_DATE)
    rendered = lm.tokenizer.decode(ids)
    assert rendered.startswith("<|begin_of_text|><|start_header_id|>system")
    assert "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024" in rendered
    assert rendered.endswith("<|start_header_id|>assistant<|end_header_id|>\n\n"
                             "<|SPEECH_GENERATION_START|>")
    assert ids[-1] == lm.vocab.speech_start and lm.vocab.speech_end not in ids


def test_clone_prompt_equals_chat_template(lm):
    codes = np.array([0, 17, 255, 3])
    ids = build_tts_prompt(lm.tokenizer, "the target.", prompt_text="The prompt says this. ",
                           prompt_codes=codes)
    assert ids == _official(lm.tokenizer, "the target.", "The prompt says this. ", codes,
                            date_string=DEFAULT_DATE)
    assert ids[-4:] == (codes + lm.vocab.speech_offset).tolist()


def test_date_none_uses_the_templates_today(lm):
    ids = build_tts_prompt(lm.tokenizer, "Hi.", date_string=None)
    assert ids == _official(lm.tokenizer, "Hi.")
    today = datetime.date.today().strftime("%d %b %Y")
    assert f"Today Date: {today}" in lm.tokenizer.decode(ids)


def test_bad_prompts_are_clear_errors(lm):
    with pytest.raises(InputError, match="empty"):
        build_tts_prompt(lm.tokenizer, "   ")
    with pytest.raises(InputError, match="both"):
        build_tts_prompt(lm.tokenizer, "x", prompt_codes=[1, 2])
    with pytest.raises(InputError, match="both"):
        build_tts_prompt(lm.tokenizer, "x", prompt_text="said")
    with pytest.raises(InputError, match="transcript is empty"):
        build_tts_prompt(lm.tokenizer, "x", prompt_text=" ", prompt_codes=[1])
    with pytest.raises(InputError, match="speech codes"):
        build_tts_prompt(lm.tokenizer, "x", prompt_text="a", prompt_codes=[256])


def test_parse_speech_stops_at_end_and_drops_text(lm):
    v = lm.vocab
    ids = [v.speech_offset + 4, 65, v.speech_offset + 9, v.speech_end, v.speech_offset + 1]
    assert parse_speech(ids, v).tolist() == [4, 9]


def test_prompt_stats(lm):
    ids = build_tts_prompt(lm.tokenizer, "ab c", prompt_text="xyz", prompt_codes=[1, 2, 3])
    assert lm.prompt_stats(ids) == (7, 3)
