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
        # RFC 2047 encoded words: the mail library and relays decode them
        # to victim@corp.test, and a language tag after "*" makes them endless.
        "=?utf-8?q?victim?=@corp.test",
        "=?utf-8*en?q?victim?=@corp.test",
        "=?utf-8?q?v?=ictim@corp.test",
        "vic=?tim@corp.test",
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
        ("a=b?c@example.com", "a=b?c@example.com"),  # "=" and "?" alone are atext
        # The domain as UTS #46 maps it, stored as its IDNA2008 A-label.
        ("zo\u00eb@b\u00fccher.example", "zo\u00eb@xn--bcher-kva.example"),
        ("bob@xn--bcher-kva.example", "bob@xn--bcher-kva.example"),
        ("victim@\uff45xample.com", "victim@example.com"),  # a full-width e
        ("victim@\uff25\uff38\uff21\uff2d\uff30\uff2c\uff25.com", "victim@example.com"),
        ("victim@example\u3002com", "victim@example.com"),  # the ideographic full stop
        ("victim@\ufb00.example", "victim@ff.example"),  # a ligature
        ("hans@stra\u00dfe.example", "hans@xn--strae-oqa.example"),  # IDNA2008 keeps ß
    ],
)
def test_normalize_email_keeps_plain_addresses(email: str, normalized: str) -> None:
    assert Auth.normalize_email(email) == normalized


@pytest.mark.parametrize(
    "email",
    [
        "a@ab--cd.example",  # hyphens in 3rd and 4th place, kept for xn--
        "a@xn--abc.example",  # not Punycode of anything allowed
        "a@exa\u200dmple.com",  # a joiner where IDNA2008 allows none
        "a@under_score.example",
        "a@example.com.",  # the root's dot: a second spelling of the domain
        "a@[192.0.2.1]",
        "a@" + "\u00fc" * 64 + ".example",  # a label over 63 once in ASCII
    ],
)
def test_normalize_email_refuses_a_domain_that_does_not_map(email: str) -> None:
    with pytest.raises(InvalidInput, match="email"):
        Auth.normalize_email(email)


def test_the_length_limit_holds_for_the_ascii_form() -> None:
    # 190 characters typed, 260 once the domain is in ASCII: b\u00fccher is
    # xn--bcher-kva.
    email = "a" * 120 + "@" + ".".join(["b\u00fccher"] * 10)
    assert len(email) == 190
    with pytest.raises(InvalidInput, match="250"):
        Auth.normalize_email(email)
