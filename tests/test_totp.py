"""wsgiauth.totp against the test vectors of RFC 4226 and RFC 6238, and against pyotp."""

import base64
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from wsgiauth import totp

# The secret of both RFCs' test vectors: the ASCII string "12345678901234567890".
RFC_SECRET = b"12345678901234567890"

# --- HOTP: RFC 4226 Appendix D ----------------------------------------------

# Count, HMAC-SHA-1(secret, count) in hexadecimal, the truncated value in
# hexadecimal and in decimal, and the HOTP value: the appendix's two tables.
RFC_4226_APPENDIX_D = [
    (0, "cc93cf18508d94934c64b65d8ba7667fb7cde4b0", 0x4C93CF18, 1284755224, "755224"),
    (1, "75a48a19d4cbe100644e8ac1397eea747a2d33ab", 0x41397EEA, 1094287082, "287082"),
    (2, "0bacb7fa082fef30782211938bc1c5e70416ff44", 0x82FEF30, 137359152, "359152"),
    (3, "66c28227d03a2d5529262ff016a1e6ef76557ece", 0x66EF7655, 1726969429, "969429"),
    (4, "a904c900a64b35909874b33e61c5938a8e15ed1c", 0x61C5938A, 1640338314, "338314"),
    (5, "a37e783d7b7233c083d4f62926c7a25f238d0316", 0x33C083D4, 868254676, "254676"),
    (6, "bc9cd28561042c83f219324d3c607256c03272ae", 0x7256C032, 1918287922, "287922"),
    (7, "a4fb960c0bc06e1eabb804e5b397cdc4b45596fa", 0x4E5B397, 82162583, "162583"),
    (8, "1b3c89f65e6c9e883012052823443f048b4332db", 0x2823443F, 673399871, "399871"),
    (9, "1637409809a679dc698207310c8c7fc07290d9e5", 0x2679DC69, 645520489, "520489"),
]


@pytest.mark.parametrize(
    ("count", "mac", "truncated_hex", "truncated", "code"), RFC_4226_APPENDIX_D
)
def test_hotp_matches_rfc_4226_appendix_d(
    count: int, mac: str, truncated_hex: int, truncated: int, code: str
) -> None:
    steps = totp.hotp_breakdown(RFC_SECRET, count)
    assert steps.counter == count
    assert steps.message == count.to_bytes(8, "big")
    assert steps.mac.hex() == mac
    assert steps.offset == bytes.fromhex(mac)[-1] & 0xF
    assert steps.number == truncated_hex == truncated
    assert steps.code == code
    assert totp.hotp(RFC_SECRET, count) == code


def test_hotp_codes_of_7_and_8_digits_and_leading_zeros() -> None:
    # Count 7's number is 82162583: the code is its last 6, 7 or 8 digits.
    assert totp.hotp(RFC_SECRET, 7, digits=8) == "82162583"
    assert totp.hotp(RFC_SECRET, 7, digits=7) == "2162583"
    assert totp.hotp(RFC_SECRET, 7) == "162583"
    # Step 0x23523EC (RFC 6238, time 1111111109): a code that starts with 0.
    assert totp.hotp(RFC_SECRET, 0x23523EC) == "081804"


@pytest.mark.parametrize("digits", [0, 5, 9, 10])
def test_hotp_refuses_other_lengths(digits: int) -> None:
    with pytest.raises(ValueError, match="6, 7 or 8 digits"):
        totp.hotp(RFC_SECRET, 0, digits=digits)


@pytest.mark.parametrize("counter", [-1, 2**64])
def test_hotp_refuses_a_counter_that_is_not_8_bytes(counter: int) -> None:
    with pytest.raises(ValueError, match="8 bytes"):
        totp.hotp(RFC_SECRET, counter)


def test_hotp_reads_the_largest_counter() -> None:
    assert totp.hotp_breakdown(RFC_SECRET, 2**64 - 1).message == b"\xff" * 8


# --- TOTP: RFC 6238 Appendix B ----------------------------------------------

# The SHA-1 rows: time, T in hexadecimal (the step number), 8-digit TOTP.
RFC_6238_APPENDIX_B = [
    (59, 0x1, "94287082"),
    (1111111109, 0x23523EC, "07081804"),
    (1111111111, 0x23523ED, "14050471"),
    (1234567890, 0x273EF07, "89005924"),
    (2000000000, 0x3F940AA, "69279037"),
    (20000000000, 0x27BC86AA, "65353130"),
]


@pytest.mark.parametrize(("now", "step", "code"), RFC_6238_APPENDIX_B)
def test_totp_matches_rfc_6238_appendix_b(now: int, step: int, code: str) -> None:
    assert totp.time_step(now) == step
    assert totp.totp(RFC_SECRET, now, digits=8) == code
    # Six digits are the last six of eight: both are the same number modulo
    # a power of ten.
    assert totp.totp(RFC_SECRET, now) == code[-6:]


