import numpy as np
import pytest

from llasa._common.errors import InputError
from llasa.codec.streaming import StreamSettings

LONG = " ".join(f"Sentence number {i} is spoken here." for i in range(16))
# Lookahead past the end: every window is the whole utterance, so codec streaming is exact
# and any difference would come from the pipeline's own streaming logic.
EXACT = StreamSettings(chunk=7, left_context=10_000, lookahead=10_000, crossfade=0)


def _snr_db(ref, x):
    return 10 * np.log10(np.sum(ref ** 2) / max(np.sum((ref - x) ** 2), 1e-20))


def test_stream_matches_synthesize(tiny_tts):
    n = StreamSettings().chunk + StreamSettings().lookahead + 20  # more than the first chunk
    kw = dict(seed=5, max_new_tokens=n)
    full = tiny_tts.synthesize("Streaming speech test.", **kw)
    stream = tiny_tts.stream("Streaming speech test.", **kw)
    chunks = list(stream)
    audio = np.concatenate(chunks)
    np.testing.assert_array_equal(stream.codes, full.codes)  # same seed, same tokens
    assert len(audio) == len(full.audio) == n * 320
    assert len(chunks) > 1 and stream.info["tokens"] == n and not stream.info["ended"]
    # Documented latency: the first chunk needs chunk + lookahead codes.
    assert stream.info["first_audio_tokens"] == StreamSettings().chunk + StreamSettings().lookahead
    # Within the codec's streaming tolerance (overlapping windows, not exact).
    assert _snr_db(full.audio, audio) > 10, _snr_db(full.audio, audio)


def test_stream_exact_with_full_lookahead_and_voice(tiny_tts, prompt_voice):
    kw = dict(seed=1, max_new_tokens=30)
    full = tiny_tts.synthesize("Cloned stream.", prompt_voice, **kw)
    audio = np.concatenate(list(tiny_tts.stream("Cloned stream.", prompt_voice,
                                                stream_settings=EXACT, **kw)))
    np.testing.assert_allclose(audio, full.audio, atol=1e-5)


def test_long_text_stream_equals_long_text_synthesis(chatty_tts):
    full = chatty_tts.synthesize(LONG, seed=4, temperature=1.0)
    stream = chatty_tts.stream(LONG, seed=4, temperature=1.0, stream_settings=EXACT)
    audio = np.concatenate(list(stream))
    assert stream.info["chunks"] == full.info["chunks"] > 2
    np.testing.assert_array_equal(stream.codes, full.codes)
    assert len(audio) == len(full.audio)
    np.testing.assert_allclose(audio, full.audio, atol=1e-5)  # same crossfades
    assert stream.info["ended"] == full.info["ended"]


def test_stream_validates_eagerly_and_can_stop_early(tiny_tts):
    with pytest.raises(InputError, match="empty"):
        tiny_tts.stream("  ")  # at the call, before any iteration
    with pytest.raises(InputError, match="temperature"):
        tiny_tts.stream("Hi.", temperature=-1)
    s = tiny_tts.stream("Hi there.", seed=0, max_new_tokens=200,
                        stream_settings=StreamSettings(chunk=5, lookahead=2, crossfade=1))
    first = next(s)
    assert len(first) == 5 * 320
    s.close()
    assert len(s.codes) < 200  # closing stopped the LM
    with pytest.raises(StopIteration):
        next(s)


def test_should_stop_ends_a_stream_within_one_token(tiny_tts):
    from llasa._common.errors import Cancelled

    asks = []
    it = tiny_tts.stream("Stop this stream.", do_sample=False, max_new_tokens=400,
                         should_stop=lambda: asks.append(1) or len(asks) >= 120)
    with pytest.raises(Cancelled):
        for _ in it:
            pass
    assert len(asks) == 120 and len(it.codes) == 119
