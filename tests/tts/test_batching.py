"""SpeechBatcher (llasa.tts.batching): continuous batching of whole requests on tiny real
models; audio equals the same requests run alone through the pipeline."""

import numpy as np
import pytest

from llasa._common.errors import InputError
from llasa.codec.streaming import StreamSettings
from llasa.tts.batching import SpeechBatcher

ST = StreamSettings(chunk=10, left_context=20, lookahead=5, crossfade=3)
GREEDY = dict(do_sample=False, repetition_penalty=1.3)
TEXTS = ["Hello there, friend.", "A second and longer sentence to speak.", "Third one."]


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):  # tests/conftest.py
    yield


def _drive(b, submits, every=4):
    """Call submits[i]() at step i*every; step until idle. Returns the tasks in order."""
    tasks, step = [], 0
    while len(tasks) < len(submits) or not b.idle:
        if step % every == 0 and len(tasks) < len(submits):
            tasks.append(submits[len(tasks)]())
        b.step()
        step += 1
        assert step < 3000
    return tasks


def test_streams_batch_codec_windows_and_equal_alone(tiny_tts, prompt_voice):
    got = {i: [] for i in range(3)}
    voices = [None, None, prompt_voice]  # the voice's codes go first as decoder context
    b = SpeechBatcher(tiny_tts, max_rows=3, stream_settings=ST, codec_every=4)
    tasks = _drive(b, [lambda i=i: b.submit(TEXTS[i], voices[i], stream=True,
                                            max_new_tokens=40 + 10 * i,
                                            on_audio=got[i].append, **GREEDY)
                       for i in range(3)], every=3)
    assert b.codec_windows > b.codec_calls  # windows of several streams shared codec calls
    assert all(t.req.joined_at < tasks[0].req.finished_at for t in tasks[1:])
    for i, t in enumerate(tasks):
        alone = tiny_tts.stream(TEXTS[i], voices[i], stream_settings=ST,
                                max_new_tokens=40 + 10 * i,
                                **GREEDY)
        ref = np.concatenate(list(alone))
        np.testing.assert_array_equal(t.result.codes, alone.codes)
        np.testing.assert_allclose(np.concatenate(got[i]), ref, atol=1e-5)
        np.testing.assert_allclose(t.result.audio, ref, atol=1e-5)
        assert t.first_audio is not None and t.result.info["audio_chunks"] == len(got[i])


def test_whole_requests_mixed_lengths_equal_alone(chatty_tts):
    b = SpeechBatcher(chatty_tts, max_rows=4)
    specs = [dict(text=TEXTS[0]), dict(text=TEXTS[1]),
             dict(text=TEXTS[2], duration=1.0), dict(text="Numbers twelve and four.")]
    tasks = _drive(b, [lambda s=s: b.submit(**s, **GREEDY) for s in specs], every=2)
    lens = set()
    for s, t in zip(specs, tasks):
        ref = chatty_tts.synthesize(s["text"], s.get("voice"), duration=s.get("duration"),
                                    **GREEDY)
        np.testing.assert_array_equal(t.result.codes, ref.codes)
        np.testing.assert_allclose(t.result.audio, ref.audio, atol=1e-5)
        assert t.result.info["ended"] == ref.info["ended"]
        lens.add(len(t.result.codes))
    assert len(lens) > 1  # the requests really had different lengths
    assert len(tasks[2].result.audio) == 16000  # duration pads to length


def test_n_rows_and_cancel(chatty_tts):
    b = SpeechBatcher(chatty_tts, max_rows=4)
    stop = {"now": False}
    keep = b.submit(TEXTS[0], num_rows=3, seed=4)
    gone = b.submit(TEXTS[1], should_stop=lambda: stop["now"], max_new_tokens=300, seed=1)
    b.step()
    stop["now"] = True
    while not b.idle:
        b.step()
    assert gone.done and gone.cancelled and gone.result.info["cancelled"]
    assert len(keep.rows) == 3 and not keep.cancelled
    ref = chatty_tts.lm.generate([keep.req.prompt], keep.req.settings, num_candidates=3)[0]
    for r, g in zip(keep.rows, ref):
        np.testing.assert_array_equal(r.codes, g.codes)


def test_refuses_what_it_cannot_batch(tiny_tts):
    b = SpeechBatcher(tiny_tts, max_rows=2)
    with pytest.raises(InputError, match="long text"):
        b.submit("This is a sentence. " * 40)
    with pytest.raises(InputError, match="streaming"):
        b.submit("Hi", stream=True, num_rows=2)
    with pytest.raises(InputError):
        b.submit("Hi", temperature=-1)


def test_first_chunk_streams_sooner(tiny_tts, prompt_voice):
    st = StreamSettings()  # the server's windows: 75 codes before the first audio
    b = SpeechBatcher(tiny_tts, max_rows=2, stream_settings=st, first_chunk=10)
    seen = {}
    tasks = [b.submit(t, v, stream=True, max_new_tokens=90,
                      on_audio=lambda a, i=i: seen.setdefault(i, tasks[i].req.num_tokens()),
                      **GREEDY) for i, (t, v) in enumerate([(TEXTS[0], None),
                                                             (TEXTS[1], prompt_voice)])]
    while not b.idle:
        b.step()
    assert seen == {0: 10 + st.crossfade, 1: 10 + st.crossfade}
    for t in tasks:
        assert len(t.result.audio) == 320 * len(t.result.codes)
