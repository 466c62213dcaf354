"""wsgiauth.secretbox: what is sealed opens only with the same key, purpose and owner."""

import base64
import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wsgiauth.secretbox import CannotOpen, SecretBox, derive_key

KEY = "correct horse battery staple, 32+ characters"
OTHER_KEY = "another secret key of at least 32 characters"
TOTP_SECRET = bytes(range(20))


@pytest.fixture
def box() -> SecretBox:
    return SecretBox(KEY, "totp secrets")


@given(st.binary(max_size=256), st.text(max_size=20))
def test_round_trip(value: bytes, owner: str) -> None:
    box = SecretBox(KEY, "totp secrets")
    assert box.open(box.seal(value, owner), owner) == value


def test_sealed_text_hides_the_value_and_fits_a_column(box: SecretBox) -> None:
    sealed = box.seal(TOTP_SECRET, "1")
    assert sealed.startswith("v1.")
    assert sealed.isascii()
    assert len(sealed) == 67
    assert TOTP_SECRET not in base64.b64decode(sealed[3:])


def test_two_seals_of_one_value_differ(box: SecretBox) -> None:
    first, second = box.seal(TOTP_SECRET, "1"), box.seal(TOTP_SECRET, "1")
    assert first != second
    # Not only the text: the nonces differ, so the ciphertexts do too.
    assert base64.b64decode(first[3:])[:12] != base64.b64decode(second[3:])[:12]
    assert box.open(first, "1") == box.open(second, "1") == TOTP_SECRET


def flip(sealed: str, index: int) -> str:
    raw = bytearray(base64.b64decode(sealed[3:]))
    raw[index] ^= 0x01
    return "v1." + base64.b64encode(bytes(raw)).decode("ascii")


# 48 bytes: the nonce (0-11), the ciphertext (12-31), the tag (32-47).
@pytest.mark.parametrize("index", [0, 11, 12, 20, 31, 32, 47])
def test_a_changed_byte_does_not_open(box: SecretBox, index: int) -> None:
    sealed = box.seal(TOTP_SECRET, "1")
    with pytest.raises(CannotOpen, match="changed"):
        box.open(flip(sealed, index), "1")


def test_a_value_sealed_for_user_1_does_not_open_for_user_2(box: SecretBox) -> None:
    sealed = box.seal(TOTP_SECRET, "1")
    with pytest.raises(CannotOpen, match="another owner"):
        box.open(sealed, "2")
    assert box.open(sealed, "1") == TOTP_SECRET


def test_another_secret_key_does_not_open_it(box: SecretBox) -> None:
    sealed = box.seal(TOTP_SECRET, "1")
    with pytest.raises(CannotOpen, match="another key"):
        SecretBox(OTHER_KEY, "totp secrets").open(sealed, "1")


def test_another_purpose_does_not_open_it(box: SecretBox) -> None:
    sealed = box.seal(TOTP_SECRET, "1")
    with pytest.raises(CannotOpen):
        SecretBox(KEY, "something else").open(sealed, "1")


def test_the_same_key_and_purpose_open_it_in_another_box(box: SecretBox) -> None:
    # As after a restart: the key is derived again, not kept.
    sealed = box.seal(TOTP_SECRET, "1")
    assert SecretBox(KEY, "totp secrets").open(sealed, "1") == TOTP_SECRET


@pytest.mark.parametrize(
    ("sealed", "message"),
    [
        ("", "format"),
        ("v1", "format"),
        ("v2.AAAA", "format"),
        ("V1.AAAA", "format"),
        ("v1.not base64!", "base64"),
        ("v1.AAAAAAAAAAAAAAAAAAAAAA==", "too short"),
        ("v1.ZsOpw6k=", "too short"),
        ("v1.é", "base64"),
    ],
)
def test_what_is_not_a_sealed_value_does_not_open(
    box: SecretBox, sealed: str, message: str
) -> None:
    with pytest.raises(CannotOpen, match=message):
        box.open(sealed, "1")


def test_a_truncated_value_does_not_open(box: SecretBox) -> None:
    sealed = box.seal(TOTP_SECRET, "1")
    raw = base64.b64decode(sealed[3:])
    for length in (0, 12, 27, 28, 47):
        cut = "v1." + base64.b64encode(raw[:length]).decode("ascii")
        with pytest.raises(CannotOpen):
            box.open(cut, "1")


def test_cannot_open_is_a_value_error() -> None:
    assert issubclass(CannotOpen, ValueError)


def test_a_short_secret_key_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 32 characters"):
        SecretBox("x" * 31, "totp secrets")
    with pytest.raises(ValueError, match="at least 32 characters"):
        derive_key("", "totp secrets")
    assert len(derive_key("x" * 32, "totp secrets")) == 32


def test_one_key_per_purpose() -> None:
    assert derive_key(KEY, "totp secrets") == derive_key(KEY, "totp secrets")
    assert derive_key(KEY, "totp secrets") != derive_key(KEY, "cookies")
    assert derive_key(KEY, "totp secrets") != derive_key(OTHER_KEY, "totp secrets")
    # The key is derived, not the secret key's own bytes.
    assert KEY.encode()[:32] != derive_key(KEY, "totp secrets")


def test_derive_key_is_hkdf_sha256_as_rfc_5869_writes_it() -> None:
    # HKDF by hand with the standard library (RFC 5869 §2.2 and §2.3): with
    # no salt, the extract step uses HashLen zero bytes; a 32-byte key is
    # the first block T(1) of the expand step.
    prk = hmac.new(bytes(32), KEY.encode("utf-8"), hashlib.sha256).digest()
    okm = hmac.new(prk, b"wsgiauth totp secrets" + b"\x01", hashlib.sha256).digest()
    assert derive_key(KEY, "totp secrets") == okm
