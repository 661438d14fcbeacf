"""The plain-data codec between a code job's judge and its program: what crosses, and what is refused."""

from __future__ import annotations

import collections
import math
import os
import re
import struct

import pytest

from rewardkit.plugins.code.plaindata import (
    MAX_DEPTH,
    DecodeError,
    NotPlain,
    Opaque,
    Receiver,
    decode,
    encode,
    send,
)

VALUES = [
    None,
    True,
    False,
    0,
    -1,
    2**63 - 1,
    -(2**63),
    2**200,
    -(3**150),
    0.1,
    -0.0,
    math.inf,
    1e-300,
    complex(-2, 2.4492935982947064e-16),
    "",
    "héllo \x00 \ud800",
    b"\x00\xff",
    [1, [2, [3]]],
    (1, "a", (None,)),
    {1: "a", (2, 3): [4], "k": {"n": None}},
    {1, 2, frozenset({3})},
    frozenset({"a"}),
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_plain_values_round_trip_as_exact_builtin_types(value: object) -> None:
    back = decode(encode(value))
    assert back == value and type(back) is type(value)


def test_nan_round_trips() -> None:
    assert math.isnan(decode(encode(math.nan)))


class AlwaysEqual(str):
    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = str.__hash__


def test_subclasses_travel_as_their_base_type() -> None:
    point = collections.namedtuple("Point", "x y")(1, 2)
    for value, expected in [
        (point, (1, 2)),
        (collections.Counter("aab"), {"a": 2, "b": 1}),
        (collections.OrderedDict(a=1), {"a": 1}),
        (AlwaysEqual("text"), "text"),
        (bytearray(b"ab"), b"ab"),
    ]:
        back = decode(encode(value))
        assert back == expected and type(back) is type(expected)


def test_a_key_that_equals_everything_arrives_as_a_plain_str() -> None:
    back = decode(encode({AlwaysEqual("key"): 1}))
    assert [type(key) for key in back] == [str] and back != {"other": 1}


def test_anything_else_is_refused_unless_sent_as_an_opaque_value() -> None:
    match = re.search("a", "cat")
    for value in [match, object(), len, iter([1]), type, {1: object()}]:
        with pytest.raises(NotPlain):
            encode(value)
    stand_in = decode(encode(match, opaque=True), opaque=True)
    assert isinstance(stand_in, Opaque) and bool(stand_in) and stand_in.type_name == "re.Match"
    assert stand_in != Opaque("re.Match", True)  # equal to nothing but itself
    assert not decode(encode(range(0), opaque=True), opaque=True)  # keeps a false truth value too
    with pytest.raises(DecodeError, match="unknown tag"):  # the judge's arguments never carry one
        decode(encode(match, opaque=True))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"X",
        b"q\x00",
        b"s\x00\x00\x00\x05ab",
        b"l\xff\xff\xff\xff",
        b"d\x00\x00\x00\x01l\x00\x00\x00\x00N",  # an unhashable key
        b"S\x00\x00\x00\x01l\x00\x00\x00\x00",
        b"NN",
        b"s\x00\x00\x00\x01\xff",
    ],
)
def test_malformed_messages_are_decode_errors(data: bytes) -> None:
    with pytest.raises(DecodeError):
        decode(data)


def test_nesting_is_bounded_both_ways() -> None:
    deep: list[object] = []
    for _ in range(MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(NotPlain):
        encode(deep)
    with pytest.raises(DecodeError):
        decode(b"l\x00\x00\x00\x01" * (MAX_DEPTH + 5) + b"N")
    loop: list[object] = []
    loop.append(loop)
    with pytest.raises(NotPlain):
        encode(loop)


def test_messages_cross_a_pipe_and_a_cut_read_loses_nothing() -> None:
    read_fd, write_fd = os.pipe()
    try:
        send(write_fd, ("call", [1, 2], {"k": b"v"}))
        whole = os.read(read_fd, 1 << 16)
        receiver = Receiver(read_fd)
        os.write(write_fd, whole[:7])  # as if a timeout cut the read after 7 bytes
        receiver.buffer += os.read(read_fd, 7)
        os.write(write_fd, whole[7:])
        assert receiver.receive() == ("call", [1, 2], {"k": b"v"})
        os.write(write_fd, struct.pack(">I", 1 << 30))
        with pytest.raises(DecodeError, match="announced"):
            receiver.receive()
    finally:
        os.close(read_fd)
        os.close(write_fd)
