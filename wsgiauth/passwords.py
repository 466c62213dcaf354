"""Passwords: bcrypt, its cost, the rules a new password must meet, and bcrypt's slots.

Like Django's ``hashers`` and ``password_validation`` together: a password
is hashed with bcrypt, checked against its hash (or against a dummy one,
when the email has no account), hashed again when the configured cost has
changed, and held to one policy at registration and reset. bcrypt is the
one costly thing the service does, on purpose; ``Passwords.slot`` keeps it
to as many at once as there are cores.
"""

import contextlib
import functools
import uuid
from collections.abc import Iterator
from importlib import resources

import bcrypt

from wsgiauth.config import Settings
from wsgiauth.errors import Busy, InvalidInput
from wsgiauth.slots import FairSlots, client_key

# bcrypt reads at most 72 bytes of a password; bcrypt 5 raises ValueError on
# more. Longer passwords are refused rather than silently truncated.
MAX_PASSWORD_BYTES = 72


def encode(password: str) -> bytes:
    """Return the password as the UTF-8 bytes bcrypt takes, or raise ``InvalidInput``."""
    if not password:
        raise InvalidInput("password must not be empty")
    encoded = password.encode("utf-8")
    if len(encoded) > MAX_PASSWORD_BYTES:
        raise InvalidInput(f"password must be at most {MAX_PASSWORD_BYTES} bytes in UTF-8")
    return encoded


def cost(hashed: str) -> int:
    """Return the bcrypt cost a stored hash was made at; 0 if it is not a bcrypt hash."""
    # "$2b$12$<salt and hash>": the cost is the third field, two digits.
    fields = hashed.split("$")
    return int(fields[2]) if len(fields) >= 4 and fields[2].isdigit() else 0


def hash_password(password: str, rounds: int) -> bytes:
    """Return a salted bcrypt hash (``$2b$``) of ``password`` at cost ``rounds``."""
    return bcrypt.hashpw(encode(password), bcrypt.gensalt(rounds))


@functools.cache
def common_passwords() -> frozenset[str]:
    """Return the 30,000 most common passwords, lower-cased, from the shipped list.

    NIST SP 800-63B §5.1.1.2 asks that a new password be checked against
    passwords from previous breaches. ``common_passwords.txt`` is the
    ``passwords`` frequency list of zxcvbn (MIT licence, quoted in the
    file), drawn from leaked password corpora. It is shipped as a plain
    file rather than read from the ``zxcvbn`` package at run time: that
    package loads all its word lists, 56 MB of memory, for this one.
    """
    text = resources.files("wsgiauth").joinpath("common_passwords.txt").read_text("utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


class Passwords:
    """Hash and check passwords at the configured cost, within the bcrypt slots."""

    def __init__(self, settings: Settings) -> None:
        """Use the cost, slots and policy of ``settings``."""
        self.settings = settings
        self._slots = FairSlots(settings.bcrypt_slots)
        # Made now, not at the first unknown email: that login would
        # otherwise take twice as long, and tell.
        self._dummy_hash = self.hash(str(uuid.uuid4())).encode("ascii")
        if settings.refuse_common_passwords:
            common_passwords()  # loaded now, not on the first registration

    def check_policy(self, password: str) -> None:
        """Raise ``InvalidInput`` unless ``password`` may be set, at registration or reset."""
        encode(password)
        minimum = self.settings.password_min_length
        if len(password) < minimum:
            raise InvalidInput(f"password must be at least {minimum} characters")
        if self.settings.refuse_common_passwords and password.lower() in common_passwords():
            raise InvalidInput("this password is among the most common ones: choose another")

    def hash(self, password: str) -> str:
        """Return the bcrypt hash of ``password`` at the configured cost, as stored."""
        return hash_password(password, self.settings.bcrypt_rounds).decode("ascii")

    def matches(self, hashed: str | None, password: str) -> bool:
        """Check ``password`` against a stored hash; ``None`` is an email with no account.

        With no account, the password is checked against a dummy hash of the
        configured cost, so that the answer takes as long as for a wrong
        password: the time does not tell which emails have an account. A
        wrong password for a hash of a lower cost, made before the cost went
        up and not hashed again since (``needs_rehash``), pays the
        difference: the answer then takes what the dummy check takes.
        """
        try:
            encoded = encode(password)
        except InvalidInput:
            return False
        if hashed is None:
            bcrypt.checkpw(encoded, self._dummy_hash)
            return False
        if bcrypt.checkpw(encoded, hashed.encode("ascii")):
            return True
        # bcrypt's work doubles with each unit of cost: the checks at costs
        # c, c+1, ..., n-1 after one at cost c add up to one at cost n.
        for rounds in range(cost(hashed), self.settings.bcrypt_rounds):
            bcrypt.hashpw(encoded, bcrypt.gensalt(rounds))
        return False

    def needs_rehash(self, hashed: str) -> bool:
        """Tell whether a hash was made at another cost than the configured one.

        As Django does: after a change of cost, a login hashes the password
        again, so that the account costs what a new one does from then on.
        """
        # A hash made here at cost 12 starts "$2b$12$" (``cost`` reads it).
        return not hashed.startswith(f"$2b${self.settings.bcrypt_rounds:02d}$")

    @contextlib.contextmanager
    def slot(self, client: str = "") -> Iterator[None]:
        """Hold a bcrypt slot for the client at this address during the block, or raise ``Busy``.

        Each bcrypt check holds a core for a quarter of a second. With more
        checks than cores, they only take turns, and every worker thread
        ends up waiting on one, so that even ``GET /profile`` waits. Past
        ``bcrypt_slots`` checks at once, a request is refused before it does
        any work: before its login attempt is counted (a 503 costs nobody
        their login budget) and whether or not the email has an account (an
        unknown email does the same dummy check, so a busy answer tells
        nothing either). The slots are shared by client address
        (``slots.FairSlots``): a client that floods them cannot keep another
        out, since the next free slot goes to a client holding none.
        """
        key = client_key(client)
        if not self._slots.acquire(key):
            raise Busy()
        try:
            yield
        finally:
            self._slots.release(key)
