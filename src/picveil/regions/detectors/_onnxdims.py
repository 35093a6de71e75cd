"""Make named inputs/outputs of an ONNX model shape-free, without the ``onnx`` package.

CenterFace's ONNX file declares a fixed ``10×3×32×32`` input, which
onnxruntime enforces; the network itself is fully convolutional. This module
rewrites the declared shapes of the graph's named inputs and outputs as
symbolic dimensions (what deface does with ``onnx.tools.update_model_dims``),
editing the protobuf wire format directly: only ModelProto.graph (field 7),
GraphProto.input/output (fields 11/12) and ValueInfoProto.type (field 2) are
touched; every other byte is copied as it is.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _enc_varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _fields(buf: bytes) -> Iterator[tuple[int, int, bytes, bytes]]:
    """Yield ``(field, wire_type, payload, raw)`` for each field of a message."""
    pos = 0
    while pos < len(buf):
        start = pos
        key, pos = _varint(buf, pos)
        field, wt = key >> 3, key & 7
        if wt == 0:
            _, pos = _varint(buf, pos)
            payload = b""
        elif wt == 1:
            pos += 8
            payload = b""
        elif wt == 2:
            n, pos = _varint(buf, pos)
            payload = buf[pos : pos + n]
            if len(payload) != n:
                raise ValueError("truncated field")
            pos += n
        elif wt == 5:
            pos += 4
            payload = b""
        else:
            raise ValueError(f"unsupported wire type {wt}")
        if pos > len(buf):
            raise ValueError("truncated field")
        yield field, wt, payload, buf[start:pos]


def _ld(field: int, payload: bytes) -> bytes:
    return _enc_varint((field << 3) | 2) + _enc_varint(len(payload)) + payload


def _tensor_type(elem_type: int, dims: Sequence[int | str]) -> bytes:
    shape = b"".join(
        _ld(1, _ld(2, d.encode()) if isinstance(d, str) else _enc_varint(1 << 3) + _enc_varint(d)) for d in dims
    )
    tensor = _enc_varint(1 << 3) + _enc_varint(elem_type) + _ld(2, shape)
    return _ld(1, tensor)


def _value_info_name(vi: bytes) -> str | None:
    for f, wt, payload, _ in _fields(vi):
        if f == 1 and wt == 2:
            return payload.decode()
    return None


def set_io_dims(model: bytes, dims: Mapping[str, Sequence[int | str]], elem_type: int = 1) -> bytes:
    """A copy of the serialised ONNX ``model`` whose graph inputs/outputs named
    in ``dims`` get those dimensions (ints fixed, strings symbolic) and
    element type ``elem_type`` (1: float32).

    Raises
    ------
    ValueError
        A named input/output is not in the graph, or the bytes are not a protobuf.
    """
    seen: set[str] = set()
    out_model = bytearray()
    for f, wt, payload, raw in _fields(model):
        if f != 7 or wt != 2:
            out_model += raw
            continue
        graph = bytearray()
        for gf, gwt, gpayload, graw in _fields(payload):
            name = _value_info_name(gpayload) if gf in (11, 12) and gwt == 2 else None
            if name is None or name not in dims:
                graph += graw
                continue
            seen.add(name)
            vi = bytearray()
            for vf, vwt, vpayload, vraw in _fields(gpayload):
                if vf != 2:
                    vi += vraw
            vi += _ld(2, _tensor_type(elem_type, dims[name]))
            graph += _ld(gf, bytes(vi))
        out_model += _ld(7, bytes(graph))
    missing = set(dims) - seen
    if missing:
        raise ValueError(f"not in the graph's inputs/outputs: {sorted(missing)}")
    return bytes(out_model)
