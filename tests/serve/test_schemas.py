import pytest
from pydantic import ValidationError

from llasa._common.errors import InputError
from llasa.serve.config import ServeSettings
from llasa.serve.schemas import SpeechRequest


def test_openai_body_defaults_and_voice_object():
    r = SpeechRequest.model_validate({"model": "tts-1", "input": "Hi.", "voice": {"id": "bob"}})
    assert r.voice_name == "bob" and r.response_format == "wav" and not r.streaming
    assert r.sampling() == {}
    r = SpeechRequest.model_validate({"model": "m", "input": "Hi.", "stream_format": "sse",
                                      "temperature": 0.7, "seed": 3, "response_format": "PCM"})
    assert r.streaming and r.response_format == "pcm"
    assert r.sampling() == {"temperature": 0.7, "seed": 3}


@pytest.mark.parametrize("body, field", [
    ({"model": "m", "input": "   "}, "input"),
    ({"model": "m", "input": ""}, "input"),
    ({"input": "hi"}, "model"),
    ({"model": "m", "input": "hi", "response_format": "aac"}, "response_format"),
    ({"model": "m", "input": "hi", "speed": 9}, "speed"),
    ({"model": "m", "input": "hi", "temperature": 0}, "temperature"),
    ({"model": "m", "input": "hi", "top_p": 1.5}, "top_p"),
    ({"model": "m", "input": "hi", "seed": -1}, "seed"),
    ({"model": "m", "input": "hi", "cfg_scale": 0.5}, "cfg_scale"),
    ({"model": "m", "input": "hi", "temprature": 0.5}, "temprature"),
    ({"model": "m", "input": "hi", "search": {"strategy": "magic"}}, "search"),
    ({"model": "m", "input": "hi", "search": {"budget": 0}}, "search"),
    ({"model": "m", "input": 5}, "input"),
])
def test_bad_bodies_name_the_field(body, field):
    with pytest.raises(ValidationError) as e:
        SpeechRequest.model_validate(body)
    assert field in str(e.value)


def test_settings_validate():
    with pytest.raises(InputError):
        ServeSettings(max_queue=0)
    with pytest.raises(InputError):
        ServeSettings(default_verifiers=("nope",))
    with pytest.raises(InputError):
        ServeSettings(api_key="short")
    with pytest.raises(InputError):
        ServeSettings(model_id="bad name")
