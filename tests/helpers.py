"""Helpers the test files share: plain functions and constants (the fixtures are in conftest.py).

What a test calls by hand is here, so that each test file imports it instead
of copying it:

- the JSON API through WebTest: ``send`` sends exactly the body, cookie and
  headers given (it empties WebTest's cookie jar first, so a test sees
  exactly the ``Cookie`` header it wrote); ``register``, ``login``,
  ``reset_token`` and the others check the answer they get;
- the pages: ``browse`` sends a request as Chromium does, ``Page`` reads a
  page's forms, labels and text with ``html.parser``, ``submit`` posts a
  form as a browser does;
- ``Auth`` on a clock the test moves by hand (``FakeClock``, ``timed_auth``),
  and a look at what the database holds;
- production mode: an SMTP server to mail to (``Mailbox``), a relay that
  never answers (``SilentRelay``), the production app and its outbox.
"""

import asyncio
import contextlib
import dataclasses
import email
import email.policy
import hashlib
import io
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode

import bcrypt
import pytest
import sqlalchemy
import webtest
from sqlalchemy import text

from wsgiauth import config
from wsgiauth.app import create_app
from wsgiauth.auth import Auth, WrongPassword
from wsgiauth.db import DB
from wsgiauth.mail import Outbox
from wsgiauth.middleware import PAGE_HEADERS
from wsgiauth.slots import DEFAULT_WAITING
from wsgiauth.tokens import Tokens

# --- the JSON API, through WebTest --------------------------------------------

FORM = "application/x-www-form-urlencoded"
BOUNDARY = "------------------------d74496d66958873e"  # as curl -F makes them
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
LIMIT = 64 * 1024
EMAIL = "bob@example.com"
PASSWORD = "MyPwdOfBob"
NEW_PASSWORD = "t4rt1fl3tt3"
OTHER = "eve@example.com"  # never registered; as long as EMAIL, so the answers can match
UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")

# bcrypt's limit is 72 bytes of UTF-8; "é" is two bytes.
PASSWORD_72_BYTES = "é" * 36
PASSWORD_73_BYTES = "a" + "é" * 36
PASSWORD_74_BYTES = "é" * 37


def send(
    app: webtest.TestApp,
    method: str,
    path: str,
    form: dict[str, str] | list[tuple[str, str]] | None = None,
    *,
    body: bytes | None = None,
    content_type: str | None = None,
    cookie: str | None = None,
    headers: dict[str, str] | None = None,
) -> webtest.TestResponse:
    """Send one request with exactly this body, cookie and headers, whatever the status.

    ``form`` is urlencoded (as ``curl -d`` does); ``body`` is sent as is.
    """
    app.reset()  # no cookie from an earlier response rides along
    params: dict[str, object] = {}
    if form is not None:
        body = urlencode(form).encode("utf-8")
        content_type = content_type or FORM
    if body is not None:
        params["body"] = body
    if content_type is not None:
        params["content_type"] = content_type
    headers = dict(headers or {})
    if cookie is not None:
        headers["Cookie"] = cookie
    return app.request(path, method=method, headers=headers, status="*", **params)


def multipart(*fields: tuple[str, str | bytes], boundary: str = BOUNDARY) -> bytes:
    """Build a ``multipart/form-data`` body the way ``curl -F name=value`` does."""
    body = b""
    for name, value in fields:
        raw = value.encode("utf-8") if isinstance(value, str) else value
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
        body += head.encode("utf-8") + raw + b"\r\n"
    return body + f"--{boundary}--\r\n".encode()


def json_body(res: webtest.TestResponse) -> dict[str, str]:
    """Return the JSON body, after checking the Content-Type and Content-Length."""
    assert res.content_type == "application/json", res.headers
    assert res.headers["Content-Length"] == str(len(res.body))
    payload = json.loads(res.body)
    assert isinstance(payload, dict)
    return payload


