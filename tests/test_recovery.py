"""wsgiauth.recovery: ten readable codes, read back as people type them, stored as digests."""

import hashlib
import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wsgiauth import recovery

SHAPE = re.compile(r"[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}")


def test_ten_codes_of_the_expected_shape() -> None:
    codes = recovery.new_codes()
    assert len(codes) == 10
    assert len(set(codes)) == 10
    for code in codes:
        assert SHAPE.fullmatch(code), code


def test_codes_avoid_look_alike_characters() -> None:
    assert len(recovery.ALPHABET) == len(set(recovery.ALPHABET)) == 32
    assert not set("ilou") & set(recovery.ALPHABET)
    characters = set("".join(recovery.new_codes(200)).replace("-", ""))
    assert characters <= set(recovery.ALPHABET)


def test_a_code_holds_60_random_bits() -> None:
    bits = recovery.GROUPS * recovery.GROUP_LENGTH * math.log2(len(recovery.ALPHABET))
    assert bits == 60


def test_codes_differ_between_calls() -> None:
    assert set(recovery.new_codes()).isdisjoint(recovery.new_codes())


def test_new_codes_never_repeats_a_code(monkeypatch: pytest.MonkeyPatch) -> None:
    # A random source that gives the same first code twice: the second is
    # drawn again, not returned twice.
    draws = iter("0000" * 3 + "0000" * 3 + "1111" * 3)
    monkeypatch.setattr(recovery.secrets, "choice", lambda _: next(draws))
    assert recovery.new_codes(2) == ["0000-0000-0000", "1111-1111-1111"]


@pytest.mark.parametrize(
    ("typed", "normal"),
    [
        ("7kq2-mh9x-3vtd", "7kq2mh9x3vtd"),
        ("7KQ2-MH9X-3VTD", "7kq2mh9x3vtd"),
        (" 7kq2 mh9x 3vtd\n", "7kq2mh9x3vtd"),
        ("7kq2mh9x3vtd", "7kq2mh9x3vtd"),
        ("7kq2--mh9x - 3vtd", "7kq2mh9x3vtd"),
        # Crockford's reading of look-alikes: o is 0; i and l are 1.
        ("OoIiLl-0011", "0011110011"),
    ],
)
def test_normalize(typed: str, normal: str) -> None:
    assert recovery.normalize(typed) == normal


def test_digest_is_the_sha256_of_the_user_and_the_normal_form() -> None:
    code = "7kq2-mh9x-3vtd"
    expected = hashlib.sha256(b"1:7kq2mh9x3vtd").hexdigest()
    assert recovery.digest(code, 1) == expected
    assert recovery.digest(" 7KQ2 MH9X 3VTD ", 1) == expected
    assert recovery.digest("7kq2-mh9x-3vtb", 1) != expected


def test_one_code_has_another_digest_for_another_user() -> None:
    # So that a guess made against one account's digests is worth nothing
    # against another's.
    code = recovery.new_codes(1)[0]
    assert recovery.digest(code, 1) != recovery.digest(code, 2)
    assert recovery.digest(code, 1) != recovery.digest(code, 11)


@given(st.integers(min_value=0, max_value=9), st.data())
def test_every_way_of_typing_a_code_has_one_digest(index: int, data: st.DataObject) -> None:
    code = recovery.new_codes()[index]
    typed = "".join(data.draw(st.sampled_from([ch, ch.upper(), f" {ch}", f"{ch}-"])) for ch in code)
    assert recovery.digest(typed, 7) == recovery.digest(code, 7)
