"""Production mode: reset tokens by email, a Secure cookie, 8-character passwords.

A real SMTP server (aiosmtpd) listens on 127.0.0.1 for each test; the app
mails to it, and the tests read the token out of the delivered message, as a
user would from their mailbox. The app runs in-process through WebTest, and
once end to end as ``serve.py --production``.

The app mails through an ``Outbox``, on a thread of its own; ``deliver``
closes the outbox, which waits for that thread to send everything queued, so
that "nothing more was mailed" is a fact and not a matter of waiting long
enough.
"""

import re
import socket
import statistics
import time
from collections import Counter
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests
import sqlalchemy
import webtest
from conftest import Server
from helpers import (
    CHROME,
    EMAIL,
    FORM,
    MAIL_FROM,
    NEW_PASSWORD,
    OTHER,
    PASSWORD,
    PUBLIC_URL,
    UUID4,
    Mailbox,
    deliver,
    free_port,
    production_app,
    production_env,
    without_date,
)

from wsgiauth import config, recovery, totp
from wsgiauth.api import NEW_EMAIL_MAILED, RESET_MAILED
from wsgiauth.auth import Auth
from wsgiauth.user import Base

SLOW_SMTP_SECONDS = 2.0
TIMEOUT = 10  # seconds, for every HTTP request to the real server


@pytest.fixture
def make_app(db, smtp) -> Iterator:
    """Make a production app mailing to a new SMTP server: returns ``(app, mailbox)``."""
    apps = []

    def make(delay: float = 0.0) -> tuple[webtest.TestApp, Mailbox]:
        mailbox, port = smtp(delay)
        settings = config.load(production_env(port), production=True)
        app = production_app(Auth(db, settings=settings))
        apps.append(app)
        return app, mailbox

    yield make
    for app in apps:  # before the SMTP servers stop (fixtures end in reverse order)
        app.outbox.close()


@pytest.fixture
def prod(make_app) -> tuple[webtest.TestApp, Mailbox]:
    """A production app and its SMTP server's mailbox."""
    return make_app()


# --- HTTP helpers -------------------------------------------------------------


def send(app: webtest.TestApp, method: str, path: str, form=None, cookie=None):
    """Send one urlencoded form with exactly this cookie, whatever the status."""
    app.reset()
    headers = {} if cookie is None else {"Cookie": cookie}
    params = {}
    if form is not None:
        params = {"body": urlencode(form).encode(), "content_type": FORM}
    return app.request(path, method=method, headers=headers, status="*", **params)


def register(app: webtest.TestApp, password: str = PASSWORD, email: str = EMAIL) -> None:
    res = send(app, "POST", "/users", {"email": email, "password": password})
    assert res.status_int == 200, res.body


def login_status(app: webtest.TestApp, password: str, email: str = EMAIL) -> int:
    return send(app, "POST", "/sessions", {"email": email, "password": password}).status_int


def token_in(message: EmailMessage) -> str:
    """Return the one reset token in a message's text."""
    tokens = set(UUID4.findall(message.get_content()))
    assert len(tokens) == 1, message.get_content()
    return tokens.pop()


# --- POST /reset_password: the same answer for every email, the token by mail ---


def test_reset_answer_is_the_same_for_registered_and_unknown_emails(prod):
    app, _ = prod
    register(app)
    known = send(app, "POST", "/reset_password", {"email": EMAIL})
    unknown = send(app, "POST", "/reset_password", {"email": OTHER})
    assert known.status == unknown.status == "200 OK"
    assert without_date(known) == without_date(unknown)
    assert known.body == unknown.body.replace(OTHER.encode(), EMAIL.encode())
    assert known.json == {"email": EMAIL, "message": RESET_MAILED}
    assert "reset_token" not in known.text
    assert not UUID4.search(known.text)


def test_reset_token_is_mailed_to_the_user_and_works(prod):
    app, mailbox = prod
    register(app)
    res = send(app, "POST", "/reset_password", {"email": " Bob@Example.com "})
    assert res.status_int == 200
    assert not UUID4.search(res.text)
    mailbox.wait_for(1)
    ((mail_from, rcpt_tos, message),) = mailbox.envelopes
    assert mail_from == MAIL_FROM
    assert rcpt_tos == [EMAIL]
    assert message["From"] == MAIL_FROM
    assert message["To"] == EMAIL
    assert message["Subject"]
    token = token_in(message)

    form = {"email": EMAIL, "reset_token": token, "new_password": NEW_PASSWORD}
    res = send(app, "PUT", "/reset_password", form)
    assert res.status_int == 200, res.body
    assert res.json == {"email": EMAIL, "message": "Password updated"}
    assert login_status(app, NEW_PASSWORD) == 200
    assert login_status(app, PASSWORD) == 401
    # Single use, by mail as well.
    form["new_password"] = "a third password"
    assert send(app, "PUT", "/reset_password", form).status_int == 403