def assert_error(res: webtest.TestResponse, status: int, *words: str) -> str:
    """Check an error answer: the status, a JSON ``{"message": ...}``, words in it."""
    assert res.status_int == status, res.body
    payload = json_body(res)
    assert list(payload) == ["message"], payload
    message = payload["message"]
    assert isinstance(message, str)
    assert message.strip()
    for word in words:
        assert word in message, message
    return message


def register(app: webtest.TestApp, email: str = EMAIL, password: str = PASSWORD) -> None:
    """Register a user and check the answer."""
    res = send(app, "POST", "/users", {"email": email, "password": password})
    assert res.status_int == 200, res.body
    assert json_body(res) == {"email": email.strip().lower(), "message": "user created"}


def session_cookie(res: webtest.TestResponse) -> tuple[str, str, dict[str, str]]:
    """Return the name, value and attributes (lower-cased names) of the one Set-Cookie.

    The device cookies a login sets beside the session's (``api.device_cookies``)
    are left out: ``device_cookies`` reads them.
    """
    (header,) = [
        cookie for cookie in res.headers.getall("Set-Cookie") if not cookie.startswith("device=")
    ]
    return parse_set_cookie(header)


def device_cookies(res: webtest.TestResponse) -> list[tuple[str, str, dict[str, str]]]:
    """Return the name, value and attributes of each device cookie a login set."""
    headers = res.headers.getall("Set-Cookie")
    return [parse_set_cookie(header) for header in headers if header.startswith("device=")]


def parse_set_cookie(header: str) -> tuple[str, str, dict[str, str]]:
    """Return the name, value and attributes (lower-cased names) of a ``Set-Cookie``."""
    first, *rest = (part.strip() for part in header.split(";"))
    name, _, value = first.partition("=")
    attributes = {}
    for attribute in rest:
        key, _, attr_value = attribute.partition("=")
        attributes[key.lower()] = attr_value
    return name, value, attributes


def login(app: webtest.TestApp, email: str = EMAIL, password: str = PASSWORD) -> str:
    """Log in, check the answer and return the session id."""
    res = send(app, "POST", "/sessions", {"email": email, "password": password})
    assert res.status_int == 200, res.body
    assert json_body(res) == {"email": email.strip().lower(), "message": "logged in"}
    name, value, _ = session_cookie(res)
    assert name == "session_id"
    return value


def login_status(app: webtest.TestApp, email: str = EMAIL, password: str = PASSWORD) -> int:
    """Try to log in and return the status (401 is checked to be a JSON error)."""
    res = send(app, "POST", "/sessions", {"email": email, "password": password})
    if res.status_int == 401:
        assert_error(res, 401)
        assert "Set-Cookie" not in res.headers
    return res.status_int


def profile_status(app: webtest.TestApp, cookie: str | None) -> int:
    """GET /profile with this Cookie header and return the status."""
    res = send(app, "GET", "/profile", cookie=cookie)
    if res.status_int == 200:
        assert set(json_body(res)) == {"email"}
    else:
        assert_error(res, 403)
    return res.status_int


def reset_token(app: webtest.TestApp, email: str = EMAIL) -> str:
    """Ask for a reset token and return it."""
    res = send(app, "POST", "/reset_password", {"email": email})
    assert res.status_int == 200, res.body
    payload = json_body(res)
    assert set(payload) == {"email", "reset_token"}
    assert payload["email"] == email.strip().lower()
    assert UUID4.fullmatch(payload["reset_token"])
    return payload["reset_token"]


def update_password(
    app: webtest.TestApp, token: str, new_password: str = NEW_PASSWORD, email: str = EMAIL
) -> webtest.TestResponse:
    """PUT /reset_password and return the response."""
    form = {"email": email, "reset_token": token, "new_password": new_password}
    return send(app, "PUT", "/reset_password", form)


def without_date(res: webtest.TestResponse) -> list[tuple[str, str]]:
    """Return the response headers, in order, except Date."""
    return [(name, value) for name, value in res.headerlist if name.lower() != "date"]


