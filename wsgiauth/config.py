"""Settings read from ``WSGIAUTH_*`` environment variables.

Each setting is a function, not a constant, so that it is read when it is
used: the tests and ``serve.py`` can set the environment before the first
request, and a bad value is reported with the variable's name.
"""

import os

DEFAULT_DATABASE_URL = "sqlite:///wsgiauth.sqlite"
DEFAULT_BCRYPT_ROUNDS = 12


def database_url() -> str:
    """Return the SQLAlchemy URL of the database (a SQLite file by default)."""
    return os.environ.get("WSGIAUTH_DATABASE_URL") or DEFAULT_DATABASE_URL


def bcrypt_rounds() -> int:
    """Return the bcrypt cost factor, checked against bcrypt's range 4..31."""
    raw = os.environ.get("WSGIAUTH_BCRYPT_ROUNDS") or str(DEFAULT_BCRYPT_ROUNDS)
    try:
        rounds = int(raw)
    except ValueError:
        rounds = 0
    if not 4 <= rounds <= 31:
        raise ValueError(f"WSGIAUTH_BCRYPT_ROUNDS must be a whole number from 4 to 31, not {raw!r}")
    return rounds