def test_an_unknown_email_gets_a_mail_without_a_token(prod):
    # The same SMTP work as for an account: the delivery of later mails
    # cannot tell whether the email has an account (SECURITY.md, "no email oracle").
    app, mailbox = prod
    register(app)
    assert send(app, "POST", "/reset_password", {"email": OTHER}).status_int == 200
    deliver(app)
    ((_, rcpt_tos, message),) = mailbox.envelopes
    assert rcpt_tos == [OTHER]
    assert "no account" in message.get_content()
    assert not UUID4.search(message.get_content())


def test_a_reset_mail_goes_to_one_mailbox_only(prod):
    """An email with a comma in it is one account, and its mail one recipient.

    The seed's loose rule (local@domain, no white space) would let this
    register; read as a list of addresses, it would send the token to every
    one of them, and make the service a mail cannon for anyone's list.
    """
    app, mailbox = prod
    address = "victim@example.com,attacker@evil.example"
    res = send(app, "POST", "/users", {"email": address, "password": PASSWORD})
    # Not a plain address: refused everywhere (SECURITY.md, "plain addresses only").
    assert res.status_int == 400, res.body
    assert send(app, "POST", "/reset_password", {"email": address}).status_int == 400
    deliver(app)
    for _, rcpt_tos, _ in mailbox.envelopes:
        assert len(rcpt_tos) == 1, rcpt_tos
        assert "attacker@evil.example" not in rcpt_tos


def test_each_request_mails_a_new_token_and_only_the_last_works(prod):
    app, mailbox = prod
    register(app)
    for _ in range(2):
        assert send(app, "POST", "/reset_password", {"email": EMAIL}).status_int == 200
    deliver(app)
    first, second = (token_in(message) for _, _, message in mailbox.envelopes)
    assert first != second
    form = {"email": EMAIL, "reset_token": first, "new_password": NEW_PASSWORD}
    assert send(app, "PUT", "/reset_password", form).status_int == 403
    form["reset_token"] = second
    assert send(app, "PUT", "/reset_password", form).status_int == 200


def test_the_answer_does_not_wait_for_the_smtp_server(make_app):
    app, mailbox = make_app(delay=SLOW_SMTP_SECONDS)
    register(app)
    started = time.monotonic()
    res = send(app, "POST", "/reset_password", {"email": EMAIL})
    elapsed = time.monotonic() - started
    assert res.status_int == 200
    assert elapsed < SLOW_SMTP_SECONDS / 2, elapsed
    # The control: the slow server was really in the way, and the mail did go.
    assert mailbox.envelopes == []
    deliver(app)
    assert len(mailbox.envelopes) == 1
    assert time.monotonic() - started >= SLOW_SMTP_SECONDS * 0.9


def test_a_dead_smtp_server_costs_the_user_nothing_visible(db):
    # Nothing listens on this port: the mail fails on the mail thread, is
    # logged there, and the answer is the same 200.
    settings = config.load(production_env(free_port()), production=True)
    app = production_app(Auth(db, settings=settings))
    register(app)
    res = send(app, "POST", "/reset_password", {"email": EMAIL})
    assert res.status_int == 200
    assert res.json == {"email": EMAIL, "message": RESET_MAILED}
    deliver(app)
    assert send(app, "GET", "/").status_int == 200


def test_reset_requests_are_throttled_alike_for_every_email(db, smtp):
    _, port = smtp()
    env = {**production_env(port), "WSGIAUTH_RESET_REQUEST_LIMIT": "1"}
    clock = [1_700_000_000.0]
    auth = Auth(db, settings=config.load(env, production=True), clock=lambda: clock[0])
    app = production_app(auth)
    register(app)
    for address in (EMAIL, OTHER):
        assert send(app, "POST", "/reset_password", {"email": address}).status_int == 200
    known = send(app, "POST", "/reset_password", {"email": EMAIL})
    unknown = send(app, "POST", "/reset_password", {"email": OTHER})
    assert known.status_int == unknown.status_int == 429
    assert int(known.headers["Retry-After"]) >= 1
    assert without_date(known) == without_date(unknown)
    assert known.body == unknown.body
    deliver(app)


