"""TOTP, the six digits of an authenticator app, written from RFC 4226 and RFC 6238.

An authenticator app and the server share a secret of 20 random bytes. Both
compute HOTP (RFC 4226): an HMAC-SHA1 of a counter, cut down to six digits.
TOTP (RFC 6238) takes for the counter the number of 30-second steps since
1970, so that the code changes every half-minute and neither side needs to
send the other anything. The server checks a code with ``verify``, which
forgives one step of clock drift and accepts each step once.

The secret travels to the app once, as base32 text inside an ``otpauth://``
URI (shown as a QR code); the server keeps it sealed (``secretbox.py``).
Everything here is pure arithmetic: no clock is read, so every function
takes the time it works on. ``docs/totp.md`` computes one code by hand.
"""

import base64
import hashlib
import hmac
import secrets
import struct
from dataclasses import dataclass
from urllib.parse import quote, urlencode

# RFC 4226 §4, requirement R6: "The length of the shared secret MUST be at
# least 128 bits. This document RECOMMENDs a shared secret length of 160 bits."
SECRET_BYTES = 20
# RFC 6238 §4.1: "X represents the time step in seconds (default value X =
# 30 seconds)"; T0 is the Unix time to start counting steps (default 0).
STEP_SECONDS = 30
T0 = 0
# Six digits is what authenticator apps show, and the only length some of
# them honour (see otpauth_uri).
DIGITS = 6
# RFC 6238 §5.2: "We RECOMMEND that at most one time step is allowed as the
# network delay", and §6 on clocks that drift. One step either way means a
# code is good for 90 seconds at most: each step more is 30 more seconds in
# which a code read over a shoulder still works.
DRIFT_STEPS = 1


# --- HOTP: RFC 4226 ---------------------------------------------------------


@dataclass(frozen=True)
class HotpBreakdown:
    """The values one HOTP computation goes through, in the order of RFC 4226 §5.3."""

    counter: int
    message: bytes  # the counter as 8 bytes, big-endian (§5.2)
    mac: bytes  # HS = HMAC-SHA-1(K, C), 20 bytes (§5.3, step 1)
    offset: int  # the low 4 bits of the last byte of HS (§5.3, step 2)
    number: int  # the 31-bit number read at that offset (Snum, §5.3, step 3)
    code: str  # that number modulo 10^digits, zero-padded


def hotp_breakdown(secret: bytes, counter: int, digits: int = DIGITS) -> HotpBreakdown:
    """Compute the HOTP code of ``counter`` and return every value on the way.

    ``hotp`` is this function's last value; ``docs/totp.md`` prints the
    others. Raises ``ValueError`` for a counter that does not fit in 8
    bytes or for fewer than 6 or more than 8 digits.
    """
    # RFC 4226 §5.3: "Implementations MUST extract a 6-digit code at a
    # minimum and possibly 7 and 8-digit code."
    if not 6 <= digits <= 8:
        raise ValueError(f"HOTP codes have 6, 7 or 8 digits, not {digits}")
    # §5.1: "C 8-byte counter value, the moving factor."
    if not 0 <= counter < 2**64:
        raise ValueError(f"the counter must fit in 8 bytes: {counter}")
    # §5.2: the counter is hashed "high-order byte first", that is big-endian.
    message = struct.pack(">Q", counter)
    mac = hmac.new(secret, message, hashlib.sha1).digest()
    # §5.3, dynamic truncation: the last byte says where to read 4 bytes, so
    # that which bytes become the code is itself decided by the HMAC.
    offset = mac[-1] & 0x0F
    # The top bit is dropped (& 0x7FFFFFFF), "to avoid confusion about signed
    # vs. unsigned modulo computations" (§5.3).
    number = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFF_FFFF
    code = str(number % 10**digits).zfill(digits)
    return HotpBreakdown(counter, message, mac, offset, number, code)


def hotp(secret: bytes, counter: int, digits: int = DIGITS) -> str:
    """Return the HOTP code of ``counter`` under ``secret`` (RFC 4226 §5.3), as text.

    The code is text, not a number: ``"081804"`` keeps its leading zero.
    """
    return hotp_breakdown(secret, counter, digits).code


# --- TOTP: RFC 6238 ---------------------------------------------------------


