"""Tokens: session ids and reset tokens, made, stored as digests, found and aged.

A token is a random UUID4 string, the only copy of which goes to the
client (in a cookie, or a mail). The database keeps its SHA-256 digest, so
that a copy of the database opens no session, and the time it was issued,
so that the server, not the client, decides when it is over.
"""

import hashlib
import re
import uuid
from collections.abc import Callable

from sqlalchemy.exc import NoResultFound

from wsgiauth.db import DB, TokenKind
from wsgiauth.user import User

# Session ids and reset tokens are canonical UUID4 strings; anything else is
# refused before it reaches the database.
SHAPE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def new_token() -> str:
    """Return a new random UUID4 as a string (seed task 9): 122 random bits."""
    return str(uuid.uuid4())


def digest(token: str) -> str:
    """Return the SHA-256 of a token: what is stored.

    A plain hash is enough here, unlike for passwords: the token is 122
    random bits, so there is nothing to guess from its digest.
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Tokens:
    """Issue the users' tokens and find the user a token belongs to, while it lasts."""

    def __init__(self, db: DB, clock: Callable[[], float]) -> None:
        """Keep the tokens' digests in ``db``; ``clock`` tells when they were issued."""
        self._db = db
        self._clock = clock

    def issue(self, user_id: int, kind: TokenKind) -> str:
        """Give the user a new token of ``kind``, replacing the last one, and return it."""
        token = new_token()
        self._db.set_token(user_id, kind, digest(token), self._clock())
        return token

    def find_user(self, kind: TokenKind, token: str | None, ttl: int) -> User | None:
        """Return the user holding a token issued less than ``ttl`` seconds ago, or ``None``.

        The shape check keeps ``None``, ``""`` and junk away from the query:
        in SQLAlchemy, ``filter_by(session_id=None)`` means ``IS NULL``,
        which would match every logged-out user. A token whose time was
        never recorded counts as expired.
        """
        if token is None or not SHAPE.fullmatch(token):
            return None
        try:
            user, issued_at = self._db.find_user_by_token(kind, digest(token))
        except NoResultFound:
            return None
        if issued_at is None or self._clock() - issued_at >= ttl:
            return None
        return user