# --- the cookie and the password policy ---------------------------------------


def test_the_session_cookie_is_secure(prod):
    app, _ = prod
    register(app)
    res = send(app, "POST", "/sessions", {"email": EMAIL, "password": PASSWORD})
    assert res.status_int == 200
    session, *devices = res.headers.getall("Set-Cookie")
    session_id = session.split(";")[0].removeprefix("session_id=")
    assert UUID4.fullmatch(session_id)
    assert all(device.endswith("; Secure") for device in devices)
    assert session == (
        f"session_id={session_id}; Max-Age=1209600; Path=/; HttpOnly; SameSite=Lax; Secure"
    )
    res = send(app, "DELETE", "/sessions", cookie=f"session_id={session_id}")
    assert res.status_int == 303
    assert (
        res.headers["Set-Cookie"]
        == "session_id=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax; Secure"
    )


def test_passwords_need_8_characters(prod):
    app, mailbox = prod
    res = send(app, "POST", "/users", {"email": EMAIL, "password": "1234567"})
    assert res.status_int == 400
    assert "password" in res.json["message"]
    assert login_status(app, "1234567") == 401
    register(app, "k8#mQ2vz")  # 8 characters, and not among the common passwords
    assert login_status(app, "k8#mQ2vz") == 200

    # The same rule at reset, and a refused password leaves the token usable.
    assert send(app, "POST", "/reset_password", {"email": EMAIL}).status_int == 200
    mailbox.wait_for(1)
    token = token_in(mailbox.envelopes[0][2])
    form = {"email": EMAIL, "reset_token": token, "new_password": "abcdefg"}
    res = send(app, "PUT", "/reset_password", form)
    assert res.status_int == 400
    assert "password" in res.json["message"]
    form["new_password"] = "abcdefgh"
    assert send(app, "PUT", "/reset_password", form).status_int == 200
    assert login_status(app, "abcdefgh") == 200


# --- the account's changes: each one mailed to the account ---------------------


def log_in(app: webtest.TestApp, email: str = EMAIL, password: str = PASSWORD) -> str:
    """Log in and return the Cookie header of the new session."""
    res = send(app, "POST", "/sessions", {"email": email, "password": password})
    assert res.status_int == 200, res.body
    return "session_id=" + res.headers.getall("Set-Cookie")[0].split(";")[0].removeprefix(
        "session_id="
    )


def test_a_new_password_is_mailed_to_the_account(prod):
    app, mailbox = prod
    register(app)
    cookie = log_in(app)
    form = {"password": PASSWORD, "new_password": NEW_PASSWORD}
    assert send(app, "PUT", "/profile/password", form, cookie).status_int == 200
    form = {"password": "wrong password", "new_password": "a third one"}
    assert send(app, "PUT", "/profile/password", form, cookie).status_int == 403  # ended
    deliver(app)
    ((_, rcpt_tos, message),) = mailbox.envelopes  # the refused change mailed nothing
    assert (rcpt_tos, message["Subject"]) == ([EMAIL], "Your password was changed")
    assert NEW_PASSWORD not in message.get_content()


def test_a_new_email_mails_the_token_there_and_a_notice_to_the_old_one(prod):
    app, mailbox = prod
    register(app)
    cookie = log_in(app)
    new = "robert@example.com"
    res = send(app, "POST", "/profile/email", {"email": new, "password": PASSWORD}, cookie)
    assert res.status_int == 200
    assert res.json == {"email": new, "message": NEW_EMAIL_MAILED}
    assert not UUID4.search(res.text)
    mailbox.wait_for(2)
    mails = {rcpt: message for _, (rcpt,), message in mailbox.envelopes}
    assert set(mails) == {new, EMAIL}
    assert mails[new]["Subject"] == "Confirm your new email"
    assert mails[EMAIL]["Subject"] == "Your email is about to change"
    assert new in mails[EMAIL].get_content()
    assert not UUID4.search(mails[EMAIL].get_content())  # the old address gets no token
    # The token from the mail, with the session that asked for it.
    res = send(app, "PUT", "/profile/email", {"email_token": token_in(mails[new])}, cookie)
    assert res.json == {"email": new, "message": "email updated"}
    assert login_status(app, PASSWORD, new) == 200
    assert login_status(app, PASSWORD) == 401


