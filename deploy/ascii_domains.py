#!/usr/bin/env python3
"""Rewrite the emails stored before wsgiauth stored each domain as its A-label.

wsgiauth now stores the domain of an email in the ASCII form DNS and every
mail relay read, its IDNA2008 A-label (SECURITY.md, "one mailbox, one
counter"): ``zoë@bücher.example`` is stored as ``zoë@xn--bcher-kva.example``.
An account made by an earlier version with a non-ASCII domain keeps the
spelling it was made with, and its owner's logins, which look up the new
form, no longer find it. Run this once, on the database the service uses:

    WSGIAUTH_DATABASE_URL=... .venv/bin/python deploy/ascii_domains.py          # what it would do
    WSGIAUTH_DATABASE_URL=... .venv/bin/python deploy/ascii_domains.py --write  # and do it

Each stored email is normalized again, as a login normalizes what is
typed. One whose form changes is rewritten to it, unless:

- another account holds that form already: an earlier version took
  ``bob@bücher.example`` and ``bob@xn--bcher-kva.example`` as two accounts,
  although one mailbox reads both. Both are named, and left as they are
  for the operator to decide which one the owner keeps;
- the email is no longer one at all (an encoded word ``=?``, a domain
  IDNA2008 does not allow): named, and left as it is; it cannot log in.

It prints one line for each, and changes nothing without ``--write``.
"""

import argparse
import sys

from sqlalchemy import select, update

from wsgiauth import config
from wsgiauth.db import DB
from wsgiauth.emails import normalize_email
from wsgiauth.errors import InvalidInput
from wsgiauth.user import User


def rewrite(db: DB, write: bool = False) -> list[str]:
    """Find the emails not in their stored form; rewrite those that can be, with ``write``.

    Returns one line for each email found, saying what became of it.
    """
    with db.engine.connect() as connection:
        stored = {
            email: user_id for email, user_id in connection.execute(select(User.email, User.id))
        }
    report = []
    for email, user_id in sorted(stored.items(), key=lambda item: item[1]):
        try:
            canonical = normalize_email(email)
        except InvalidInput as error:
            report.append(f"left  {user_id}: {email!r} is no email any more ({error})")
            continue
        if canonical == email:
            continue
        if canonical in stored:
            other = stored[canonical]
            report.append(f"left  {user_id}: {email!r} is {canonical!r}, account {other}'s")
            continue
        if write:
            with db.engine.begin() as connection:
                statement = update(User).where(User.id == user_id).values(email=canonical)
                connection.execute(statement)
        report.append(f"{'wrote' if write else 'would'} {user_id}: {email!r} -> {canonical!r}")
    return report


def main(argv: list[str] | None = None) -> int:
    """Report, and with ``--write`` rewrite, the emails of the configured database."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite them (else only say)")
    args = parser.parse_args(argv)
    db = DB(config.load().database_url)
    try:
        lines = rewrite(db, write=args.write)
    finally:
        db.dispose()
    print("\n".join(lines) or "every stored email is in its stored form")
    return 0


if __name__ == "__main__":
    sys.exit(main())
