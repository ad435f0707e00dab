"""Messages between the grader and the sandbox that runs student code.

The sandbox is untrusted: student code runs in it and can take over its socket,
so everything it sends is hostile data until proven otherwise. Nothing is
unpickled: a message is a JSON header plus raw tensor bytes, and decoding it
can only ever build dicts, lists, strings, numbers and tensors of an allowed
dtype. What decoding may cost the receiver is bounded before it is paid:

* **time**: :func:`receive` takes a deadline for the whole message, so a reply
  that trickles in a byte at a time ends at the deadline like a silent one;
* **memory**: a :class:`Budget` caps the header's bytes, the payload's bytes and
  each tensor's elements (the grader sizes it from the request: a reply may be a
  few times the genuine answer, never more), checked from the 16-byte frame and
  the header before the payload is read; the payload is read once, into one
  buffer that the tensors then share;
* **shape**: the header may nest at most :data:`MAX_DEPTH` deep, and every tensor
  is checked (dtype, rank, sizes, strides, offset, bytes) before a view is made.

Frame: 8-byte big-endian header length, 8-byte payload length, the JSON
header, then the payload (the tensors' bytes, one after another). A tensor
in the header is ``{"__tensor__": index, "dtype": ..., "size": [...],
"stride": [...], "offset": n, "nbytes": n}``: its whole storage travels, so
a non-contiguous view arrives as the same view.
"""
from __future__ import annotations

# Bound here, at import: the sandbox decodes with these after student code has run, and
# student code may rebind builtins.any and friends (tests/hostile/.../patches_builtins.py).
from builtins import isinstance, len, list, min, range, sorted, sum, zip  # noqa: A004
import json
import math
import socket
import struct
import time
from dataclasses import dataclass

import torch

#: No message may be larger than this (bytes), whatever its budget.
MAX_MESSAGE = 256 * 2**20
#: Bytes of JSON a message may carry unless its budget says otherwise.
MAX_HEADER = 1 << 20
#: Deepest nesting of lists and dicts in a header.
MAX_DEPTH = 32
#: Most dimensions a tensor may have.
MAX_RANK = 16

DTYPES = {str(d).replace("torch.", ""): d for d in (
    torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.bool, torch.uint8,
    torch.int8, torch.int16, torch.int32, torch.int64, torch.complex64, torch.complex128)}