def test_a_deleted_account_is_told_and_nothing_else_is_mailed(prod):
    app, mailbox = prod
    register(app)
    cookie = log_in(app)
    assert send(app, "DELETE", "/profile", {"password": "wrong password"}, cookie).status_int == 401
    assert send(app, "DELETE", "/profile", {"password": PASSWORD}, cookie).status_int == 200
    deliver(app)
    ((_, rcpt_tos, message),) = mailbox.envelopes
    assert (rcpt_tos, message["Subject"]) == ([EMAIL], "Your account was deleted")


def test_two_factor_login_turned_on_and_off_is_mailed_to_the_account(prod):
    app, mailbox = prod
    register(app)
    cookie = log_in(app)
    res = send(app, "POST", "/profile/totp", {"password": PASSWORD}, cookie)
    secret = res.json["secret"]
    assert send(app, "PUT", "/profile/totp", {"code": "000000"}, cookie).status_int == 400
    code = totp.totp(totp.from_base32(secret), time.time())
    res = send(app, "PUT", "/profile/totp", {"code": code}, cookie)
    codes = res.json["recovery_codes"]
    form = {"password": PASSWORD, "code": codes[0]}
    assert send(app, "DELETE", "/profile/totp", form, cookie).status_int == 200
    deliver(app)
    # The refused code mailed nothing; the mails hold no secret and no code.
    assert [(rcpt, message["Subject"]) for _, rcpt, message in mailbox.envelopes] == [
        ([EMAIL], "Two-factor login turned on"),
        ([EMAIL], "Two-factor login turned off"),
    ]
    for _, _, message in mailbox.envelopes:
        text = message.get_content()
        assert f"{PUBLIC_URL}/reset_password" in text
        assert secret not in text and not any(c in text for c in codes)


# --- serve.py --production, end to end ----------------------------------------


