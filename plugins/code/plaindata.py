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
from collections.abc import Callable
from typing import Any

MAX_MESSAGE = 16 << 20  # bytes of one encoded message
MAX_DEPTH = 100  # nesting of containers
_HEADER = struct.Struct(">I")
_SIZE = _HEADER.pack
_DOUBLE = struct.Struct(">d")
_COMPLEX = struct.Struct(">dd")
_SMALL = struct.Struct(">q")
_SMALL_MIN, _SMALL_MAX = -(1 << 63), (1 << 63) - 1
# One byte per kind of value; containers are followed by their item count, sized kinds by a byte count.
_CONTAINER_TAGS: dict[type, bytes] = {list: b"l", tuple: b"t", set: b"S", frozenset: b"z", dict: b"d"}
_CONTAINERS = {ord(tag): kind for kind, tag in _CONTAINER_TAGS.items() if kind is not dict}
_NONE, _TRUE, _FALSE, _INT, _BIG, _FLOAT, _CPLX, _STR, _BYTES, _DICT, _OPAQUE = map(ord, "NTFqifcsbdO")


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
    out = bytearray()
    _encode(value, out, opaque, 0)
    return bytes(out)


def _encode(value: Any, out: bytearray, opaque: bool, depth: int) -> None:
    kind = type(value)
    scalar = _SCALARS.get(kind)
    if scalar is not None:
        out += scalar(value)
    elif kind in _CONTAINER_TAGS:
        if depth >= MAX_DEPTH:
            raise NotPlain(f"nested deeper than {MAX_DEPTH} levels")
        out += _CONTAINER_TAGS[kind] + _SIZE(len(value))
        for item in value.items() if kind is dict else value:
            if kind is dict:
                _encode(item[0], out, opaque, depth + 1)
                _encode(item[1], out, opaque, depth + 1)
            else:
                _encode(item, out, opaque, depth + 1)
    elif kind is Opaque and opaque:
        name = value.type_name.encode("utf-8", "replace")
        out += b"O" + _SIZE(len(name)) + name + (b"T" if value.truth else b"F")
    else:
        _encode(_as_plain(value, opaque), out, opaque, depth)


def _int(value: int) -> bytes:
    if _SMALL_MIN <= value <= _SMALL_MAX:
        return b"q" + _SMALL.pack(value)
    data = value.to_bytes((value.bit_length() + 8) // 8, "big", signed=True)
    return b"i" + _SIZE(len(data)) + data


def _str(value: str) -> bytes:
    data = value.encode("utf-8", "surrogatepass")
    return b"s" + _SIZE(len(data)) + data


# Exact types only: a subclass could override what the encoder calls (see _as_plain).
_PLAIN_BASES: dict[type[Any], type[Any]] = {
    **{kind: kind for kind in (str, bytes, complex, dict, list, tuple, frozenset, set)},
    bytearray: bytes,
}
_SCALARS: dict[type, Callable[[Any], bytes]] = {
    int: _int,
    str: _str,
    float: lambda value: b"f" + _DOUBLE.pack(value),
    bool: lambda value: b"T" if value else b"F",
    type(None): lambda value: b"N",
    bytes: lambda value: b"b" + _SIZE(len(value)) + value,
    complex: lambda value: b"c" + _COMPLEX.pack(value.real, value.imag),
}


def _as_plain(value: Any, opaque: bool) -> Any:
    """The plain value a subclass of a plain type (or a number type) stands for; else an Opaque."""
    if isinstance(value, (int, numbers.Integral)):
        return int(value)
    if isinstance(value, (float, numbers.Real)) and not isinstance(value, numbers.Rational):
        return float(value)
    plain = next((plain for base, plain in _PLAIN_BASES.items() if isinstance(value, base)), None)
    if plain is not None:
        return plain(value)
    if not opaque or isinstance(value, Opaque):
        raise NotPlain(f"{type(value).__name__} is not plain data")
    return Opaque(f"{type(value).__module__}.{type(value).__qualname__}"[:200], _truth(value))


def _truth(value: Any) -> bool:
    try:
        return bool(value)
    except Exception:
        return False


def decode(data: bytes, opaque: bool = False) -> Any:
    """The value `data` encodes, built from builtin types only; DecodeError for anything malformed,
    including an Opaque where `opaque` is false."""
    try:
        value, end = _decode(bytes(data), 0, opaque, 0)
    except (IndexError, struct.error, UnicodeDecodeError, TypeError, OverflowError) as error:
        raise DecodeError(f"malformed plain data: {error}") from None
    if end != len(data):
        raise DecodeError("trailing bytes after the value")
    return value


def _decode(data: bytes, at: int, opaque: bool, depth: int) -> tuple[Any, int]:
    tag = data[at]
    at += 1
    if tag == _INT:
        return _SMALL.unpack_from(data, at)[0], at + 8
    if tag in (_STR, _BYTES, _BIG):
        size = _size(data, at)
        end = at + 4 + size
        raw = data[at + 4 : end]
        if len(raw) != size:
            raise DecodeError("truncated value")
        if tag == _STR:
            return raw.decode("utf-8", "surrogatepass"), end
        return (raw if tag == _BYTES else int.from_bytes(raw, "big", signed=True)), end
    if tag == _FLOAT:
        return _DOUBLE.unpack_from(data, at)[0], at + 8
    if tag in (_NONE, _TRUE, _FALSE):
        return (None if tag == _NONE else tag == _TRUE), at
    if tag == _DICT or tag in _CONTAINERS:
        if depth >= MAX_DEPTH:
            raise DecodeError(f"nested deeper than {MAX_DEPTH} levels")
        return _decode_container(data, at, opaque, depth, tag)
    if tag == _CPLX:
        return complex(*_COMPLEX.unpack_from(data, at)), at + 16
    if tag == _OPAQUE and opaque:
        size = _size(data, at)
        end = at + 4 + size
        return Opaque(data[at + 4 : end].decode("utf-8", "replace"), data[end : end + 1] == b"T"), end + 1
    raise DecodeError(f"unknown tag {chr(tag)!r}")


def _decode_container(data: bytes, at: int, opaque: bool, depth: int, tag: int) -> tuple[Any, int]:
    count = _size(data, at)
    at += 4
    items = []
    for _ in range(count * 2 if tag == _DICT else count):
        item, at = _decode(data, at, opaque, depth + 1)
        items.append(item)
    if tag == _DICT:
        return dict(zip(items[::2], items[1::2], strict=True)), at
    return _CONTAINERS[tag](items), at


def _size(data: bytes, at: int) -> int:
    size: int = _HEADER.unpack_from(data, at)[0]
    if size > len(data) - at:  # every item takes at least a byte: a count beyond the data is a lie
        raise DecodeError("declared size exceeds the message")
    return size


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
