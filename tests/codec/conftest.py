"""A tiny random codec shared by the codec tests (about 0.6 M parameters, seconds to build)."""

import pytest


@pytest.fixture(scope="session")
def tiny_codec():
    from llasa.codec import Codec, presets

    return Codec.from_config(presets.tiny(), seed=3)


@pytest.fixture(scope="session")
def tiny_dir(tiny_codec, tmp_path_factory):
    return tiny_codec.save_pretrained(tmp_path_factory.mktemp("tiny-codec"))
