"""A transformers-free Llasa tokenizer: ``tokenizers`` + the chat template (ONNX engine).

It offers the few tokenizer methods :mod:`llasa.lm.prompt` and :mod:`llasa.lm.tokens` call
(``encode``, ``decode``, ``convert_tokens_to_ids``, ``apply_chat_template``, ``len``), reading
the same ``tokenizer.json`` as transformers does, so prompts come out id for id the same
(tested against ``AutoTokenizer``). Importing transformers takes seconds; this takes
milliseconds.

The chat template is rendered once at export time for the fixed prompt date and stored
(``rendered``); other renderings go through jinja2 the way transformers sets it up.
"""

from __future__ import annotations

from pathlib import Path

from .._common.errors import ModelLoadError


class LiteTokenizer:
    """Args:
        path: ``tokenizer.json``.
        chat_template: the jinja template (transformers' ``tokenizer.chat_template``).
        rendered: ``{date_string: rendering of the empty official chat}`` made at export.
        bos_token: the string the template's ``bos_token`` stands for.
    """

    unk_token = None
    unk_token_id = None

    def __init__(self, path: str | Path, chat_template: str | None = None,
                 rendered: dict[str, str] | None = None, bos_token: str = "<|begin_of_text|>"):
        from tokenizers import Tokenizer

        try:
            self._tok = Tokenizer.from_file(str(path))
        except Exception as e:  # tokenizers raises a plain Exception on a bad file
            raise ModelLoadError(f"cannot read the tokenizer {path}: {e}") from None
        self.chat_template = chat_template
        self._rendered = dict(rendered or {})
        self.bos_token = bos_token

    def __len__(self) -> int:
        return self._tok.get_vocab_size(with_added_tokens=True)

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        return self._tok.encode(text, add_special_tokens=add_special_tokens).ids

    def decode(self, ids, skip_special_tokens: bool = False) -> str:
        return self._tok.decode([int(i) for i in ids], skip_special_tokens=skip_special_tokens)

    def convert_tokens_to_ids(self, token: str) -> int | None:
        return self._tok.token_to_id(token)

    def apply_chat_template(self, messages: list[dict], tokenize: bool = True,
                            continue_final_message: bool = False,
                            add_generation_prompt: bool = False, **kw):
        """Render (and optionally tokenize) a chat as transformers does."""
        from .prompt import official_chat

        date = kw.get("date_string")
        if (continue_final_message and not add_generation_prompt and date in self._rendered
                and set(kw) <= {"date_string"} and messages == official_chat("")):
            text = self._rendered[date]
        else:
            text = self._render(messages, continue_final_message, add_generation_prompt, kw)
        return self.encode(text, add_special_tokens=False) if tokenize else text

    def _render(self, messages, continue_final, add_generation_prompt, kw) -> str:
        if not self.chat_template:
            raise ModelLoadError("tokenizer has no chat template")
        from datetime import datetime

        from jinja2.ext import loopcontrols
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        def raise_exception(message):
            raise ModelLoadError(f"chat template error: {message}")

        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                            extensions=[loopcontrols])
        env.globals.update(raise_exception=raise_exception,
                           strftime_now=lambda fmt: datetime.now().strftime(fmt))
        text = env.from_string(self.chat_template).render(
            messages=messages, add_generation_prompt=add_generation_prompt,
            bos_token=self.bos_token, **kw)
        if continue_final:  # cut right after the last message's content, as transformers
            final = messages[-1]["content"].strip()
            text = text[: text.rindex(final) + len(final)]
        return text