def time_step(now: float) -> int:
    """Return the number of the 30-second step that Unix time ``now`` falls in.

    RFC 6238 §4.2: T = (Current Unix time - T0) / X, rounded down.
    """
    return int((now - T0) // STEP_SECONDS)


def totp(secret: bytes, now: float, digits: int = DIGITS) -> str:
    """Return the TOTP code at Unix time ``now`` (RFC 6238 §4.2): HOTP of its time step."""
    return hotp(secret, time_step(now), digits)


def verify(
    secret: bytes, code: str, now: float, last_step: int | None, digits: int = DIGITS
) -> int | None:
    """Check a typed code at Unix time ``now``; return the step it matched, or ``None``.

    The code may be that of the current step, the step before or the one
    after (``DRIFT_STEPS``). It is accepted once: ``last_step`` is the step
    that this secret last matched (``None`` if never), and that step and
    every one before it are refused, so a code seen by someone else is
    already spent (RFC 6238 §5.2: "the verifier MUST NOT accept the second
    attempt of the OTP after the successful validation has been issued for
    the first OTP"). The caller stores the step returned as the next
    ``last_step``.

    White space anywhere is ignored, as in ``"123 456"``, the way apps show
    a code; what is left must be exactly ``digits`` ASCII digits. Anything
    else (``"١٢٣٤٥٦"``, a sign, five digits) is refused before any HMAC.
    """
    code = "".join(code.split())
    # str.isdigit alone is not enough: it is true for Arabic-Indic digits and
    # for "²"; among ASCII characters, only 0-9 are digits.
    if len(code) != digits or not (code.isascii() and code.isdigit()):
        return None
    now_step = time_step(now)
    first = now_step - DRIFT_STEPS
    if last_step is not None:
        first = max(first, last_step + 1)  # a used step, or an older one: spent
    # Counters start at 0: in the first 30 seconds of 1970 there is no step before.
    for step in range(max(first, 0), now_step + DRIFT_STEPS + 1):
        # A constant-time comparison: the time taken tells nothing of how
        # many leading digits were right.
        if hmac.compare_digest(hotp(secret, step, digits), code):
            return step
    return None


# --- the secret, as text ----------------------------------------------------


def new_secret() -> bytes:
    """Return a new shared secret: 160 random bits (RFC 4226 §4, R6)."""
    return secrets.token_bytes(SECRET_BYTES)


def to_base32(secret: bytes) -> str:
    """Return the secret in base32 (RFC 4648 §6), without the ``=`` padding.

    Authenticator apps take the secret in base32, and the Key Uri Format
    says the padding "should be omitted": 20 bytes are 32 letters and need
    none, but other lengths would end in ``=``, which some apps refuse.
    """
    return base64.b32encode(secret).decode("ascii").rstrip("=")


def from_base32(text: str) -> bytes:
    """Return the bytes of a base32 secret as a person may type it.

    Lower case is taken as upper case, white space is ignored and the
    ``=`` padding may be there or not. Raises ``ValueError`` for anything
    that is still not base32 after that.
    """
    letters = "".join(text.split()).upper().rstrip("=")
    # b32decode wants the padding back: a multiple of 8 characters.
    return base64.b32decode(letters + "=" * (-len(letters) % 8))


# --- the otpauth:// URI -----------------------------------------------------


def otpauth_uri(secret: bytes, account: str, issuer: str) -> str:
    """Return the ``otpauth://totp/`` URI that sets up an authenticator app.

    The Key Uri Format (Google Authenticator's wiki) is
    ``otpauth://totp/ISSUER:ACCOUNT?secret=...&issuer=ISSUER``. Neither
    name may contain a colon, the label's separator: ``ValueError``.
    """
    if ":" in issuer or ":" in account:
        raise ValueError("the issuer and the account name must not contain ':'")
    # Each name is percent-encoded on its own (RFC 3986 §2.1: a space is
    # %20; "+" for a space is HTML forms' rule, not RFC 3986's; "@" may
    # stand in a path, §3.3), then joined by the literal colon that
    # separates them.
    label = f"{quote(issuer, safe='@')}:{quote(account, safe='@')}"
    parameters = {
        "secret": to_base32(secret),
        # The issuer again: the parameter is "STRONGLY RECOMMENDED", and the
        # wiki recommends both, since older apps read only the label.
        "issuer": issuer,
        # The defaults of the format, written out: some apps ignore these
        # three and always compute SHA1, 6 digits, 30 seconds, which is why
        # wsgiauth never uses other values; writing them keeps the URI
        # right for the apps that read them, and tells a reader what is used.
        "algorithm": "SHA1",
        "digits": str(DIGITS),
        "period": str(STEP_SECONDS),
    }
    return f"otpauth://totp/{label}?{urlencode(parameters, quote_via=quote)}"
