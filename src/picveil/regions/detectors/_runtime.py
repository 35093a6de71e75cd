"""Run an ONNX file: onnxruntime when it is installed, OpenCV's DNN module otherwise.

Both are imported only when a network is loaded. OpenCV 4.x's DNN module
gives wrong outputs when one network object is run on inputs of changing
shapes (seen with 4.14 on CenterFace: hundreds of spurious faces after a
shape change), so the OpenCV path keeps one network per input shape.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from .base import DetectorUnavailableError

Runner = Callable[[np.ndarray], list[np.ndarray]]

OPENCV_PIN = 'pip install "opencv-python-headless>=4.8,<5"'


def import_cv2():
    """OpenCV, or a :class:`DetectorUnavailableError` that says how to install it."""
    try:
        import cv2
    except ImportError:
        raise DetectorUnavailableError(
            "The detectors need OpenCV, which is not installed.", hint=f"Install it: {OPENCV_PIN}"
        ) from None
    return cv2


CV_NETS_PER_MODEL = 4


def load_onnx(
    path: Path,
    outputs: Sequence[str] | None = None,
    *,
    dims: Mapping[str, Sequence[int | str]] | None = None,
    prefer_ort: bool = True,
) -> tuple[Runner, str]:
    """Load ``path``; return ``(run, backend)`` where ``run(x)`` maps an NCHW
    ``float32`` array to the listed outputs (all outputs when ``None``).

    ``dims`` re-declares input/output shapes for onnxruntime (see
    :mod:`._onnxdims`); OpenCV ignores declared shapes.
    """
    if prefer_ort:
        # A privacy tool: onnxruntime (1.2x on Linux) writes a usage event (device id, OS,
        # interpreter path) to ~/.cache/Microsoft/DeveloperTools at import unless told not to.
        os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
        try:
            import onnxruntime as ort
        except ImportError:
            ort = None
        if ort is not None:
            if hasattr(ort, "disable_telemetry_events"):
                ort.disable_telemetry_events()  # a privacy tool: onnxruntime logs usage events by default
            opts = ort.SessionOptions()
            opts.log_severity_level = 3
            model: str | bytes = str(path)
            if dims:
                from ._onnxdims import set_io_dims

                model = set_io_dims(path.read_bytes(), dims)
            sess = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
            name = sess.get_inputs()[0].name
            names = list(outputs) if outputs else None

            def run_ort(x: np.ndarray) -> list[np.ndarray]:
                return sess.run(names, {name: np.ascontiguousarray(x, dtype=np.float32)})

            return run_ort, "onnxruntime"
    cv2 = import_cv2()
    nets: OrderedDict[tuple[int, ...], object] = OrderedDict()

    def run_cv(x: np.ndarray) -> list[np.ndarray]:
        shape = tuple(x.shape)
        net = nets.pop(shape, None) or cv2.dnn.readNetFromONNX(str(path))
        nets[shape] = net
        while len(nets) > CV_NETS_PER_MODEL:
            nets.popitem(last=False)
        net.setInput(np.ascontiguousarray(x, dtype=np.float32))
        names = list(outputs) if outputs else list(net.getUnconnectedOutLayersNames())
        return list(net.forward(names))

    return run_cv, "opencv-dnn"
