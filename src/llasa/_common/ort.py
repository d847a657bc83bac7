"""ONNX Runtime helpers: sessions made one way everywhere, and half-precision weight storage.

Every ORT session of the package is created by :func:`session`, which sets
``ORT_DISABLE_TELEMETRY=1`` first (unless the caller chose otherwise) and fixes the thread
count: the LM's per-token graphs are tiny, so one intra-op thread is faster than a pool that
must wake up per step.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import ModelLoadError


def session(path: str | Path, threads: int = 1):
    """An ``onnxruntime.InferenceSession`` on CPU for the model file ``path``.

    Raises:
        ModelLoadError: onnxruntime is missing or cannot load the file.
    """
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    try:
        import onnxruntime as ort
    except ImportError:
        raise ModelLoadError("the onnx engine needs onnxruntime (pip install onnxruntime)"
                             ) from None
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(1, int(threads))
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3  # warnings about unused initializers are noise here
    # no busy-waiting between runs: on a shared CPU a spinning pool steals from everyone
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(path), sess_options=opts,
                                    providers=["CPUExecutionProvider"])
    except Exception as e:  # ORT raises its own exception types (Fail, InvalidGraph, ...)
        raise ModelLoadError(f"onnxruntime cannot load {path}: {e}") from None


def store_half(model) -> int:
    """Store float32 initializers that are exact in float16 as float16, each read through a
    ``Cast`` back to float32 (in place on an ``onnx.ModelProto``; export-time only).

    Weights shipped in fp16 and computed in fp32 (as torch does after loading them) thus keep
    their exact values at half the file size; ORT folds the casts once when it loads the graph.
    Returns the number of bytes saved.
    """
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    graph, saved, casts = model.graph, 0, []
    for init in graph.initializer:
        if init.data_type != TensorProto.FLOAT:
            continue
        arr = numpy_helper.to_array(init)
        half = arr.astype(np.float16)
        if arr.size < 64 or not np.array_equal(half.astype(np.float32), arr):
            continue
        name = init.name
        init.CopyFrom(numpy_helper.from_array(half, name + "__fp16"))
        casts.append(helper.make_node("Cast", [name + "__fp16"], [name], to=TensorProto.FLOAT,
                                      name=name + "__cast"))
        saved += arr.nbytes // 2
    for node in reversed(casts):
        graph.node.insert(0, node)
    return saved
