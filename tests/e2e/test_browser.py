"""The web page in headless Debian Chromium (driven by Playwright, no browser download):
load the page, synthesize with the tiny model, check that audio appears and plays, upload a
voice, stream, and see a server error shown on the page."""

from __future__ import annotations

import shutil
import socket
import threading
import time

import pytest

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """uvicorn in a thread serving a tiny real model (random weights) on 127.0.0.1."""
    import uvicorn

    from llasa.codec import presets
    from llasa.codec.model import Codec
    from llasa.lm.tiny import tiny_lm
    from llasa.serve import LlasaEngine, ServeSettings, create_app
    from llasa.tts import Llasa

    tts = Llasa(tiny_lm(codebook_size=65536, seed=0), Codec.from_config(presets.tiny(), seed=0))
    settings = ServeSettings(data_dir=tmp_path_factory.mktemp("browser"), max_new_tokens=200)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(LlasaEngine(tts, settings), settings),
                                        host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    while not srv.started:
        assert t.is_alive(), "server failed to start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    t.join(10)


@pytest.fixture(scope="module")
def page(server):
    if not shutil.which(CHROMIUM):
        pytest.fail("Debian chromium is not installed (scripts/install.sh installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--autoplay-policy=no-user-gesture-required",
                  "--disable-background-networking", "--disable-component-update"])
        pg = browser.new_page()
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(server + "/")
        pg.wait_for_selector("body[data-ready='1']", timeout=30_000)
        for summary in pg.query_selector_all("summary"):  # open "Sampling", "Verifiers…"
            summary.click()
        yield pg
        browser.close()
        assert not errors, f"JavaScript errors on the page: {errors}"


def _synthesize(page, text, stream=False):
    page.fill("#text", text)
    page.fill("#max_new_tokens", "40")
    page.fill("#seed", "1")
    page.set_checked("#stream", stream)
    page.click("#synthesize")
    page.wait_for_function("document.querySelector('#status').textContent.startsWith('done')"
                           " || document.querySelector('#status').className === 'error'",
                           timeout=60_000)
    assert page.text_content("#status").startswith("done"), page.text_content("#status")


def _assert_audio_plays(page):
    page.wait_for_function("document.querySelector('#player').readyState >= 1", timeout=20_000)
    duration = page.evaluate("document.querySelector('#player').duration")
    tokens = int(page.text_content("#info tr[data-key='tokens'] td:last-child"))
    assert duration == pytest.approx(tokens / 50, abs=0.02)
    page.evaluate("document.querySelector('#player').play()")
    page.wait_for_function("document.querySelector('#player').currentTime > 0.05",
                           timeout=20_000)
    page.evaluate("document.querySelector('#player').pause()")


def test_page_synthesizes_and_plays(page):
    assert page.title() == "llasa speech"
    assert page.eval_on_selector_all("#voice option", "os => os.map(o => o.value)") == ["default"]
    page.check(".verifier[value='mos']")
    _synthesize(page, "Hello from the browser.")
    _assert_audio_plays(page)
    mos = float(page.text_content("#scores tr[data-key='mos'] td:last-child"))
    assert 1.0 <= mos <= 5.0
    href = page.get_attribute("#download", "href")
    assert href.startswith("blob:") and page.get_attribute("#download", "download") == "speech.wav"
    page.uncheck(".verifier[value='mos']")


def test_page_uploads_a_voice_and_uses_it(page, speech, tmp_path):
    from llasa.audio import save_audio

    text = "This is the voice prompt for the page."
    path = save_audio(tmp_path / "prompt.wav", speech(text))
    page.fill("#voice-name", "pagevoice")
    page.set_input_files("#voice-file", str(path))
    page.fill("#voice-text", text)
    page.click("#voice-upload")
    page.wait_for_function("document.querySelector('#voice-status').textContent.startsWith('added')",
                           timeout=60_000)
    assert page.input_value("#voice") == "pagevoice"
    assert "pagevoice" in page.text_content("#voice-list")
    _synthesize(page, "Speaking in the uploaded voice.")
    assert page.text_content("#info tr[data-key='voice'] td:last-child") == "pagevoice"
    _assert_audio_plays(page)


def test_page_streams(page):
    page.select_option("#voice", "default")
    _synthesize(page, "Streaming into the page.", stream=True)
    _assert_audio_plays(page)


def test_page_shows_server_errors(page):
    page.fill("#text", "   ")
    page.click("#synthesize")
    page.wait_for_function("document.querySelector('#status').className === 'error'",
                           timeout=30_000)
    assert "400" in page.text_content("#status") and "empty" in page.text_content("#status")
    page.fill("#text", "Guided.")
    page.fill("#cfg_scale", "0.5")  # the page sends the field; the server names it
    page.click("#synthesize")
    page.wait_for_function("document.querySelector('#status').className === 'error'"
                           " && document.querySelector('#status').textContent.includes('cfg')",
                           timeout=30_000)
    assert "400" in page.text_content("#status")
    page.fill("#cfg_scale", "")