def test_serve_refuses_production_without_smtp(db_url, monkeypatch):
    for name in ("WSGIAUTH_SMTP_HOST", "WSGIAUTH_SMTP_PORT", "WSGIAUTH_MAIL_FROM"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(RuntimeError, match="did not start") as refused:
        Server(db_url, "--production")
    assert "WSGIAUTH_SMTP_HOST" in str(refused.value)


def test_serve_production_mails_a_working_token(db_url, smtp, monkeypatch):
    mailbox, port = smtp()
    for name, value in production_env(port).items():
        monkeypatch.setenv(name, value)
    server = Server(db_url, "--production")
    try:
        url = server.url
        res = requests.post(
            f"{url}/users", data={"email": EMAIL, "password": PASSWORD}, timeout=TIMEOUT
        )
        assert res.status_code == 200, res.text
        res = requests.post(f"{url}/reset_password", data={"email": EMAIL}, timeout=TIMEOUT)
        assert res.status_code == 200, res.text
        assert res.json() == {"email": EMAIL, "message": RESET_MAILED}
        assert res.headers["Cache-Control"] == "no-store"

        mailbox.wait_for(1)
        ((mail_from, rcpt_tos, message),) = mailbox.envelopes
        assert (mail_from, rcpt_tos, message["To"]) == (MAIL_FROM, [EMAIL], EMAIL)
        token = token_in(message)

        form = {"email": EMAIL, "reset_token": token, "new_password": NEW_PASSWORD}
        res = requests.put(f"{url}/reset_password", data=form, timeout=TIMEOUT)
        assert res.status_code == 200, res.text
        res = requests.post(
            f"{url}/sessions", data={"email": EMAIL, "password": NEW_PASSWORD}, timeout=TIMEOUT
        )
        assert res.status_code == 200, res.text
        assert res.raw.headers.getlist("Set-Cookie")[0].endswith("; Secure")
        res = requests.post(
            f"{url}/sessions", data={"email": EMAIL, "password": PASSWORD}, timeout=TIMEOUT
        )
        assert res.status_code == 401
    finally:
        log = server.stop()
    assert "production mode" in log
    assert token not in log


# --- under attack (SECURITY.md) -------------------------------------------------------------


def test_later_mails_do_not_tell_whether_an_email_has_an_account(make_app):
    """The delivery of the attacker's own mail is the same either way (SECURITY.md).

    The attacker asks a reset for a target, then one for their own address,
    and times their own mail. With a relay that takes 150 ms a message, it
    came 315 ms later when the target had an account and 159 ms when not.
    Each case is tried three times, alternately; medians are compared.
    """
    delay = 0.15
    app, mailbox = make_app(delay=delay)
    late: dict[bool, list[float]] = {True: [], False: []}
    answered: dict[bool, list[float]] = {True: [], False: []}
    bodies: dict[bool, set[bytes]] = {True: set(), False: set()}
    for round_ in range(6):
        has_account = round_ % 2 == 0
        target = f"target{round_}@example.com"  # as long as the other targets
        own = f"attacker{round_}@evil.example"
        register(app, email=own)  # the attacker's own account, which does get a token
        if has_account:
            register(app, email=target)
        started = time.monotonic()
        res = send(app, "POST", "/reset_password", {"email": target})
        answered[has_account].append(time.monotonic() - started)
        assert res.status_int == 200
        bodies[has_account].add(res.body.replace(target.encode(), b"TARGET"))
        asked = time.monotonic()
        assert send(app, "POST", "/reset_password", {"email": own}).status_int == 200
        late[has_account].append(arrival(mailbox, own) - asked)
    assert bodies[True] == bodies[False]
    assert len(bodies[True]) == 1
    with_account, without = statistics.median(late[True]), statistics.median(late[False])
    # What is left is the token's write to the database, a few milliseconds.
    assert abs(with_account - without) < delay / 2, (late, answered)
    # The control: the target's mail went first, and the relay really was slow.
    assert without > 1.5 * delay, late
    # The answer is not slower for an account either.
    assert statistics.median(answered[True]) < statistics.median(answered[False]) + delay / 2
    assert [rcpt for _, (rcpt,), _ in mailbox.envelopes[::2]] == [
        f"target{round_}@example.com" for round_ in range(6)
    ]


def arrival(mailbox: Mailbox, address: str, timeout: float = 5.0) -> float:
    """Wait for the mail to ``address``; return when it arrived (``time.monotonic()``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for (_, rcpt_tos, _), arrived in zip(mailbox.envelopes, mailbox.arrived, strict=False):
            if rcpt_tos == [address]:
                return arrived
        time.sleep(0.005)
    raise AssertionError(f"no mail came for {address}")


def test_sigterm_with_a_hanging_relay_exits_soon_and_says_what_it_dropped(
    db_url, silent_relay, monkeypatch
):
    # The relay accepts and never answers; before the outbox had a deadline at
    # SIGTERM, stopping took 91 s (SECURITY.md, "a slow or hanging mail relay").
    for name, value in production_env(silent_relay.port).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("WSGIAUTH_RESET_REQUEST_LIMIT", "100")
    with Server(db_url, "--production") as server:
        form = {"email": EMAIL, "password": PASSWORD}
        assert requests.post(f"{server.url}/users", data=form, timeout=TIMEOUT).ok
        for number in range(10):
            address = EMAIL if number % 2 else f"other{number}@example.com"
            res = requests.post(
                f"{server.url}/reset_password", data={"email": address}, timeout=TIMEOUT
            )
            assert res.status_code == 200
        started = time.monotonic()
        log = server.stop()  # SIGTERM; checks exit code 0
        elapsed = time.monotonic() - started
    assert elapsed < 4, (elapsed, log)
    assert re.search(r"stopping: 10 (queued )?mails", log), log
    assert not UUID4.search(log), log
    assert "Traceback" not in log.split("stopping:")[-1]


def test_one_mailbox_gets_at_most_the_limit_of_reset_mails(prod):
    # Every spelling that a relay delivers to victim@corp.test is refused or
    # counted under that one mailbox, subaddresses (RFC 5233) too, so that no
    # one can mail-bomb it (SECURITY.md, "mail bombing").
    app, mailbox = prod
    register(app, email="victim@corp.test")
    spellings = [
        "victim@corp.test",
        " Victim@CORP.test",
        "victim+1@corp.test",
        "victim+2@corp.test",
        "victim@corp.test(1)",
        '"victim"@corp.test',
        "x<victim@corp.test>",
        "g:victim@corp.test;",
        "(c)victim@corp.test",
    ]
    answers = [
        send(app, "POST", "/reset_password", {"email": spelling}).status_int
        for _ in range(5)
        for spelling in spellings
    ]
    deliver(app)
    mailed = [rcpt for _, rcpts, _ in mailbox.envelopes for rcpt in rcpts]
    reaching_victim = [
        rcpt for rcpt in mailed if re.fullmatch(r"victim(\+[^@]*)?@corp\.test", rcpt.lower())
    ]
    assert len(mailed) == len(reaching_victim) <= app.outbox.settings.reset_request_limit
    assert set(answers) == {200, 400, 429}


@pytest.mark.parametrize("password", ["password", "12345678", "iloveyou", "Baseball"])
def test_production_refuses_a_common_password(prod, password):
    # NIST SP 800-63B §5.1.1.2: a password from a list of the most common
    # ones is refused, at registration and at reset, saying why.
    app, mailbox = prod
    res = send(app, "POST", "/users", {"email": EMAIL, "password": password})
    assert res.status_int == 400
    assert "common" in res.json["message"]
    register(app)
    assert send(app, "POST", "/reset_password", {"email": EMAIL}).status_int == 200
    mailbox.wait_for(1)
    form = {"email": EMAIL, "reset_token": token_in(mailbox.envelopes[0][2])}
    res = send(app, "PUT", "/reset_password", {**form, "new_password": password})
    assert res.status_int == 400
    assert "common" in res.json["message"]
    assert (
        send(app, "PUT", "/reset_password", {**form, "new_password": NEW_PASSWORD}).status_int
        == 200
    )


# --- one mailbox, one counter: spellings a relay delivers to one mailbox -------

# Twelve spellings of victim@example.com that were each a plain address and
# opened a counter of their own: RFC 2047 encoded words, which the mail
# library decodes back to the address it puts in RCPT TO (a language tag
# after "*" makes them endless), and letters of the domain that UTS #46 maps
# to example.com (full-width letters, the ideographic full stop, a ligature).
# With five requests each, 65 mails reached the one mailbox.
SPELLINGS_OF_ONE_MAILBOX = [
    "victim@example.com",
    "=?utf-8?q?victim?=@example.com",
    "=?utf-8*en?q?victim?=@example.com",
    "=?utf-8*fr?q?victim?=@example.com",
    "=?utf-8*de?q?victim?=@example.com",
    "=?us-ascii?q?victim?=@example.com",
    "=?iso-8859-1?q?victim?=@example.com",
    "=?utf-8?q?v?=ictim@example.com",
    "victim@\uff45xample.com",  # a full-width e
    "victim@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com",  # full-width example
    "victim@example\u3002com",  # the ideographic full stop
    "victim@example\uff0ecom",  # the full-width full stop
]


def test_serve_one_mailbox_gets_the_limit_whatever_the_spelling(db_url, smtp, monkeypatch):
    mailbox, port = smtp()
    for name, value in production_env(port).items():
        monkeypatch.setenv(name, value)
    limit = 5
    with Server(db_url, "--production") as server:
        answers = Counter()
        for _ in range(limit):
            for spelling in SPELLINGS_OF_ONE_MAILBOX:
                res = requests.post(
                    f"{server.url}/reset_password", data={"email": spelling}, timeout=TIMEOUT
                )
                answers[res.status_code] += 1
        log = server.stop()  # the outbox sends what it holds
    assert "mails not sent" not in log, log
    recipients = [rcpt for _, rcpts, _ in mailbox.envelopes for rcpt in rcpts]
    # Every envelope recipient is the mailbox that was counted, and that
    # mailbox got the limit, whatever the spellings.
    assert set(recipients) <= {"victim@example.com"}, Counter(recipients)
    assert len(recipients) == limit, (len(recipients), answers)


# --- production, for people: what it needs, the mail, the Host ------------------


@pytest.mark.parametrize(
    ("unset", "value", "named"),
    [
        pytest.param("WSGIAUTH_PUBLIC_URL", None, "WSGIAUTH_PUBLIC_URL", id="no-public-url"),
        pytest.param("WSGIAUTH_SECRET_KEY", None, "WSGIAUTH_SECRET_KEY", id="no-secret-key"),
        pytest.param("WSGIAUTH_SECRET_KEY", "x" * 31, "WSGIAUTH_SECRET_KEY", id="short-key"),
    ],
)
def test_serve_refuses_production_without_a_public_url_or_a_secret_key(
    db_url, monkeypatch, unset, value, named
):
    for name, setting in production_env(free_port()).items():
        monkeypatch.setenv(name, setting)
    if value is None:
        monkeypatch.delenv(unset)
    else:
        monkeypatch.setenv(unset, value)
    with pytest.raises(RuntimeError, match="did not start") as refused:
        Server(db_url, "--production").stop()  # stopped, should it start
    message = str(refused.value)
    assert named in message
    assert "Traceback" not in message
    if value is not None:
        assert value not in message  # a key, even a bad one, is never written out


def test_serve_production_a_person_resets_through_the_pages(db_url, smtp, monkeypatch):
    mailbox, port = smtp()
    for name, value in production_env(port).items():
        monkeypatch.setenv(name, value)
    browser = {"Accept": CHROME, "Sec-Fetch-Site": "same-origin"}
    with Server(db_url, "--production") as server:
        url = server.url
        form = {"email": EMAIL, "password": PASSWORD}
        assert requests.post(f"{url}/users", data=form, timeout=TIMEOUT).status_code == 200
        asked = requests.post(
            f"{url}/reset_password", data={"email": EMAIL}, headers=browser, timeout=TIMEOUT
        )
        assert asked.status_code == 200
        assert "Check your mail" in asked.text
        # A token pasted on that page sets the password too (a mangled link).
        assert 'name="reset_token"' in asked.text
        mailbox.wait_for(1)
        ((_, _, message),) = mailbox.envelopes
        text = message.get_content()
        token = token_in(message)
        link = f"{PUBLIC_URL}/reset_password?reset_token={token}"
        # A mail to a person: the link first, then what to do if you did
        # not ask; the token for API clients last.
        assert message["Subject"] == "Reset your password"
        lines = [line for line in text.splitlines() if line.strip()]
        assert next(line for line in lines if token in line) == link, text
        assert text.index(link) < text.index("did not ask") < text.rindex(token), text
        assert "PUT /reset_password" in lines[-1] or "PUT /reset_password" in lines[-2], text

        # The link, on this server: the token goes into a Secure cookie.
        opened = requests.get(
            link.replace(PUBLIC_URL, url), headers=browser, allow_redirects=False, timeout=TIMEOUT
        )
        assert opened.status_code == 303, opened.text
        assert opened.headers["Set-Cookie"].endswith("; HttpOnly; SameSite=Lax; Secure")
        cookies = {"reset_token": token}
        shown = requests.get(
            f"{url}/reset_password", headers=browser, cookies=cookies, timeout=TIMEOUT
        )
        assert "Choose a new password" in shown.text and EMAIL in shown.text
        done = requests.post(
            f"{url}/reset_password",
            data={"_method": "PUT", "email": EMAIL, "new_password": NEW_PASSWORD},
            headers=browser,
            cookies=cookies,
            allow_redirects=False,
            timeout=TIMEOUT,
        )
        assert done.status_code == 303, done.text
        form = {"email": EMAIL, "password": NEW_PASSWORD}
        assert requests.post(f"{url}/sessions", data=form, timeout=TIMEOUT).status_code == 200
        log = server.stop()
    assert token not in log


def status_with_host(url: str, host: str | None, path: str = "/") -> int:
    """Send ``GET path`` to ``url`` with this ``Host`` (``None``: HTTP/1.0, no Host)."""
    address, port = url.removeprefix("http://").split(":")
    with socket.create_connection((address, int(port)), timeout=TIMEOUT) as connection:
        if host is None:
            connection.sendall(f"GET {path} HTTP/1.0\r\n\r\n".encode())
        else:
            request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
            connection.sendall(request.encode())
        status_line = connection.makefile("rb").readline().decode()
    return int(status_line.split()[1])


def test_serve_production_answers_only_to_its_own_host_names(db_url, smtp, monkeypatch):
    """DNS rebinding: a page of evil.example whose name now points at us gets 400."""
    _, port = smtp()
    for name, value in production_env(port).items():
        monkeypatch.setenv(name, value)
    with Server(db_url, "--production") as server:
        url, own_port = server.url, server.url.rsplit(":", 1)[1]
        answers = {
            host: status_with_host(url, host)
            for host in (
                "evil.example",
                f"evil.example:{own_port}",
                "auth.example.com.evil.example",
                "auth.example.com",  # the public URL's host
                "AUTH.Example.com:8443",  # any port, any case
                f"127.0.0.1:{own_port}",  # WSGIAUTH_ALLOWED_HOSTS
            )
        }
        # No Host at all (HTTP/1.0): no browser sends that; a health checker may.
        answers["(none)"] = status_with_host(url, None)
        # A load balancer's health check, by the backend's address.
        answers["10.0.0.5:5000 /health"] = status_with_host(url, "10.0.0.5:5000", "/health")
        log = server.stop()
    assert answers == {
        "evil.example": 400,
        f"evil.example:{own_port}": 400,
        "auth.example.com.evil.example": 400,
        "auth.example.com": 200,
        "AUTH.Example.com:8443": 200,
        f"127.0.0.1:{own_port}": 200,
        "(none)": 200,
        "10.0.0.5:5000 /health": 200,
    }
    assert "Traceback" not in log


def test_registering_and_deleting_accounts_does_not_mail_one_mailbox_without_end(
    db_url, smtp, monkeypatch
):
    # Registration is not verified, so anyone can open an account on a
    # victim's address (or a +tag of it), ask resets, delete the account and
    # start again. Each account's deletion is mailed to it as well. Neither may
    # take one mailbox past the limits: the count of mails to a mailbox
    # outlives the accounts on it (SECURITY.md, "mail bombing").
    mailbox, port = smtp()
    for name, value in production_env(port).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("WSGIAUTH_RESET_REQUEST_LIMIT", "2")
    with Server(db_url, "--production") as server:
        for cycle in range(3):
            victim = {"email": f"victim+{cycle}@corp.test", "password": PASSWORD}
            assert requests.post(f"{server.url}/users", data=victim, timeout=TIMEOUT).ok
            for _ in range(3):
                requests.post(f"{server.url}/reset_password", data=victim, timeout=TIMEOUT)
            login = requests.post(f"{server.url}/sessions", data=victim, timeout=TIMEOUT)
            # The cookie is Secure: requests would keep it from plain HTTP.
            cookies = {"session_id": login.cookies["session_id"]}
            deleted = requests.delete(
                f"{server.url}/profile", data=victim, cookies=cookies, timeout=TIMEOUT
            )
            assert deleted.status_code == 200, deleted.text
        log = server.stop()
    assert "Traceback" not in log
    subjects = [message["Subject"] for _, _, message in mailbox.envelopes]
    # At most the limit of reset mails, and the limit of notices, per window.
    assert subjects.count("Your password reset token") <= 2, subjects
    assert subjects.count("Your account was deleted") <= 2, subjects


# --- secrets at rest: no TOTP secret or recovery code in clear ---------------------


def every_value(db_url: str) -> list[object]:
    """Every value of every row of every table, as the database holds it."""
    engine = sqlalchemy.create_engine(db_url)
    try:
        with engine.connect() as connection:
            return [
                value
                for table in Base.metadata.sorted_tables
                for row in connection.execute(sqlalchemy.select(table))
                for value in row
            ]
    finally:
        engine.dispose()


def test_serve_production_keeps_no_totp_secret_or_recovery_code_in_clear(db_url, smtp, monkeypatch):
    _, port = smtp()
    for name, value in production_env(port).items():
        monkeypatch.setenv(name, value)
    browser = {"Accept": CHROME, "Sec-Fetch-Site": "same-origin"}
    with Server(db_url, "--production") as server:
        url = server.url
        form = {"email": EMAIL, "password": PASSWORD}
        assert requests.post(f"{url}/users", data=form, timeout=TIMEOUT).status_code == 200
        # The session cookie is Secure: requests keeps it for HTTPS only.
        login = requests.post(f"{url}/sessions", data=form, timeout=TIMEOUT)
        bob = {"session_id": login.cookies["session_id"]}
        secret = requests.post(
            f"{url}/profile/totp", data={"password": PASSWORD}, cookies=bob, timeout=TIMEOUT
        ).json()["secret"]
        code = totp.totp(totp.from_base32(secret), time.time())
        codes = requests.put(
            f"{url}/profile/totp", data={"code": code}, cookies=bob, timeout=TIMEOUT
        )
        codes = codes.json()["recovery_codes"]
        # A login by its two pages leaves a held login on the way, and uses a code.
        held = requests.post(f"{url}/sessions", data=form, headers=browser, timeout=TIMEOUT)
        assert held.status_code == 401
        token = held.cookies["pending_login"]
        again = requests.post(
            f"{url}/sessions", data=form, headers=browser, timeout=TIMEOUT
        ).cookies["pending_login"]  # a second held login: the first one's row stays
        assert token != again
        server.stop()
    raw = totp.from_base32(secret)
    looked_for = {secret, secret.lower(), raw.hex(), token, again, *codes}
    looked_for |= {recovery.normalize(c) for c in codes}
    values = every_value(db_url)
    assert len(values) > 20  # the rows are there: a user, a secret, ten digests, a held login
    for value in values:
        text = value if isinstance(value, str) else str(value)
        assert not any(secret in text for secret in looked_for), value
        assert not (isinstance(value, bytes) and raw in value), value
    # The SQLite files themselves, every byte, the write-ahead log included.
    if db_url.startswith("sqlite:///"):
        path = Path(db_url.removeprefix("sqlite:///"))
        files = [p for p in path.parent.iterdir() if p.name.startswith(path.name)]
        assert path in files
        for file in files:
            content = file.read_bytes()
            assert raw not in content, file
            for text in looked_for:
                assert text.encode() not in content, (file, text)
        # No key file either: production takes WSGIAUTH_SECRET_KEY, and makes none.
        assert not any(p.name.endswith(".secret-key") for p in files)
