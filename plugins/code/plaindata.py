"""Plain data across the pipe between a code job's judge and its program (standard library only).

Only None, bool, int, float, complex, str, bytes, list, tuple, dict, set and frozenset cross, each as a
tagged, length-prefixed binary value: no code, no class, no object of the sender's making ever reaches the
receiver, which rebuilds every value from builtin types itself (never pickle or marshal). The program's side
may also send an *opaque* value for a result that is not plain data (a `re.Match`, a generator): the judge
sees only its type name and its truth value, so `assert f(x)` and `assert not f(x)` still work.

Runs in the sandbox: the code environment prepends this module's source to the judge's and the program's
own (judge_main.py, program_main.py), so it must stay self-contained.
"""

from __future__ import annotations

import numbers
import os
import struct
from typing import Any

MAX_MESSAGE = 16 << 20  # bytes of one encoded message
MAX_DEPTH = 100  # nesting of containers
_HEADER = struct.Struct(">I")
_DOUBLE = struct.Struct(">d")
_COMPLEX = struct.Struct(">dd")
_SMALL = struct.Struct(">q")
_CONTAINERS = {list: b"l", tuple: b"t", set: b"S", frozenset: b"z"}
_KINDS = {tag: kind for kind, tag in _CONTAINERS.items()}
_CONSTANTS = {b"N": None, b"T": True, b"F": False}
_FIXED = {b"q": (_SMALL, 8), b"f": (_DOUBLE, 8), b"c": (_COMPLEX, 16)}


class NotPlain(TypeError):
    """A value that plain data cannot carry."""


class DecodeError(ValueError):
    """Bytes that are not a well-formed plain-data message."""


class Opaque:
    """What the judge sees of a result that is not plain data: its type's name and its truth value.
    It equals only itself, so no comparison with an expected value can pass."""

    __slots__ = ("truth", "type_name")

    def __init__(self, type_name: str, truth: bool) -> None:
        self.type_name, self.truth = type_name, truth

    def __bool__(self) -> bool:
        return self.truth

    def __repr__(self) -> str:
        return f"<{self.type_name} (not plain data)>"


def encode(value: Any, opaque: bool = False) -> bytes:
    """`value` as bytes. Subclasses of the plain types travel as their base type (a namedtuple as a tuple,
    a Counter as a dict). Anything else raises NotPlain, or with `opaque` travels as an Opaque."""
    out: list[bytes] = []
    _encode(value, out, opaque, 0)
    return b"".join(out)


