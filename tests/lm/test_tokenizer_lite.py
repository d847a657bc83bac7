"""LiteTokenizer (tokenizers + chat template, no transformers) = transformers' tokenizer."""

import json

from llasa.lm.prompt import build_tts_prompt, official_chat, prompt_text_chars
from llasa.lm.tokenizer import LiteTokenizer
from llasa.lm.tokens import SpeechVocab
from llasa.tts.onnx import MANIFEST, default_onnx_dir
from llasa.tts.defaults import default_model_dir


def test_same_prompts_and_renderings_as_transformers():
    from transformers import AutoTokenizer

    ref = AutoTokenizer.from_pretrained(str(default_model_dir() / "lm"))
    lm = json.loads((default_onnx_dir() / MANIFEST).read_text())["lm"]
    lite = LiteTokenizer(default_onnx_dir() / "tokenizer.json", lm["chat_template"],
                         lm["rendered_skeleton"])
    assert len(lite) == len(ref)
    assert SpeechVocab.from_tokenizer(lite) == SpeechVocab.from_tokenizer(ref)
    for text in ("plˈiːz klˈoʊs ðə wˈɪndoʊ.", "Hello, world? 42 times!", "  spaced  "):
        assert lite.encode(text, add_special_tokens=False) == \
            ref.encode(text, add_special_tokens=False)
        ids = build_tts_prompt(ref, text, prompt_text="A voice. ", prompt_codes=[1, 2, 3])
        assert build_tts_prompt(lite, text, prompt_text="A voice. ",
                                prompt_codes=[1, 2, 3]) == ids
        vocab = SpeechVocab.from_tokenizer(ref)
        assert prompt_text_chars(ids, lite, vocab) == prompt_text_chars(ids, ref, vocab)
    for date in ("26 Jul 2024", "01 Jan 2031"):  # stored rendering, then jinja2
        kw = dict(tokenize=False, continue_final_message=True, date_string=date)
        assert lite.apply_chat_template(official_chat("x"), **kw) == \
            ref.apply_chat_template(official_chat("x"), **kw)
        assert lite.apply_chat_template(official_chat(""), **kw) == \
            ref.apply_chat_template(official_chat(""), **kw)