class TrackingInput:
    """A ``wsgi.input`` that records every read, to prove a body was not read."""

    def __init__(self, data: bytes = b"") -> None:
        self.stream = io.BytesIO(data)
        self.reads: list[str] = []

    def read(self, *args: int) -> bytes:
        self.reads.append("read")
        return self.stream.read(*args)

    def readline(self, *args: int) -> bytes:
        self.reads.append("readline")
        return self.stream.readline(*args)

    def readlines(self, *args: int) -> list[bytes]:
        self.reads.append("readlines")
        return self.stream.readlines(*args)

    def __iter__(self):
        self.reads.append("iter")
        return iter(self.stream)


def send_unread(
    app: webtest.TestApp, method: str, path: str, length: int, data: bytes = b""
) -> tuple[webtest.TestResponse, TrackingInput]:
    """Send a form request claiming ``length`` bytes, through lint, with a tracked body."""
    app.reset()
    tracker = TrackingInput(data)
    req = webtest.TestRequest.blank(path, method=method)
    req.environ.update({"CONTENT_TYPE": FORM, "CONTENT_LENGTH": str(length), "wsgi.input": tracker})
    # Otherwise WebOb seeks the (replaced) body before calling the app.
    req.environ.pop("webob.is_body_seekable", None)
    return app.do_request(req, status="*"), tracker


# --- the pages, as a browser reads them ---------------------------------------

CHROME = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
)

# What JSON clients send: curl and requests (*/*), nothing, an explicit API client.
JSON_ACCEPTS = ["*/*", None, "application/json", "application/json, text/html"]


@dataclass
class Form:
    """One ``<form>`` of a page: where it goes and the fields it sends."""

    method: str
    action: str
    fields: dict[str, str] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)
    ids: list[str] = field(default_factory=list)
    # Every attribute of each input, by the input's name.
    inputs: dict[str, dict[str, str]] = field(default_factory=dict)
    button: str = ""


class Page(HTMLParser):
    """A page read as a browser would: its forms, labels, links and text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self.labels: list[str] = []
        self.links: list[str] = []
        self.text = ""
        self.styles: list[str] = []
        self.metas: list[dict[str, str]] = []
        self._in_style = False
        self._in_button = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append(Form(values.get("method", ""), values.get("action", "")))
        elif tag == "input":
            form = self.forms[-1]
            form.fields[values["name"]] = values.get("value", "")
            form.types[values["name"]] = values.get("type", "text")
            form.inputs[values["name"]] = values
            if "id" in values:
                form.ids.append(values["id"])
        elif tag == "button":
            self._in_button = True
        elif tag == "label":
            self.labels.append(values["for"])
        elif tag == "a":
            self.links.append(values["href"])
        elif tag == "meta":
            self.metas.append(values)
        elif tag == "style":
            self._in_style = True

    def handle_endtag(self, tag: str) -> None:
        self._in_style = self._in_style and tag != "style"
        self._in_button = self._in_button and tag != "button"

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)
        else:
            self.text += data
        if self._in_button:
            self.forms[-1].button += data

    def form(self, action: str, method: str = "post", _method: str = "") -> Form:
        """Return the one form that posts to ``action`` (with this ``_method``)."""
        found = [
            form
            for form in self.forms
            if (form.method, form.action) == (method, action)
            and form.fields.get("_method", "") == _method
        ]
        assert len(found) == 1, self.forms
        return found[0]


def browse(
    app: webtest.TestApp,
    method: str,
    path: str,
    form: dict[str, str] | None = None,
    cookie: str = "",
    headers: dict[str, str] | None = None,
) -> webtest.TestResponse:
    """Send a request as Chromium does (its Accept, same-origin), whatever the status."""
    app.reset()
    sent = {"Accept": CHROME, "Sec-Fetch-Site": "same-origin", **(headers or {})}
    if cookie:
        sent["Cookie"] = cookie
    params: dict[str, object] = {}
    if form is not None:
        params = {"body": urlencode(form).encode("utf-8"), "content_type": FORM}
    return app.request(path, method=method, headers=sent, status="*", **params)


def submit(
    app: webtest.TestApp, form: Form, typed: dict[str, str], cookie: str = ""
) -> webtest.TestResponse:
    """Submit a form as a browser does: its own fields, with what was typed in."""
    return browse(app, form.method.upper(), form.action, {**form.fields, **typed}, cookie)


def page_of(res: webtest.TestResponse, status: int) -> Page:
    """Check that ``res`` is a page with ``status`` and every page header; return it."""
    assert res.status_int == status, res.text
    assert res.headers["Content-Type"] == "text/html; charset=utf-8"
    assert res.headers["Content-Length"] == str(len(res.body))
    for name, value in PAGE_HEADERS:
        assert res.headers.getall(name) == [value]
    assert res.headers.getall("Vary") == ["Accept"]
    assert res.headers["Cache-Control"] == "no-store"
    return Page(res.text)


def session_of(res: webtest.TestResponse) -> str:
    """Return the session id a response sets."""
    found = re.match(r"session_id=([^;]*);", res.headers.getall("Set-Cookie")[0])
    assert found, res.headers
    return found[1]


def log_in(app: webtest.TestApp, email: str = EMAIL, password: str = PASSWORD) -> str:
    """Log in through the login form; return the session cookie it sets."""
    res = submit(
        app,
        Page(browse(app, "GET", "/").text).form("/sessions"),
        {
            "email": email,
            "password": password,
        },
    )
    assert res.status_int == 303, res.text
    return f"session_id={session_of(res)}"


# --- Auth on a clock of the test's own, and what the database holds -----------

START = 1_700_000_000.0  # the fake clock's first reading, in Unix seconds
DAY = 24 * 3600


class FakeClock:
    """A clock that stands still until the test moves it."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def timed_auth(db: DB, clock: FakeClock, **settings: Any) -> Auth:
    """An Auth on ``db`` and ``clock`` with the default settings but ``settings``."""
    return Auth(db, settings=dataclasses.replace(config.load(), **settings), clock=clock)