def _encode(value: Any, out: list[bytes], opaque: bool, depth: int) -> None:  # noqa: PLR0912 - one dispatch
    if depth > MAX_DEPTH:
        raise NotPlain(f"nested deeper than {MAX_DEPTH} levels")
    if value is None or value is True or value is False:
        out.append(b"N" if value is None else b"T" if value else b"F")
    elif isinstance(value, int) or (isinstance(value, numbers.Integral) and not isinstance(value, bool)):
        number = int(value)
        if -(1 << 63) <= number < 1 << 63:
            out.append(b"q" + _SMALL.pack(number))
        else:
            data = number.to_bytes((number.bit_length() + 8) // 8, "big", signed=True)
            out.append(b"i" + _HEADER.pack(len(data)) + data)
    elif isinstance(value, float) or (
        isinstance(value, numbers.Real) and not isinstance(value, numbers.Rational)
    ):
        out.append(b"f" + _DOUBLE.pack(float(value)))
    elif isinstance(value, complex):
        out.append(b"c" + _COMPLEX.pack(value.real, value.imag))
    elif isinstance(value, (str, bytes, bytearray)):
        data = str(value).encode("utf-8", "surrogatepass") if isinstance(value, str) else bytes(value)
        out.append((b"s" if isinstance(value, str) else b"b") + _HEADER.pack(len(data)) + data)
    elif isinstance(value, dict):
        out.append(b"d" + _HEADER.pack(len(value)))
        for key, item in dict(value).items():
            _encode(key, out, opaque, depth + 1)
            _encode(item, out, opaque, depth + 1)
    elif isinstance(value, (list, tuple, set, frozenset)):
        tag = next(tag for kind, tag in _CONTAINERS.items() if isinstance(value, kind))
        items = list(value)
        out.append(tag + _HEADER.pack(len(items)))
        for item in items:
            _encode(item, out, opaque, depth + 1)
    elif opaque:
        name = f"{type(value).__module__}.{type(value).__qualname__}"[:200].encode("utf-8", "replace")
        out.append(b"O" + _HEADER.pack(len(name)) + name + (b"T" if _truth(value) else b"F"))
    else:
        raise NotPlain(f"{type(value).__name__} is not plain data")


def _truth(value: Any) -> bool:
    try:
        return bool(value)
    except Exception:
        return False


def decode(data: bytes, opaque: bool = False) -> Any:
    """The value `data` encodes, built from builtin types only; DecodeError for anything malformed,
    including an Opaque where `opaque` is false."""
    try:
        value, end = _decode(memoryview(data), 0, opaque, 0)
    except (IndexError, struct.error, UnicodeDecodeError, TypeError, OverflowError) as error:
        raise DecodeError(f"malformed plain data: {error}") from None
    if end != len(data):
        raise DecodeError("trailing bytes after the value")
    return value


def _decode(data: memoryview, at: int, opaque: bool, depth: int) -> tuple[Any, int]:
    if depth > MAX_DEPTH:
        raise DecodeError(f"nested deeper than {MAX_DEPTH} levels")
    tag, at = bytes(data[at : at + 1]), at + 1
    if tag in _CONSTANTS:
        return _CONSTANTS[tag], at
    if tag in _FIXED:
        kind, size = _FIXED[tag]
        return kind.unpack_from(data, at)[0] if tag != b"c" else complex(
            *kind.unpack_from(data, at)
        ), at + size
    if tag in (b"i", b"s", b"b") or (tag == b"O" and opaque):
        return _decode_sized(data, at, tag)
    if tag == b"d":
        count, at = _size(data, at)
        result = {}
        for _ in range(count):
            key, at = _decode(data, at, opaque, depth + 1)
            result[key], at = _decode(data, at, opaque, depth + 1)
        return result, at
    container = _KINDS.get(tag)
    if container is None:
        raise DecodeError(f"unknown tag {tag!r}")
    count, at = _size(data, at)
    items = []
    for _ in range(count):
        item, at = _decode(data, at, opaque, depth + 1)
        items.append(item)
    return container(items), at


def _decode_sized(data: memoryview, at: int, tag: bytes) -> tuple[Any, int]:
    size, at = _size(data, at)
    raw = bytes(data[at : at + size])
    if len(raw) != size:
        raise DecodeError("truncated value")
    if tag == b"i":
        return int.from_bytes(raw, "big", signed=True), at + size
    if tag == b"b":
        return raw, at + size
    text = raw.decode("utf-8", "surrogatepass")
    if tag == b"s":
        return text, at + size
    return Opaque(text, bytes(data[at + size : at + size + 1]) == b"T"), at + size + 1


def _size(data: memoryview, at: int) -> tuple[int, int]:
    size = _HEADER.unpack_from(data, at)[0]
    if size > len(data) - at:  # every item takes at least a byte: a count beyond the data is a lie
        raise DecodeError("declared size exceeds the message")
    return size, at + 4


def send(fd: int, value: Any, opaque: bool = False) -> None:
    """Write one message: a 4-byte length, then the encoded value."""
    body = encode(value, opaque)
    if len(body) > MAX_MESSAGE:
        raise NotPlain(f"message of {len(body)} bytes exceeds {MAX_MESSAGE}")
    view = memoryview(_HEADER.pack(len(body)) + body)
    while view:
        view = view[os.write(fd, view) :]


class Receiver:
    """Reads messages from a pipe. A read cut short (a timeout signal) loses nothing: the bytes already
    read wait in the buffer for the next call."""

    def __init__(self, fd: int, opaque: bool = False) -> None:
        self.fd, self.opaque = fd, opaque
        self.buffer = bytearray()

    def receive(self) -> Any:
        """The next message; EOFError when the writer is gone, DecodeError when it sent garbage."""
        while True:
            if len(self.buffer) >= 4:
                size = _HEADER.unpack_from(self.buffer)[0]
                if size > MAX_MESSAGE:
                    raise DecodeError(f"message of {size} bytes announced, over {MAX_MESSAGE}")
                if len(self.buffer) >= 4 + size:
                    body = bytes(self.buffer[4 : 4 + size])
                    del self.buffer[: 4 + size]
                    return decode(body, self.opaque)
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:
                raise EOFError("the other side closed the pipe")
            self.buffer += chunk