@pytest.mark.parametrize(
    ("now", "step"), [(0, 0), (29.999, 0), (30, 1), (59, 1), (60, 2), (-0.5, -1)]
)
def test_time_steps_are_30_seconds_from_the_epoch(now: float, step: int) -> None:
    assert totp.time_step(now) == step


# --- verify: drift, replay, malformed codes ---------------------------------

NOW = 1111111111.0  # step 0x23523ED
STEP = totp.time_step(NOW)


def code_at(step: int) -> str:
    return totp.hotp(RFC_SECRET, step)


@pytest.mark.parametrize("drift", [-1, 0, 1])
def test_verify_accepts_one_step_of_drift_either_way(drift: int) -> None:
    assert totp.verify(RFC_SECRET, code_at(STEP + drift), NOW, None) == STEP + drift


@pytest.mark.parametrize("drift", [-3, -2, 2, 3])
def test_verify_refuses_two_steps_away(drift: int) -> None:
    assert totp.verify(RFC_SECRET, code_at(STEP + drift), NOW, None) is None


def test_verify_answers_at_both_ends_of_a_step() -> None:
    start = STEP * totp.STEP_SECONDS
    for now in (start, start + 29.999):
        assert totp.verify(RFC_SECRET, code_at(STEP), now, None) == STEP
    assert totp.verify(RFC_SECRET, code_at(STEP), start + 60, None) is None


def test_verify_accepts_a_code_once() -> None:
    used = totp.verify(RFC_SECRET, code_at(STEP), NOW, None)
    assert used == STEP
    # The same code, again, within its 90 seconds of life: refused.
    assert totp.verify(RFC_SECRET, code_at(STEP), NOW, used) is None
    assert totp.verify(RFC_SECRET, code_at(STEP), NOW + 30, used) is None
    # The next step's code is still good, and then spent in its turn.
    assert totp.verify(RFC_SECRET, code_at(STEP + 1), NOW, used) == STEP + 1
    assert totp.verify(RFC_SECRET, code_at(STEP + 1), NOW, STEP + 1) is None


def test_verify_refuses_a_step_older_than_the_last_used() -> None:
    # The code of the step before, used after the current one: too late,
    # though it is within the drift.
    assert totp.verify(RFC_SECRET, code_at(STEP - 1), NOW, None) == STEP - 1
    assert totp.verify(RFC_SECRET, code_at(STEP - 1), NOW, STEP) is None


def test_verify_near_the_epoch_has_no_step_before_0() -> None:
    assert totp.verify(RFC_SECRET, code_at(0), 10, None) == 0
    assert totp.verify(RFC_SECRET, code_at(1), 10, None) == 1
    assert totp.verify(RFC_SECRET, code_at(0), -100, None) is None


def test_verify_refuses_another_secrets_code() -> None:
    other = b"09876543210987654321"
    assert totp.verify(RFC_SECRET, totp.totp(other, NOW), NOW, None) is None


# White space is ignored anywhere (apps show "123 456"); everything else
# that is not exactly six ASCII digits is refused.
@pytest.mark.parametrize(
    "spaced", ["{} {}", " {}{} ", "{}\t{}\n", "{}\u00a0{}", "{}\u2003{}"], ids=repr
)
def test_verify_ignores_white_space(spaced: str) -> None:
    code = code_at(STEP)
    assert totp.verify(RFC_SECRET, spaced.format(code[:3], code[3:]), NOW, None) == STEP


def to_arabic_indic(code: str) -> str:
    return code.translate({ord(d): 0x0660 + int(d) for d in "0123456789"})


def to_fullwidth(code: str) -> str:
    return code.translate({ord(d): 0xFF10 + int(d) for d in "0123456789"})


@pytest.mark.parametrize(
    "mangle",
    [
        lambda code: code[:5],  # 5 digits
        lambda code: code + "0",  # 7 digits
        lambda code: "0" + code,  # 7 digits, the right six at the end
        lambda code: "",
        lambda code: code[:5] + "a",
        lambda code: "abcdef",
        lambda code: code[:3] + "-" + code[3:],
        lambda code: "+" + code[1:],
        lambda code: code[:5] + "\x00",
        to_arabic_indic,  # str.isdigit() is true for these
        to_fullwidth,
        lambda code: code[:5] + "\u00b2",  # superscript two, a digit to Python
    ],
)
def test_verify_refuses_malformed_codes(mangle: Callable[[str], str]) -> None:
    code = mangle(code_at(STEP))
    assert code != code_at(STEP)
    assert totp.verify(RFC_SECRET, code, NOW, None) is None


def test_arabic_indic_digits_are_what_the_check_must_catch() -> None:
    # The reason for the ASCII test: Python reads these as the right code.
    mangled = to_arabic_indic(code_at(STEP))
    assert mangled.isdigit()
    assert int(mangled) == int(code_at(STEP))


