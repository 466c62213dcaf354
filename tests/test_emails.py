"""Emails: the one canonical form of an address, and what is not a plain address.

``Auth.normalize_email`` is ``emails.normalize_email`` under the name the
app calls it by. SECURITY.md ("plain addresses only") says why each form
below is refused; what the endpoints answer to them (400, naming the email)
is in test_api.py.
"""

import pytest

from wsgiauth.auth import Auth, InvalidInput


@pytest.mark.parametrize(
    "email",
    [
        "victim@corp.test(1)",
        '"victim"@corp.test',
        "x<victim@corp.test>",
        "g:victim@corp.test;",
        "(c)victim@corp.test",
        "a@b@c",
    ],
)
def test_normalize_email_refuses_what_is_not_a_plain_address(email: str) -> None:
    # Each of these is mailed to victim@corp.test by an address parser,
    # under a throttle key of its own (SECURITY.md, "plain addresses only").
    with pytest.raises(InvalidInput, match="email"):
        Auth.normalize_email(email)


@pytest.mark.parametrize(
    ("email", "normalized"),
    [
        ("unknown@email", "unknown@email"),
        (" Bob.O'Neil+tag@Mail.Example.COM ", "bob.o'neil+tag@mail.example.com"),
        ("zo\u00eb@example.com", "zo\u00eb@example.com"),
        ("zoe\u0308@example.com", "zo\u00eb@example.com"),  # NFC: one spelling, one account
        ("a-b_c@x-y.example", "a-b_c@x-y.example"),
    ],
)
def test_normalize_email_keeps_plain_addresses(email: str, normalized: str) -> None:
    assert Auth.normalize_email(email) == normalized
