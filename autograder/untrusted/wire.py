"""Messages between the grader and the sandbox that runs student code.

The sandbox is untrusted, so nothing it sends is unpickled: a message is a
JSON header plus raw tensor bytes, and decoding it can only ever build
dicts, lists, strings, numbers and tensors of an allowed dtype. A message
larger than :data:`MAX_MESSAGE` is refused before it is read into memory.

Frame: 8-byte big-endian header length, 8-byte payload length, the JSON
header, then the payload (the tensors' bytes, one after another). A tensor
in the header is ``{"__tensor__": index, "dtype": ..., "size": [...],
"stride": [...], "offset": n, "nbytes": n}``: its whole storage travels, so
a non-contiguous view arrives as the same view.
"""
from __future__ import annotations

# Bound here, at import: the sandbox decodes with these after student code has run, and
# student code may rebind builtins.any and friends (tests/hostile/.../patches_builtins.py).
from builtins import any, len, max, sum, zip  # noqa: A004
import json
import socket
import struct

import torch

#: No message may be larger than this (bytes): a flood from the sandbox is cut off.
MAX_MESSAGE = 256 * 2**20

DTYPES = {str(d).replace("torch.", ""): d for d in (
    torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.bool, torch.uint8,
    torch.int8, torch.int16, torch.int32, torch.int64, torch.complex64, torch.complex128)}


class WireError(RuntimeError):
    """The other side sent something that is not a valid message, or hung up."""


class HungUp(WireError):
    """The other side closed the connection (its process may have died)."""


def _flatten(obj, blobs: list[bytes]):
    if isinstance(obj, torch.Tensor):
        name = str(obj.dtype).replace("torch.", "")
        if name not in DTYPES:
            raise WireError(f"cannot send a tensor of dtype {name}")
        t = obj.detach()
        storage = t.untyped_storage()
        data = (torch.empty(0, dtype=torch.uint8).set_(storage.cpu()).numpy().tobytes()
                if storage.nbytes() else b"")
        blobs.append(data)
        return {"__tensor__": len(blobs) - 1, "dtype": name, "size": list(t.shape),
                "stride": list(t.stride()), "offset": t.storage_offset(), "nbytes": len(data)}
    if isinstance(obj, dict):
        return {str(k): _flatten(v, blobs) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_flatten(v, blobs) for v in obj]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise WireError(f"cannot send a {type(obj).__name__}")


def encode(obj) -> bytes:
    blobs: list[bytes] = []
    header = json.dumps(_flatten(obj, blobs)).encode()
    payload = b"".join(blobs)
    return struct.pack(">QQ", len(header), len(payload)) + header + payload


def _tensor(spec: dict, payload: memoryview, offsets: dict[int, int], device) -> torch.Tensor:
    dtype = DTYPES.get(spec.get("dtype"))
    if dtype is None:
        raise WireError(f"unknown dtype {spec.get('dtype')!r}")
    index = spec["__tensor__"]
    start, nbytes = offsets[index], int(spec["nbytes"])
    raw = payload[start:start + nbytes]
    if len(raw) != nbytes or nbytes % dtype.itemsize:
        raise WireError("tensor bytes do not match their header")
    flat = (torch.frombuffer(bytearray(raw), dtype=dtype) if nbytes
            else torch.empty(0, dtype=dtype))
    size, stride, offset = spec["size"], spec["stride"], int(spec["offset"])
    if any(n == 0 for n in size):
        return torch.empty(size, dtype=dtype, device=device)
    last = offset + sum((n - 1) * s for n, s in zip(size, stride))
    if offset < 0 or any(s < 0 for s in stride) or last >= max(flat.numel(), 1):
        raise WireError("tensor view lies outside its storage")
    return flat.as_strided(size, stride, offset).to(device)


def decode(data: bytes, device="cpu"):
    """The message in ``data``; anything malformed raises WireError, nothing else."""
    try:
        return _decode(data, device)
    except WireError:
        raise
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, RuntimeError) as error:
        raise WireError(f"malformed message ({type(error).__name__}: {error})") from None


def _decode(data: bytes, device):
    if len(data) < 16:
        raise WireError("truncated message")
    header_len, payload_len = struct.unpack(">QQ", data[:16])
    if 16 + header_len + payload_len != len(data):
        raise WireError("message length does not match its frame")
    header = json.loads(data[16:16 + header_len])
    payload = memoryview(data)[16 + header_len:]
    specs: list[dict] = []

    def collect(obj):
        if isinstance(obj, dict):
            if "__tensor__" in obj:
                specs.append(obj)
            else:
                for v in obj.values():
                    collect(v)
        elif isinstance(obj, list):
            for v in obj:
                collect(v)

    collect(header)
    offsets, position = {}, 0
    for spec in sorted(specs, key=lambda s: s["__tensor__"]):
        offsets[spec["__tensor__"]] = position
        position += int(spec["nbytes"])
    if position != payload_len:
        raise WireError("payload length does not match its tensors")

    def build(obj):
        if isinstance(obj, dict):
            if "__tensor__" in obj:
                return _tensor(obj, payload, offsets, device)
            return {k: build(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [build(v) for v in obj]
        return obj

    return build(header)


def send(sock: socket.socket, obj) -> None:
    sock.sendall(encode(obj))


def _read_exactly(sock: socket.socket, n: int) -> bytes:
    chunks, left = [], n
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            raise HungUp("the other side hung up")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def receive(sock: socket.socket, device="cpu"):
    """Read one message; the socket's own timeout, if set, bounds the wait."""
    head = _read_exactly(sock, 16)
    header_len, payload_len = struct.unpack(">QQ", head)
    if header_len + payload_len > MAX_MESSAGE:
        raise WireError(f"message of {header_len + payload_len} bytes exceeds the "
                        f"{MAX_MESSAGE >> 20} MiB limit")
    return decode(head + _read_exactly(sock, header_len + payload_len), device)