@dataclass(frozen=True)
class Budget:
    """The most one message may make its receiver hold: header bytes, payload bytes, elements per tensor."""
    header: int = MAX_HEADER
    payload: int = MAX_MESSAGE
    elements: int = MAX_MESSAGE


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
        # A view of the storage's bytes, not a copy: it is written to the socket as it is.
        data = (memoryview(torch.empty(0, dtype=torch.uint8).set_(storage.cpu()).numpy()).cast("B")
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


def encode_pieces(obj) -> list:
    """The message as the buffers it is made of, in order: frame, header, each tensor's bytes.

    Tensors are not copied; :func:`send` writes the pieces one after the other.
    """
    blobs: list = []
    header = json.dumps(_flatten(obj, blobs)).encode()
    return [struct.pack(">QQ", len(header), sum(len(b) for b in blobs)), header, *blobs]


def encode(obj) -> bytes:
    return b"".join(encode_pieces(obj))


def _count(value, what: str, limit: int | None = None) -> int:
    """``value`` as a count: a non-negative int (not a bool), at most ``limit``."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0 or (limit is not None and value > limit):
        raise WireError(f"{what} is {str(value)[:40]}, not a count" + (f" up to {limit}" if limit else ""))
    return value


def _tensor(spec: dict, buffer: memoryview, offsets: dict[int, int], device, budget: Budget) -> torch.Tensor:
    dtype = DTYPES.get(spec.get("dtype")) if isinstance(spec.get("dtype"), str) else None
    if dtype is None:
        raise WireError(f"unknown dtype {str(spec.get('dtype'))[:40]!r}")
    size, stride = spec.get("size"), spec.get("stride")
    if not (isinstance(size, list) and isinstance(stride, list) and len(size) == len(stride) <= MAX_RANK):
        raise WireError("a tensor's size and stride must be lists of the same length, "
                        f"at most {MAX_RANK}")
    size = [_count(n, "a size") for n in size]
    stride = [_count(s, "a stride") for s in stride]
    numel = math.prod(size)
    if numel > budget.elements:
        raise WireError(f"a tensor of {numel} elements, where at most {budget.elements} were expected")
    start, nbytes = offsets[spec["__tensor__"]], spec["nbytes"]
    storage = buffer[start:start + nbytes]
    if nbytes % dtype.itemsize:
        raise WireError("tensor bytes do not match their dtype")
    if numel == 0:
        return torch.empty(size, dtype=dtype, device=device)
    offset = _count(spec.get("offset"), "a storage offset")
    last = offset + sum((n - 1) * s for n, s in zip(size, stride))
    if last >= nbytes // dtype.itemsize:
        raise WireError("tensor view lies outside its storage")
    flat = torch.frombuffer(storage, dtype=dtype)
    return flat.as_strided(size, stride, offset).to(device)


def _walk(header) -> list[dict]:
    """Every tensor spec in ``header``; WireError past MAX_DEPTH (walked without recursion)."""
    found, stack = [], [(header, 0)]
    while stack:
        obj, level = stack.pop()
        if level > MAX_DEPTH:
            raise WireError(f"a message nested deeper than {MAX_DEPTH}")
        if isinstance(obj, dict):
            if "__tensor__" in obj:
                found.append(obj)
            else:
                stack.extend((v, level + 1) for v in obj.values())
        elif isinstance(obj, list):
            stack.extend((v, level + 1) for v in obj)
    return found


def _text(text: str) -> str:
    """A string with any lone surrogate (JSON allows ``"\\ud800"``) replaced: it must still encode."""
    return text.encode("utf-8", "replace").decode("utf-8")


def _build(obj, make):
    if isinstance(obj, dict):
        return make(obj) if "__tensor__" in obj else {_text(k): _build(v, make) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_build(v, make) for v in obj]
    return _text(obj) if isinstance(obj, str) else obj


def decode(data, device="cpu", budget: Budget = Budget()):
    """The message in ``data``; anything malformed or over ``budget`` raises WireError, nothing else."""
    try:
        return _decode(data, device, budget)
    except WireError:
        raise
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, RuntimeError, MemoryError) as error:
        raise WireError(f"malformed message ({type(error).__name__}: {str(error)[:200]})") from None


def _frame(head: bytes, budget: Budget) -> tuple[int, int]:
    header_len, payload_len = struct.unpack(">QQ", head)
    if header_len > budget.header or payload_len > min(budget.payload, MAX_MESSAGE):
        raise WireError(f"message of {header_len} + {payload_len} bytes exceeds what this "
                        f"answer may take ({budget.header} + {min(budget.payload, MAX_MESSAGE)} bytes)")
    return header_len, payload_len


def _decode(data, device, budget: Budget):
    if len(data) < 16:
        raise WireError("truncated message")
    header_len, payload_len = _frame(bytes(data[:16]), budget)
    if 16 + header_len + payload_len != len(data):
        raise WireError("message length does not match its frame")
    view = memoryview(data)
    header = json.loads(bytes(view[16:16 + header_len]))
    specs = _walk(header)
    indices = []
    for spec in specs:
        indices.append(_count(spec.get("__tensor__"), "a tensor's index"))
        _count(spec.get("nbytes"), "a tensor's bytes", payload_len)
    if sorted(indices) != list(range(len(specs))):
        raise WireError("tensor indices are not 0, 1, 2, ...")
    offsets, position = {}, 0
    for spec in sorted(specs, key=lambda s: s["__tensor__"]):
        offsets[spec["__tensor__"]] = position
        position += spec["nbytes"]
    if position != payload_len:
        raise WireError("payload length does not match its tensors")
    # A writable buffer shared by every tensor: frombuffer copies nothing.
    payload = view[16 + header_len:] if not view.readonly else memoryview(bytearray(view[16 + header_len:]))
    return _build(header, lambda spec: _tensor(spec, payload, offsets, device, budget))


def send(sock: socket.socket, obj) -> None:
    send_pieces(sock, encode_pieces(obj))


def send_pieces(sock: socket.socket, pieces: list) -> None:
    for piece in pieces:
        if len(piece):
            sock.sendall(piece)


def _read_into(sock: socket.socket, buffer: memoryview, deadline: float | None) -> None:
    """Fill ``buffer`` from ``sock``; past ``deadline`` (time.monotonic) raise socket.timeout."""
    got = 0
    while got < len(buffer):
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("the answer did not arrive in time")
            sock.settimeout(left)
        n = sock.recv_into(buffer[got:], min(len(buffer) - got, 1 << 20))
        if not n:
            raise HungUp("the other side hung up")
        got += n


def receive(sock: socket.socket, device="cpu", deadline: float | None = None, budget: Budget = Budget()):
    """Read one message: done by ``deadline`` (``time.monotonic()``) or socket.timeout, within ``budget``.

    Without a deadline the socket's own timeout, if set, bounds each read.
    """
    head = bytearray(16)
    _read_into(sock, memoryview(head), deadline)
    header_len, payload_len = _frame(bytes(head), budget)
    data = bytearray(16 + header_len + payload_len)
    data[:16] = head
    _read_into(sock, memoryview(data)[16:], deadline)
    return decode(data, device, budget)