@contextlib.contextmanager
def reset_during_bcrypt(auth: Auth, email: str, new_password: str) -> Iterator[None]:
    """During the block, every bcrypt check first resets ``email``'s password to ``new_password``.

    A reset that lands while a request's bcrypt check runs, after the request
    has read the old hash: the race each compare-and-set on the hash is for.
    The reset token is asked for on entering the block (a login would end it).
    """
    token = auth.get_reset_password_token(email)
    real = bcrypt.checkpw

    def reset_meanwhile(password: bytes, hashed: bytes) -> bool:
        auth.update_password(token, new_password, email=email)
        return bool(real(password, hashed))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bcrypt, "checkpw", reset_meanwhile)
        yield


def sha256(token: str) -> str:
    """What the database may hold in place of a session id or reset token."""
    return hashlib.sha256(token.encode()).hexdigest()


def stored_hash(db: DB, email: str) -> str:
    """The user's password hash as stored."""
    return db.find_user_by(email=email).hashed_password


def new_session(auth: Auth, email: str, password: str = "pw") -> str:
    """Log in, checking that it worked; return the session id."""
    return auth.log_in(email, password).session_id


def wrong(auth: Auth, email: str, password: str) -> bool:
    """Try a login that must be refused as a wrong password; True once it was."""
    with pytest.raises(WrongPassword):
        auth.log_in(email, password)
    return True


def emails(connection: sqlalchemy.Connection) -> list[str]:
    """The stored emails, in id order."""
    return list(connection.execute(text("SELECT email FROM users ORDER BY id")).scalars())


def rows(connection: sqlalchemy.Connection) -> list[tuple[object, ...]]:
    """Every row of ``users`` as stored, in id order."""
    result = connection.execute(
        text("SELECT id, email, hashed_password, session_id, reset_token FROM users ORDER BY id")
    )
    return [tuple(row) for row in result]


# --- production mode: an SMTP server, a silent relay, the outbox --------------

MAIL_FROM = "no-reply@auth.example.com"
# What production needs beside its relay: where people reach the service,
# and a key of at least 32 characters (SECURITY.md, "Two modes").
PUBLIC_URL = "https://auth.example.com"
SECRET_KEY = "a test key, 32 characters or more, not secret"
# The names the test clients use: WebTest's localhost, a real server's 127.0.0.1.
TEST_HOSTS = "localhost, 127.0.0.1"


