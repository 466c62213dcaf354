"""Emails: the one canonical form of an address, and the mailbox it reaches.

An email is the name of an account, the key its logins are counted under
and the address a reset mail goes to. All three must be one and the same
string, or a mail relay would deliver one spelling to a mailbox counted
under another: so an email is normalized once, and must then be a plain
address, nothing an address parser could read in two ways. Its domain is
stored as the mail system reads it, in ASCII (the A-label of IDNA2008).
"""

import unicodedata

import idna

from wsgiauth.errors import InvalidInput

# The width of the email column.
MAX_EMAIL_LENGTH = 250
# RFC 5322 §3.2.3: the characters of an atom, beside letters and digits.
_ATEXT = frozenset("!#$%&'*+-/=?^_`{|}~")


def normalize_email(email: str) -> str:
    """Return ``email`` in its one canonical form, or raise ``InvalidInput``.

    The email is trimmed, put in Unicode NFC and lower-cased, and must then
    be a plain address: an addr-spec of RFC 5322 §3.4.1 whose local part is
    a dot-atom (§3.2.3: letters, digits and ``!#$%&'*+-/=?^_`{|}~``, in atoms
    joined by single dots) and whose domain is labels of letters, digits and
    inner hyphens joined by single dots. Letters may be non-ASCII (RFC 6531).
    A domain needs no dot: the seed's ``unknown@email`` is an email.

    Everything else an address parser would read is refused: display
    names, comments ``(...)``, quoted local parts, angle brackets, groups
    ``g:...;``, lists, domain literals ``[...]``, a second ``@``, and RFC
    2047 encoded words (``=?utf-8?q?victim?=``), which Python's mail
    library decodes back to the address inside when it writes ``To:``.
    A mail relay delivers each of those to a plain address hidden inside,
    which would count under a throttle key of its own (SECURITY.md, "one
    mailbox, one counter").

    The domain is mapped as UTS #46 maps it (full-width letters to ASCII,
    the ideographic full stop to a dot, case folded) and stored as its
    IDNA2008 A-label: ``zoë@bücher.example`` is
    ``zoë@xn--bcher-kva.example``, the one spelling of that domain that
    DNS and every relay read alike. A domain that does not map is refused.
    """
    email = unicodedata.normalize("NFC", email.strip()).lower()
    if not email:
        raise InvalidInput("email must not be empty")
    if len(email) > MAX_EMAIL_LENGTH:
        raise InvalidInput(f"email must be at most {MAX_EMAIL_LENGTH} characters")
    # Category "C" is control, format, surrogate and unassigned characters.
    if any(ch.isspace() or unicodedata.category(ch)[0] == "C" for ch in email):
        raise InvalidInput("email must not contain white space or control characters")
    local, _, domain = email.rpartition("@")
    if not local or not domain:
        raise InvalidInput("email must look like name@domain")
    try:
        # UTS #46 maps, IDNA2008 checks, and the A-label comes out in ASCII.
        domain = idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError:
        raise InvalidInput("email must have a domain name that IDNA2008 allows") from None
    # The local part: atoms joined by single dots, and no encoded word ("=?"
    # starts one, RFC 2047 §2). An atom's characters are atext: ASCII letters
    # and digits, the marks of _ATEXT, and non-ASCII letters, marks and
    # digits (Unicode categories L, M and N).
    dot_atom = "=?" not in local and all(
        atom
        and all(
            (ch.isalnum() if ch.isascii() else unicodedata.category(ch)[0] in "LMN") or ch in _ATEXT
            for ch in atom
        )
        for atom in local.split(".")
    )
    # The domain: labels of 1 to 63 ASCII letters, digits and inner hyphens.
    labels = all(
        0 < len(label) <= 63
        and label[0] != "-"
        and label[-1] != "-"
        and all(ch.isalnum() or ch == "-" for ch in label)
        for label in domain.split(".")
    )
    if not (dot_atom and labels):
        raise InvalidInput(
            "email must be a plain address such as name@example.com: no display name,"
            " comment, quotes, angle brackets, group, list or encoded word"
        )
    email = f"{local}@{domain}"
    if len(email) > MAX_EMAIL_LENGTH:  # the A-label can be longer than what was typed
        raise InvalidInput(f"email must be at most {MAX_EMAIL_LENGTH} characters")
    return email


def mailbox(email: str) -> str:
    """Return the mailbox a normalized email reaches: without a ``+tag``.

    Most mail systems deliver ``name+anything@domain`` to ``name@domain``
    (subaddressing, RFC 5233): reset requests are counted per mailbox, so
    that ``+1``, ``+2`` ... do not each get the limit.
    """
    local, _, domain = email.rpartition("@")
    return f"{local.partition('+')[0] or local}@{domain}"
