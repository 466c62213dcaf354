"""Recovery codes: the way into an account whose authenticator app is lost.

When two-factor login is turned on, the user is shown ten codes such as
``7kq2-mh9x-3vtd`` and asked to keep them somewhere safe. Each one logs in
once in place of a TOTP code. They have nothing of TOTP in them (no shared
secret, no clock): they are random tokens, shown once and stored only as
digests, like session ids. This module makes them, reads what a person
types back, and digests it.
"""

import hashlib
import secrets

# How many codes a user gets at once.
COUNT = 10
# Crockford's base32 alphabet (https://www.crockford.com/base32.html),
# lower-cased: digits and letters without i, l, o and u. The three first
# look like 1 and 0, and are read as them when typed (normalize); u is left
# out so that no code spells a common obscenity by chance.
ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
# Three groups of four characters, 5 bits each: 60 random bits a code.
GROUPS = 3
GROUP_LENGTH = 4
# What a person may type for a character of the alphabet (Crockford's rules).
_LOOK_ALIKES = str.maketrans({"o": "0", "i": "1", "l": "1"})


def new_codes(count: int = COUNT) -> list[str]:
    """Return ``count`` new, different recovery codes, such as ``7kq2-mh9x-3vtd``."""
    codes: dict[str, None] = {}  # a dict keeps the order, and no code twice
    while len(codes) < count:
        groups = (
            "".join(secrets.choice(ALPHABET) for _ in range(GROUP_LENGTH)) for _ in range(GROUPS)
        )
        codes["-".join(groups)] = None
    return list(codes)


def normalize(typed: str) -> str:
    """Return a typed code in its one canonical form: what is digested.

    Case, white space and hyphens do not count, and o, i and l are read as
    0, 1 and 1: ``" 7KQ2 MH9X-3VTD"`` is ``"7kq2mh9x3vtd"``. Text that is not
    a code comes out as something that matches no digest.
    """
    return "".join(typed.split()).replace("-", "").lower().translate(_LOOK_ALIKES)


def digest(code: str, user_id: int) -> str:
    """Return what the database keeps for a code of user ``user_id``: a SHA-256.

    The code is normalized first, so that it matches however it is typed.
    A plain hash is enough, as for session ids and unlike for passwords: a
    code is 60 random bits, not something a person chose, so there is no
    list of likely codes to try first against a stolen digest. The user id
    goes in as a salt: without it, each guess would be tried against every
    stored digest at once, and a million accounts' ten codes would make a
    hit ten million times cheaper. With it, finding one of an account's
    codes costs about 2^57 hashes, and gives only that account's second
    factor: its password still stands, bcrypt-hashed.
    """
    # A user id has no ":", so the one ":" tells the two parts apart.
    return hashlib.sha256(f"{user_id}:{normalize(code)}".encode()).hexdigest()