class Mailbox:
    """An aiosmtpd handler that keeps every message it is given."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.envelopes: list[tuple[str, list[str], EmailMessage]] = []
        self.arrived: list[float] = []  # time.monotonic() of each message's arrival

    async def handle_DATA(self, server, session, envelope) -> str:
        # A slow relay: the answer to DATA, which smtplib waits for, comes late.
        await asyncio.sleep(self.delay)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        self.arrived.append(time.monotonic())
        return "250 Message accepted for delivery"

    def wait_for(self, count: int, timeout: float = 5.0) -> None:
        """Wait until ``count`` messages have arrived, or fail."""
        deadline = time.monotonic() + timeout
        while len(self.envelopes) < count:
            assert time.monotonic() < deadline, f"{len(self.envelopes)} of {count} messages came"
            time.sleep(0.02)


def free_port() -> int:
    """Return a TCP port of 127.0.0.1 that nothing listens on right now.

    aiosmtpd 1.4's Controller cannot take port 0: it checks that it is up
    by connecting to the port it was given.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def production_env(port: int) -> dict[str, str]:
    """The environment of production mode with the SMTP server on ``port``."""
    return {
        "WSGIAUTH_SMTP_HOST": "127.0.0.1",
        "WSGIAUTH_SMTP_PORT": str(port),
        "WSGIAUTH_MAIL_FROM": MAIL_FROM,
        "WSGIAUTH_PUBLIC_URL": PUBLIC_URL,
        "WSGIAUTH_SECRET_KEY": SECRET_KEY,
        "WSGIAUTH_ALLOWED_HOSTS": TEST_HOSTS,
    }


def production_app(auth: Auth) -> webtest.TestApp:
    """The production app on ``auth``, in WebTest, with its outbox at ``.outbox``."""
    outbox = Outbox(auth.settings)
    app = webtest.TestApp(create_app(auth, outbox), lint=True)
    app.outbox = outbox
    return app


def deliver(app: webtest.TestApp) -> None:
    """Wait until the app has mailed everything it was asked to (it can mail no more)."""
    assert app.outbox.close(timeout=10) == 0


class SilentRelay:
    """A TCP server that accepts connections and never says a word.

    An SMTP client waits for a greeting that never comes: a relay that hangs
    (SECURITY.md, "a slow or hanging mail relay").
    """

    def __init__(self, port: int, accepted: list[socket.socket]) -> None:
        self.port = port
        self.accepted = accepted

    def wait_for_connection(self, timeout: float = 5.0) -> None:
        """Wait until a client is connected (and waiting for its greeting)."""
        deadline = time.monotonic() + timeout
        while not self.accepted:
            assert time.monotonic() < deadline, "nobody connected"
            time.sleep(0.01)


@contextlib.contextmanager
def every_bcrypt_slot_taken(auth: Auth) -> Iterator[None]:
    """Hold every bcrypt slot of ``auth`` and fill its queue, as that many logins would.

    Each slot is held for a client of its own, and each place in the queue
    is taken by another: a request from any other client is then refused at
    once (``slots.FairSlots``).
    """
    slots = auth._passwords._slots
    holders = [f"holder-{n}" for n in range(auth.settings.bcrypt_slots)]
    for holder in holders:
        assert slots.acquire(holder)
    waiters = [f"waiter-{n}" for n in range(DEFAULT_WAITING)]
    threads = [
        threading.Thread(target=slots.acquire, args=(waiter,), kwargs={"timeout": 60})
        for waiter in waiters
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while slots.waiting < len(waiters):
        assert time.monotonic() < deadline, "the waiters never queued"
        time.sleep(0.001)
    try:
        yield
    finally:
        for holder in holders:
            slots.release(holder)  # the first ones go to the waiters
        for thread in threads:
            thread.join(timeout=10)
        for waiter in waiters:
            slots.release(waiter)


def tokens_of(db: DB) -> Tokens:
    """The token queries on ``db``, for a test that stores and reads digests directly."""
    return Tokens(db, time.time)
