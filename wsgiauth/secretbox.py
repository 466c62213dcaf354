"""Sealing the secrets the server must read back, such as TOTP secrets.

A password or a session id is stored as a hash: the server only ever needs
to recognise it. A TOTP secret is different: to check a code the server
must compute HMACs with the secret itself, so it has to get it back. Such a
secret is *sealed* before it is stored: encrypted and authenticated with
AES-GCM under a key that is not in the database, but derived from
``WSGIAUTH_SECRET_KEY``. A copy of the database alone then holds no usable
secret, and a sealed value that was changed, or moved to another user's
row, does not open.

The name comes from NaCl and libsodium, whose ``crypto_secretbox`` is the
same idea (a secret key that both seals and opens, and a value that is
authenticated as well as hidden) and where a learner may meet it next.
"""

import base64
import os
import secrets
import tempfile
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# WSGIAUTH_SECRET_KEY is any text of at least this many characters.
MIN_SECRET_KEY_LENGTH = 32
# AES-256: 32-byte keys.
KEY_BYTES = 32
# NIST SP 800-38D §8.2: 96-bit nonces are the ones GCM is designed for. Each
# is random: §8.3 allows 2^32 seals under one key that way, far more than
# the TOTP secrets of any one service.
NONCE_BYTES = 12
# GCM's authentication tag, which cryptography appends to the ciphertext.
TAG_BYTES = 16
# The sealed text starts with this, so that a later format, or a value
# sealed under a new key, can be told apart from the values stored today.
FORMAT = "v1"


def new_key() -> str:
    """Return a new random secret key: 256 bits, as 43 characters of URL-safe base64."""
    return secrets.token_urlsafe(KEY_BYTES)


def kept_key(path: Path) -> str:
    """Return the secret key kept in the file at ``path``; make the file first if there is none.

    For development mode, where ``WSGIAUTH_SECRET_KEY`` may be unset: a key
    must outlive the process, or no sealed secret opens after a restart.
    The file is made readable by its owner only (0600), at once whole: the
    key is written to a file of its own, then linked to ``path``, which
    fails if another process or thread made ``path`` first; that key is
    then the one read. Production never comes here: it refuses to start
    without ``WSGIAUTH_SECRET_KEY`` (``config.PRODUCTION_NEEDS``).
    """
    if not path.exists():
        # mkstemp makes the file with mode 0600, in the directory of path,
        # so that the link stays on one file system.
        descriptor, draft = tempfile.mkstemp(prefix=".secret-key-", dir=path.parent)
        try:
            with os.fdopen(descriptor, "w", encoding="ascii") as file:
                file.write(new_key() + "\n")
            os.link(draft, path)
        except FileExistsError:
            pass  # made meanwhile: read below
        finally:
            os.unlink(draft)
    return path.read_text(encoding="utf-8").strip()


class CannotOpen(ValueError):
    """A sealed value was changed, belongs to another owner, or was sealed under another key.

    AES-GCM cannot tell these apart, and neither does this error: any of
    them means the value must not be used.
    """


def derive_key(secret_key: str, purpose: str) -> bytes:
    """Return a 32-byte key for ``purpose``, derived from the configured secret key.

    HKDF-SHA256 (RFC 5869) turns one secret into as many independent keys
    as there are purposes. Its ``info`` label is there "to bind the derived
    key material to application- and context-specific information" (§3.2):
    the key for ``"totp secrets"`` is unrelated to the key for any other
    purpose, so that the one setting can serve every use to come. There is
    no salt (optional, §3.1; HashLen zero bytes stand in, §2.2): a salt adds
    strength to a weak input, and this input is meant to be a long secret.
    HKDF is fast, so it is no defence for a guessable secret key: that is
    why a long one is required.

    Raises ``ValueError`` for a secret key of fewer than 32 characters.
    """
    if len(secret_key) < MIN_SECRET_KEY_LENGTH:
        raise ValueError(
            f"WSGIAUTH_SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters long"
        )
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=KEY_BYTES,
        salt=None,
        info=f"wsgiauth {purpose}".encode(),
    )
    return hkdf.derive(secret_key.encode("utf-8"))


class SecretBox:
    """Seal and open values for one purpose, under a key derived from the secret key."""

    def __init__(self, secret_key: str, purpose: str) -> None:
        """Derive this purpose's key from ``secret_key`` (``ValueError`` if too short)."""
        self._aead = AESGCM(derive_key(secret_key, purpose))

    def seal(self, value: bytes, owner: str) -> str:
        """Return ``value`` encrypted and authenticated, as ASCII text for a VARCHAR column.

        ``owner`` names the row the value belongs to, such as ``str(user.id)``.
        It is not stored: it is AES-GCM's associated data, authenticated
        with the value, so the sealed text opens only for the same owner.
        Copied into another user's row, it does not open.

        The text is ``v1.`` and then, in base64, a new random nonce, the
        ciphertext and the 16-byte tag: a 20-byte TOTP secret takes 67
        characters. Sealing one value twice gives two different texts.
        """
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = nonce + self._aead.encrypt(nonce, value, owner.encode("utf-8"))
        return f"{FORMAT}.{base64.b64encode(sealed).decode('ascii')}"

    def open(self, sealed: str, owner: str) -> bytes:
        """Return the value that ``seal`` sealed for ``owner``.

        Raises ``CannotOpen`` if the text is not a sealed value of this
        format, was changed in any way, was sealed for another owner, or
        under another key or purpose.
        """
        version, dot, text = sealed.partition(".")
        if version != FORMAT or not dot:
            raise CannotOpen(f"not a sealed value of format {FORMAT}")
        try:
            raw = base64.b64decode(text, validate=True)
        except ValueError:  # binascii.Error is one, and so is non-ASCII text
            raise CannotOpen("a sealed value must be base64 after its format") from None
        if len(raw) < NONCE_BYTES + TAG_BYTES:
            raise CannotOpen("too short to be a sealed value: no room for a nonce and a tag")
        nonce, ciphertext = raw[:NONCE_BYTES], raw[NONCE_BYTES:]
        try:
            return self._aead.decrypt(nonce, ciphertext, owner.encode("utf-8"))
        except InvalidTag:
            raise CannotOpen(
                "the sealed value was changed, is another owner's, or was sealed under another key"
            ) from None
