"""The X-codec2 format's two numbers, defined once for every layer.

Layers that hold a codec read them from it (``codec.sample_rate``, ``codec.frame_rate``); these
constants are the defaults of the layers that cannot see one (audio I/O, verifiers, the LM
alone) and the contract :mod:`llasa.codec.config` checks a codec against.
"""

SAMPLE_RATE = 16_000  # Hz, codec input and output
HOP_LENGTH = 320  # samples per code
FRAME_RATE = SAMPLE_RATE // HOP_LENGTH  # 50 codes (LM speech tokens) per second