def test_verify_with_8_digits() -> None:
    code = totp.totp(RFC_SECRET, NOW, digits=8)
    assert totp.verify(RFC_SECRET, code, NOW, None, digits=8) == STEP
    assert totp.verify(RFC_SECRET, code[-6:], NOW, None, digits=8) is None
    assert totp.verify(RFC_SECRET, code, NOW, None) is None


# --- against pyotp, an implementation of its own ----------------------------

TIMES = st.integers(min_value=60, max_value=2**36)


@given(secret=st.binary(min_size=totp.SECRET_BYTES, max_size=totp.SECRET_BYTES), now=TIMES)
def test_pyotp_codes_are_accepted(secret: bytes, now: int) -> None:
    code = pyotp.TOTP(totp.to_base32(secret)).at(now)
    assert totp.totp(secret, now) == code
    assert totp.verify(secret, code, now, None) == totp.time_step(now)


@given(now=TIMES, drift=st.sampled_from([-30, 30]))
def test_pyotp_codes_a_step_away_are_accepted(now: int, drift: int) -> None:
    secret = totp.new_secret()
    code = pyotp.TOTP(totp.to_base32(secret)).at(now + drift)
    assert totp.verify(secret, code, now, None) == totp.time_step(now + drift)


@pytest.mark.parametrize(
    ("account", "issuer"),
    [
        ("bob@me.com", "wsgiauth"),
        ("bob+2fa@example.com", "ACME Co"),
        ("élise@exemple.fr", "Société & fils/50%"),
    ],
)
def test_pyotp_reads_our_uri(account: str, issuer: str) -> None:
    secret = totp.new_secret()
    uri = totp.otpauth_uri(secret, account, issuer)
    parsed = pyotp.parse_uri(uri)
    assert isinstance(parsed, pyotp.TOTP)
    assert parsed.secret == totp.to_base32(secret)
    assert parsed.name == account
    assert parsed.issuer == issuer
    assert parsed.digits == totp.DIGITS
    assert parsed.interval == totp.STEP_SECONDS
    assert parsed.at(NOW) == totp.totp(secret, NOW)


def test_uri_spelled_out() -> None:
    uri = totp.otpauth_uri(RFC_SECRET, "bob+2fa@example.com", "ACME Co")
    parts = urlsplit(uri)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
    # Spaces are %20 (never "+"), "+" is escaped, "@" is left as it is.
    assert parts.path == "/ACME%20Co:bob%2B2fa@example.com"
    assert parse_qs(parts.query) == {
        "secret": ["GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"],
        "issuer": ["ACME Co"],
        "algorithm": ["SHA1"],
        "digits": ["6"],
        "period": ["30"],
    }
    assert "issuer=ACME%20Co" in parts.query


@pytest.mark.parametrize(("account", "issuer"), [("a:b@me.com", "wsgiauth"), ("bob@me.com", "x:y")])
def test_uri_refuses_a_colon_in_a_name(account: str, issuer: str) -> None:
    with pytest.raises(ValueError, match="':'"):
        totp.otpauth_uri(RFC_SECRET, account, issuer)


# --- the secret as base32 ---------------------------------------------------


def test_new_secrets_are_160_random_bits() -> None:
    secrets = {totp.new_secret() for _ in range(100)}
    assert len(secrets) == 100
    assert {len(secret) for secret in secrets} == {20}
    assert {len(totp.to_base32(secret)) for secret in secrets} == {32}


def test_base32_of_the_rfc_secret() -> None:
    assert totp.to_base32(RFC_SECRET) == "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


@given(st.binary(max_size=64))
def test_base32_round_trip_without_padding(secret: bytes) -> None:
    text = totp.to_base32(secret)
    assert "=" not in text
    assert text.rstrip("=") == base64.b32encode(secret).decode("ascii").rstrip("=")
    assert totp.from_base32(text) == secret


@given(st.binary(min_size=1, max_size=64), st.data())
def test_base32_as_a_person_types_it(secret: bytes, data: st.DataObject) -> None:
    text = totp.to_base32(secret)
    # Lower case, with spaces in groups of four, and maybe the padding.
    typed = " ".join(text[i : i + 4] for i in range(0, len(text), 4)).lower()
    if data.draw(st.booleans()):
        typed = " " + typed + "=" * (-len(text) % 8) + "\n"
    assert totp.from_base32(typed) == secret


@pytest.mark.parametrize("typed", ["GEZDGNBVGY3TQOJ1", "GEZDGNB!", "A", "ÉEZDGNBV", "GEZ-DGNBV"])
def test_base32_refuses_what_is_not_base32(typed: str) -> None:
    with pytest.raises(ValueError):
        totp.from_base32(typed)
