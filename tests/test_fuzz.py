"""Fuzzing: the parsers, the router and the whole app against hostile input.

Two kinds of test live here:

- Hypothesis properties for what tests/test_parsers.py does not cover yet:
  ``parse_header_value``, ``is_cross_site``, the real route table and
  ``Request.form()``. Each returns or raises only what its docstring
  promises.
- One seeded, deterministic run of well over 10,000 generated requests
  (methods, paths, headers, cookies, bodies, content types) straight into
  the WSGI callable, which must never answer 5xx, always answer JSON with a
  right Content-Length, and between them show every status the service can
  give. Set ``WSGIAUTH_FUZZ_SEED`` to replay another run.
"""

import dataclasses
import io
import json
import os
import random
import re
import string
import uuid
import warnings
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import quote_plus
from wsgiref.validate import WSGIWarning, validator

from hypothesis import example, given, settings
from hypothesis import strategies as st

from wsgiauth import config
from wsgiauth.api import ROUTES
from wsgiauth.app import create_app
from wsgiauth.auth import Auth, InvalidInput
from wsgiauth.db import DB
from wsgiauth.http import HTTPError, MethodNotAllowed, NotFound
from wsgiauth.middleware import is_cross_site
from wsgiauth.parsers import parse_header_value
from wsgiauth.request import MAX_BODY_BYTES, Request
from wsgiauth.routing import Router

# --- parse_header_value -----------------------------------------------------

# Pieces of real Content-Type and Content-Disposition values, so that random
# text reaches the parameter parser more often than plain noise would.
HEADER_PIECES = st.sampled_from(
    [
        "multipart/form-data",
        "application/x-www-form-urlencoded",
        "form-data",
        ";",
        "; ",
        "=",
        '"',
        "\\",
        " ",
        "\t",
        "boundary",
        "name",
        "filename",
        "charset=utf-8",
        "BOUNDARY=X",
        '"a;b"',
        '"\\"',
        "\u0130",  # İ, which lower-cases to two code points
        "\u03a3",  # Σ, whose lower case depends on its neighbours
    ]
)
HEADER_TEXT = st.one_of(st.text(), st.lists(HEADER_PIECES | st.text(max_size=3)).map("".join))


@given(HEADER_TEXT)
@example("Multipart/Form-Data; BOUNDARY=xyz; boundary=second")
@example('form-data; name="a\\"b"; filename')
@example(";;;===;")
def test_parse_header_value_any_text(value: str) -> None:
    main, params = parse_header_value(value)
    assert isinstance(main, str)
    # The main value is what comes before the first ";", trimmed and lower-cased.
    assert main == value.partition(";")[0].strip().lower()
    assert main == main.lower()
    assert isinstance(params, dict)
    for name, param in params.items():
        assert isinstance(name, str)
        assert isinstance(param, str)
        assert name
        assert name == name.lower()
        assert not any(ch in name for ch in ";=") and not any(ch.isspace() for ch in name)


# --- is_cross_site ------------------------------------------------------------

SEC_FETCH_SITE = st.one_of(
    st.sampled_from(["", "cross-site", " CROSS-SITE ", "same-origin", "same-site", "none"]),
    st.text(),
)
ORIGIN = st.one_of(
    st.sampled_from(["", "null", "http://localhost", "https://localhost:8080", "://", "http://"]),
    st.text(),
    st.text().map(lambda host: "http://" + host),
)
HOST = st.one_of(st.sampled_from(["", "localhost", "localhost:8080", "LOCALHOST"]), st.text())


@given(SEC_FETCH_SITE, ORIGIN, HOST)
@example("", "http://LocalHost:8080", " localhost:8080 ")
@example("", "null", "null")
@example("", "\x1c", "")
def test_is_cross_site_any_text(sec_fetch_site: str, origin: str, host: str) -> None:
    answer = is_cross_site(sec_fetch_site, origin, host)
    assert isinstance(answer, bool)
    if sec_fetch_site.strip().lower() == "cross-site":
        assert answer is True
    elif not origin.strip():
        # curl and requests send neither header: they pass. An Origin of
        # white space alone (hypothesis found "\x1c", which str.strip
        # removes) is read as no Origin too.
        assert answer is False
    elif origin.strip().lower() == "null" and sec_fetch_site.strip().lower() == "same-origin":
        # Our own page's form under Referrer-Policy: no-referrer.
        assert answer is False
    elif "://" not in origin:
        # Origin: null, or anything else with no scheme, is foreign.
        assert answer is True


# --- the router on the app's real table ----------------------------------------

ROUTER = Router(ROUTES)
# Every handler in the table, for "the handler returned is one of ours".
HANDLERS = [handler for route in ROUTES for handler in route.handlers.values()]
METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT"]
KNOWN_PATHS = ["/", "/users", "/sessions", "/profile", "/reset_password"]
PATH_VARIANTS = [
    *KNOWN_PATHS,
    *(path + "/" for path in KNOWN_PATHS),
    *(path + "\n" for path in KNOWN_PATHS),
    "",
    "//",
    "/USERS",
    "/users\x00",
    "/%75sers",
]


@given(
    st.one_of(st.sampled_from(METHODS), st.sampled_from(METHODS).map(str.lower), st.text()),
    st.one_of(st.sampled_from(PATH_VARIANTS), st.text()),
)
@settings(max_examples=300)
def test_router_any_method_and_path(method: str, path: str) -> None:
    allowed = ROUTER.allowed_methods(path)
    assert len(allowed) == len(set(allowed))
    try:
        handler = ROUTER.match(method, path)
    except (NotFound, MethodNotAllowed) as error:
        if type(error) is NotFound:
            assert allowed == []
            assert error.code == 404
            return
        assert type(error) is MethodNotAllowed
        assert error.code == 405
        assert error.allowed == allowed != []
        assert allowed[-1] == "OPTIONS"
        # The method asked for is not served. OPTIONS is listed all the same:
        # it has no handler, the app answers it from allowed_methods.
        assert method not in allowed or method == "OPTIONS"
        # HEAD is served wherever GET is, so both are listed or neither.
        assert ("GET" in allowed) == ("HEAD" in allowed)
        assert error.headers() == [("Allow", ", ".join(allowed))]
        return
    assert any(handler is known for known in HANDLERS)
    assert method in allowed
    assert method != "OPTIONS"
    served = [
        route.handlers.get(method) or (route.handlers.get("GET") if method == "HEAD" else None)
        for route in ROUTES
        if route.pattern.fullmatch(path)
    ]
    # The first route that serves the method wins.
    assert handler is next(h for h in served if h is not None)


# --- Request.form -----------------------------------------------------------------

# Text that fits in a PEP 3333 environ: one latin-1 character per byte.
LATIN1 = st.text(st.characters(max_codepoint=0xFF))
FORM_TYPES = ["application/x-www-form-urlencoded", "multipart/form-data"]
CONTENT_TYPES = st.one_of(
    st.none(),
    st.sampled_from(
        [
            *FORM_TYPES,
            "Application/X-WWW-Form-Urlencoded; charset=UTF-8",
            "multipart/form-data; boundary=b",
            'multipart/form-data; boundary="b"',
            "multipart/form-data; boundary=",
            "multipart/form-data; boundary=" + "b" * 71,
            "application/json",
            "text/plain",
            "",
            ";",
        ]
    ),
    LATIN1,
    LATIN1.map(lambda boundary: "multipart/form-data; boundary=" + boundary),
)
MULTIPART_PIECES = st.sampled_from(
    [
        b"--b",
        b"--b--",
        b"\r\n",
        b"\r\n\r\n",
        b"Content-Disposition: form-data",
        b'; name="email"',
        b'; name="a"',
        b'; filename="f"',
        b"value",
        b"=",
        b"&",
        b"%",
        b"%ff",
        b"+",
        b"\xff",
        b"\xc3",
    ]
)
BODIES = st.one_of(st.binary(), st.lists(MULTIPART_PIECES).map(b"".join))


@st.composite
def form_requests(draw: st.DrawFn) -> tuple[bytes, str | None, str | None]:
    """Return a body, a Content-Type (or None) and a Content-Length (or None)."""
    body = draw(BODIES)
    content_type = draw(CONTENT_TYPES)
    content_length = draw(
        st.one_of(
            st.just(str(len(body))),
            st.none(),
            st.integers(0, 2 * MAX_BODY_BYTES).map(str),
            LATIN1,
            st.sampled_from(["", "-1", " 1", "1 ", "+1", "1e3", "0x10", "\u00b2", "\u0663"]),
            # Digit strings longer than int() takes by default (4300 digits).
            st.tuples(st.sampled_from("09"), st.integers(1, 5000)).map(lambda t: t[0] * t[1]),
        )
    )
    return body, content_type, content_length


def form_environ(body: bytes, content_type: str | None, content_length: str | None) -> dict:
    """Return a minimal environ for a POST /users with this body."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/users",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "wsgi.input": io.BytesIO(body),
    }
    if content_type is not None:
        environ["CONTENT_TYPE"] = content_type
    if content_length is not None:
        environ["CONTENT_LENGTH"] = content_length
    return environ


@given(form_requests())
@settings(max_examples=300)
@example((b"email=a%40b.c&password=x", FORM_TYPES[0], "24"))
@example((b"", FORM_TYPES[0], str(MAX_BODY_BYTES + 1)))
# A Content-Length of more than 4300 digits: int() refuses it with ValueError.
@example((b"", FORM_TYPES[0], "9" * 4301))
def test_request_form_any_body(request: tuple[bytes, str | None, str | None]) -> None:
    body, content_type, content_length = request
    try:
        form = Request(form_environ(body, content_type, content_length)).form()
    except HTTPError as error:
        assert 400 <= error.code < 500, error
        assert isinstance(error.message, str) and error.message
        return
    assert isinstance(form, dict)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in form.items())
    # Only a form, or no body at all, gets this far.
    main = parse_header_value(content_type or "")[0]
    assert main in FORM_TYPES or (main == "" and form == {})


# --- many generated requests through the whole app -----------------------------------------

SEED = int(os.environ.get("WSGIAUTH_FUZZ_SEED", "20251125"))
REQUESTS = 10_000
THROTTLED_REQUESTS = 1_000
# Every status the service gives, which a healthy generator must provoke.
EXPECTED_STATUSES = {200, 204, 303, 400, 401, 403, 404, 405, 413, 415}
STANDARD_METHODS = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE"}
# Answers decided before the body may be read.
NO_BODY_READ = {204, 404, 405, 413, 415}

USERS = {
    "alice@example.com": "correct horse battery staple",
    "bob@example.com": "b" * 72,
    "zo\u00eb@example.com": "p\u00e4ssw\u00f6rd \U0001f511",
    "unknown@email": " spaces around ",
}

# 72 bytes is bcrypt's limit: these sit on both sides of it.
EDGE_PASSWORDS = [
    "",
    " ",
    "\t\r\n",
    "x",
    "a" * 72,
    "a" * 73,
    "\u00e9" * 36,  # 72 bytes
    "\u00e9" * 36 + "a",  # 73 bytes
    "a" * 71 + "\u00e9",  # 73 bytes
    "\U0001f600" * 18,  # 72 bytes
    "\U0001f600" * 19,
    "\x00",
    "pass\x00word",
    "\x7f\x1b[0m",
    " leading",
    "trailing ",
    "%",
    "%zz",
    "+",
    "&=&",
    "a" * 10_000,
]
EDGE_EMAILS = [
    "",
    " ",
    "\t\r\n",
    "unknown@email",
    "nobody@example.com",
    "no-at-sign",
    "@example.com",
    "local@",
    "@",
    "a@b@example.com",
    "a b@example.com",
    "a\x00b@example.com",
    "a\x01@example.com",
    "a\x7f@example.com",
    "tab\t@example.com",
    "a\u0085b@example.com",
    "zero\u200bwidth@example.com",
    "x" * 238 + "@example.com",  # 250 characters: the most there is room for
    "x" * 239 + "@example.com",  # 251
    "x" * 10_000 + "@example.com",
    "\u00fcn\u00ef@ex\u00e4mple.com",
    "\U0001f600@example.com",
    "%40@example.com",
    "+@example.com",
    "ALICE@EXAMPLE.COM",
    "  alice@example.com  ",
]
EDGE_TOKENS = [
    "",
    "  ",
    "not-a-token",
    "00000000-0000-0000-0000-000000000000",
    "\x00",
    "x" * 5000,
]
GARBAGE = string.printable + "\x00\x01\x1b\x7f\x80\xa0\xff\u00e9"
BOUNDARY_CHARS = string.ascii_letters + string.digits + "'()+_,-./:=?"
ROUTE_FIELDS = {
    ("POST", "/users"): ("email", "password"),
    ("POST", "/sessions"): ("email", "password"),
    ("POST", "/reset_password"): ("email",),
    ("PUT", "/reset_password"): ("email", "reset_token", "new_password"),
}


def latin1(text: str) -> str:
    """Return UTF-8 text as a PEP 3333 environ carries it: one character per byte."""
    return text.encode("utf-8").decode("latin-1")


def normalize(email: str) -> str | None:
    """Return the email as the service stores it, or None if it refuses it."""
    try:
        return Auth.normalize_email(email)
    except InvalidInput:
        return None


class GuardedInput(io.BytesIO):
    """``wsgi.input`` that remembers how much the app asked to read."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.requested = 0
        self.unbounded = False

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            self.unbounded = True
        else:
            self.requested += size
        return super().read(size)


class Generator:
    """Build hostile requests, and remember what the answers taught it.

    The generator keeps the state a client would: the passwords it set, the
    session ids and reset tokens it was given. That lets some requests get
    past every check (200, 303) while the rest probe the errors.
    """

    def __init__(self, rng: random.Random, auth: Auth, throttled: bool = False) -> None:
        self.rng = rng
        self.auth = auth
        self.throttled = throttled
        self.passwords = {normalize(email) or email: password for email, password in USERS.items()}
        self.sessions: list[str] = []
        self.reset_tokens: list[tuple[str, str]] = []
        self.count = 0

    # -- values --

    def junk(self, size: int = 20) -> str:
        return "".join(self.rng.choice(GARBAGE) for _ in range(self.rng.randrange(size + 1)))

    def known_email(self) -> str:
        if self.throttled:
            return self.rng.choice([*USERS, "throttle-1@example.com", "throttle-2@example.com"])
        return self.rng.choice(list(self.passwords))

    def email(self) -> str:
        r = self.rng.random()
        if r < 0.45:
            email = self.known_email()
        elif r < 0.6 and not self.throttled:
            self.count += 1
            email = f"fuzz-{self.count}@example.com"
        else:
            return self.rng.choice(EDGE_EMAILS)
        # As typed: sometimes in capitals, sometimes with spaces around.
        if self.rng.random() < 0.15:
            email = email.upper()
        if self.rng.random() < 0.1:
            email = f" {email}\t"
        return email

    def password(self, email: str | None = None) -> str:
        known = self.passwords.get(normalize(email or "") or "")
        r = self.rng.random()
        if known is not None and r < 0.6:
            return known
        if r < 0.8:
            return self.rng.choice(EDGE_PASSWORDS)
        return self.junk(80)

    def session(self) -> str:
        """Return the id of a session, often a live one, sometimes made fresh."""
        if not self.sessions or self.rng.random() < 0.3:
            session_id = self.auth.create_session(self.rng.choice(list(self.passwords)))
            assert session_id is not None
            self.sessions.append(session_id)
        return self.rng.choice(self.sessions[-5:])

    def reset_token(self) -> str:
        r = self.rng.random()
        if r < 0.2:
            return self.auth.get_reset_password_token(self.rng.choice(list(self.passwords)))
        if r < 0.6 and self.reset_tokens:
            return self.rng.choice(self.reset_tokens[-5:])[1]
        if r < 0.8:
            return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        return self.rng.choice(EDGE_TOKENS)

    # -- the request line --

    def method_and_path(self) -> tuple[str, str]:
        rng = self.rng
        if self.throttled:
            method, path = rng.choice([("POST", "/sessions")] * 3 + [("POST", "/reset_password")])
        else:
            # Weighted towards what costs no bcrypt hash; called only once picked.
            pick: Callable[[], tuple[str, str]] = rng.choices(
                [
                    lambda: ("GET", "/"),
                    lambda: ("HEAD", "/"),
                    lambda: ("POST", "/users"),
                    lambda: ("POST", "/sessions"),
                    lambda: ("DELETE", "/sessions"),
                    lambda: ("GET", "/profile"),
                    lambda: ("HEAD", "/profile"),
                    lambda: ("POST", "/reset_password"),
                    lambda: ("PUT", "/reset_password"),
                    lambda: ("OPTIONS", rng.choice(KNOWN_PATHS)),
                    lambda: (rng.choice(METHODS), rng.choice(KNOWN_PATHS)),  # mostly 405
                    lambda: (rng.choice(METHODS), self.junk_path()),  # mostly 404
                ],
                weights=[6, 3, 9, 9, 8, 10, 3, 8, 8, 4, 10, 10],
            )[0]
            method, path = pick()
        r = rng.random()
        if r < 0.04:
            method = method.lower()
        elif r < 0.07:
            method = rng.choice(["G E T", "", " POST", "POST ", "GET\x00", "\u00e9", "X" * 500])
        if rng.random() < 0.05:
            path = rng.choice(
                [path + "/", "/" + path, path.upper(), path + "%00", path + "\x00", path + "?x=1"]
            )
        return method, path

    def junk_path(self) -> str:
        rng = self.rng
        return rng.choice(
            [
                lambda: rng.choice(KNOWN_PATHS) + "/",
                lambda: "/" + self.junk(),
                lambda: "/%" + "".join(rng.choices("%0fgzZ", k=rng.randrange(12))),
                lambda: "/" + "a" * rng.choice([300, 10_000, 100_000]),
                lambda: latin1("/profil\u00e9/\u65e5\u672c/\U0001f600"),
                lambda: "/\xff\xfe\x80",
                lambda: "/users\x00/admin",
                lambda: "/../" * rng.randrange(1, 20),
                lambda: "",
                lambda: "users",
                lambda: "/favicon.ico",
            ]
        )()

    def query_string(self) -> str:
        if self.rng.random() < 0.8:
            return ""
        return self.rng.choice(
            [
                "email=alice%40example.com&password=x",
                "%%%&&==",
                "a=" + "b" * 5000,
                self.junk(40),
                latin1("q=\u00e9\u65e5"),
            ]
        )

    # -- headers --

    def cookie_pair(self) -> str:
        rng = self.rng
        return rng.choice(
            [
                lambda: f"session_id={uuid.UUID(int=rng.getrandbits(128), version=4)}",
                lambda: f"SESSION_ID={uuid.UUID(int=rng.getrandbits(128), version=4)}",
                lambda: f"session_id={str(uuid.UUID(int=rng.getrandbits(128))).upper()}",
                lambda: "session_id=",
                lambda: "session_id",
                lambda: "=session_id",
                lambda: 'session_id=""',
                lambda: '"session_id=abc"',
                lambda: "session_id=\x00",
                lambda: "sess\x00ion_id=1",
                lambda: "theme=light dark",
                lambda: "a=b=c",
                lambda: "x=" + "y" * rng.choice([100, 100, 100, 5000, 70_000]),
                lambda: self.junk(30),
                lambda: "\x00\x01\x7f",
                lambda: latin1("sessi\u00f3n=caf\u00e9"),
                lambda: "",
            ]
        )()

    def cookie(self) -> str:
        rng = self.rng
        pairs = [self.cookie_pair() for _ in range(rng.choice([0, 1, 1, 2, 3, 5, 8, 100]))]
        if rng.random() < 0.45:
            session_id = self.session()
            pair = rng.choice(
                [f"session_id={session_id}", f' session_id = "{session_id}" ', f"a=1;{session_id}"]
            )
            pairs.insert(rng.randrange(len(pairs) + 1), pair)
        return rng.choice(["; ", ";", " ; ", ";;", ", "]).join(pairs)

    def headers(self, path: str) -> dict[str, str]:
        rng = self.rng
        headers: dict[str, str] = {}
        cookie_chance = 0.7 if path in ("/sessions", "/profile") else 0.2
        if rng.random() < cookie_chance:
            headers["Cookie"] = self.cookie()
        if rng.random() < 0.7:
            headers["Host"] = rng.choice(
                ["localhost", "localhost", "example.com", "localhost:8080", "", "\x00", "\xff"]
            )
        if rng.random() < 0.15:
            headers["Origin"] = rng.choice(
                [
                    "http://localhost",
                    "https://localhost",
                    "http://localhost:80",
                    "null",
                    "https://evil.example",
                    "::::",
                    self.junk(),
                ]
            )
        if rng.random() < 0.1:
            headers["Sec-Fetch-Site"] = rng.choice(
                ["same-origin", "same-site", "none", "cross-site", " CROSS-SITE ", self.junk()]
            )
        if rng.random() < 0.05:
            headers[rng.choice(["User-Agent", "Accept", "X-Forwarded-For", "Authorization"])] = (
                self.junk(200)
            )
        return headers

    # -- bodies --

    def fields(self, method: str, path: str) -> list[tuple[str, str]]:
        rng = self.rng
        names = ROUTE_FIELDS.get((method.upper(), path), rng.choice(list(ROUTE_FIELDS.values())))
        email = self.email()
        values: dict[str, Callable[[], str]] = {
            "email": lambda: email,
            "password": lambda: self.password(email),
            "new_password": self.password,
            "reset_token": self.reset_token,
        }
        pairs = [(name, values[name]()) for name in names if rng.random() < 0.93]
        if rng.random() < 0.1:
            pairs.append((rng.choice(["email", "password", "x", ""]), self.junk()))
        if rng.random() < 0.1:
            rng.shuffle(pairs)
        return pairs

    def urlencoded(self, pairs: list[tuple[str, str]]) -> bytes:
        r = self.rng.random()
        if r < 0.85:
            return urlencode(pairs)
        if r < 0.93:
            # Not encoded at all: "+", "%" and "&" in values mean something else.
            return "&".join(f"{name}={value}" for name, value in pairs).encode("utf-8")
        # Bytes that are not UTF-8, raw or percent-encoded.
        return self.rng.choice(
            [b"email=%ff%fe&password=x", b"email=\xff@x.y&password=\xc3", b"%c3"]
        )

    def multipart(self, pairs: list[tuple[str, str]], boundary: str) -> bytes:
        rng = self.rng
        delimiter = b"--" + boundary.encode("latin-1")
        parts = [
            delimiter
            + b'\r\nContent-Disposition: form-data; name="'
            + name.encode("utf-8")
            + b'"\r\n\r\n'
            + value.encode("utf-8")
            + b"\r\n"
            for name, value in pairs
        ]
        body = b"".join(parts) + delimiter + b"--\r\n"
        if rng.random() < 0.75:
            return body
        breakage: list[Callable[[], bytes]] = [
            lambda: body[: rng.randrange(len(body) + 1)],  # cut short
            lambda: body.replace(b"\r\n", b"\n"),  # bare LF
            lambda: body.replace(b"Content-Disposition", b"Content-Type"),
            lambda: body.replace(b'"\r\n\r\n', b'"; filename="f.txt"\r\n\r\n'),
            lambda: body.replace(b"\r\n\r\n", b"\r\n\r\n\xff\xfe", 1),
            lambda: body.replace(b"name=", b"name*=", 1),
            lambda: body + b"epilogue \xff",
            lambda: b"preamble\r\n" + body,
            lambda: body.replace(delimiter + b"--", delimiter),
        ]
        return rng.choice(breakage)()

    def body(self, method: str, path: str) -> tuple[bytes, str | None]:
        """Return a body and its Content-Type (None: no header)."""
        rng = self.rng
        r = rng.random()
        if r < 0.08:
            return b"", rng.choice([None, None, FORM_TYPES[0], "multipart/form-data; boundary=b"])
        if r < 0.13:
            return rng.randbytes(rng.randrange(300)), rng.choice(
                [None, FORM_TYPES[0], "multipart/form-data; boundary=b", self.junk()]
            )
        if r < 0.15:
            return b"email=" + b"a" * (MAX_BODY_BYTES + 1), FORM_TYPES[0]
        pairs = self.fields(method, path)
        kind = rng.choices(["urlencoded", "multipart", "json", "other"], weights=[62, 28, 5, 5])[0]
        if kind == "urlencoded":
            content_type = rng.choice(
                [
                    *[FORM_TYPES[0]] * 8,
                    "application/x-www-form-urlencoded; charset=UTF-8",
                    "Application/X-WWW-Form-Urlencoded",
                    " application/x-www-form-urlencoded ;",
                    None,
                    "",
                ]
            )
            return self.urlencoded(pairs), content_type
        if kind == "multipart":
            boundary = "".join(rng.choices(BOUNDARY_CHARS, k=rng.randrange(1, 71)))
            content_type = rng.choice(
                [
                    *[f"multipart/form-data; boundary={boundary}"] * 6,
                    f'multipart/form-data; boundary="{boundary}"',
                    f"MULTIPART/FORM-DATA;BOUNDARY={boundary};charset=utf-8",
                    "multipart/form-data",
                    "multipart/form-data; boundary=",
                    "multipart/form-data; boundary=other",
                    "multipart/form-data; boundary=" + "b" * 71,
                    "multipart/mixed; boundary=" + boundary,
                ]
            )
            return self.multipart(pairs, boundary), content_type
        if kind == "json":
            return json.dumps(dict(pairs)).encode(), rng.choice(
                ["application/json", "application/json; charset=utf-8", None]
            )
        return urlencode(pairs), rng.choice(
            ["text/plain", "application/xml", "form", "*/*", ";boundary=b", self.junk()]
        )

    def content_length(self, body: bytes) -> str | None:
        rng = self.rng
        r = rng.random()
        if r < 0.86:
            return str(len(body))
        if r < 0.89:
            return None
        if r < 0.92:
            return rng.choice([str(MAX_BODY_BYTES + 1), "99999999999999999999", str(10**12)])
        if r < 0.95:
            return rng.choice(["", "abc", "-1", " 5", "5 ", "1e3", "0x10", "+5", "\u00b2", "\xbd"])
        if r < 0.995:
            return str(max(0, len(body) + rng.randint(-20, 20)))
        # More digits than int() converts by default.
        return rng.choice("09") * rng.choice([4301, 5000])

    # -- the whole request --

    def request(self) -> tuple[dict[str, Any], bool]:
        """Return an environ, and whether it is clean enough for wsgiref's validator."""
        rng = self.rng
        method, path = self.method_and_path()
        headers = self.headers(path)
        body, content_type = self.body(method, path)
        content_length = self.content_length(body)
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "SCRIPT_NAME": "",
            "PATH_INFO": path,
            "QUERY_STRING": self.query_string(),
            "SERVER_NAME": "localhost",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": GuardedInput(body),
            "wsgi.errors": io.StringIO(),
            "wsgi.multithread": False,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        if content_type is not None:
            environ["CONTENT_TYPE"] = content_type
        if content_length is not None:
            environ["CONTENT_LENGTH"] = content_length
        for name, value in headers.items():
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        if rng.random() < 0.01:
            # A server bug, not a client's: a header that PEP 3333 moves out of HTTP_.
            environ["HTTP_CONTENT_TYPE"] = "text/plain"
        clean = (
            method in STANDARD_METHODS
            and path.startswith("/")
            and "HTTP_CONTENT_TYPE" not in environ
            and (content_length is None or re.fullmatch(r"[0-9]{1,18}", content_length) is not None)
        )
        return environ, clean

    def learn(self, environ: dict[str, Any], body: bytes, code: int, payload: Any, cookie: str):
        """Remember the passwords, sessions and tokens the answer confirms."""
        if code != 200 or not isinstance(payload, dict):
            return
        route = (environ["REQUEST_METHOD"].upper(), environ["PATH_INFO"])
        email = payload.get("email")
        if route == ("POST", "/users"):
            self.passwords[email] = form_sent(environ, body)["password"]
        elif route == ("PUT", "/reset_password"):
            self.passwords[email] = form_sent(environ, body)["new_password"]
        elif route == ("POST", "/reset_password") and "reset_token" in payload:
            self.reset_tokens.append((email, payload["reset_token"]))
        match = re.match(r"session_id=([^;]+)", cookie)
        if match:
            self.sessions.append(match[1])


def form_sent(environ: dict[str, Any], body: bytes) -> dict[str, str]:
    """Return the form the app read from a request it accepted."""
    keys = ("REQUEST_METHOD", "SERVER_NAME", "SERVER_PORT", "CONTENT_TYPE", "CONTENT_LENGTH")
    copy = {key: environ[key] for key in keys if key in environ}
    return Request({**copy, "wsgi.input": io.BytesIO(body)}).form()


def urlencode(pairs: list[tuple[str, str]]) -> bytes:
    """Return the fields as a urlencoded body."""
    return "&".join(f"{quote_plus(n)}={quote_plus(v)}" for n, v in pairs).encode("ascii")


def call(app: Callable, environ: dict[str, Any], validate: bool) -> tuple[list, bytes]:
    """Call the app (through wsgiref's validator if asked); return start_response's calls."""
    calls: list = []

    def start_response(status: str, headers: list, exc_info: Any = None) -> Callable:
        calls.append((status, headers))
        return lambda data: None

    if not validate:
        return calls, b"".join(app(environ, start_response))
    with warnings.catch_warnings():
        warnings.simplefilter("error", WSGIWarning)
        result = validator(app)(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            result.close()
    return calls, body


def problems_with(
    environ: dict[str, Any], guard: GuardedInput, calls: list, body: bytes
) -> list[str]:
    """Return what is wrong with one exchange (an empty list if nothing is)."""
    if len(calls) != 1:
        return [f"start_response called {len(calls)} times"]
    status, header_list = calls[0]
    code = int(status.split(" ", 1)[0])
    headers: dict[str, str] = {}
    for name, value in header_list:
        headers.setdefault(name.lower(), value)
    problems = []
    if code >= 500:
        problems.append("server error")
    if code == 204:
        if body or "content-length" in headers or "content-type" in headers:
            problems.append("204 with a body, Content-Length or Content-Type")
        if not headers.get("allow"):
            problems.append("204 without Allow")
    else:
        if headers.get("content-type") != "application/json":
            problems.append(f"Content-Type {headers.get('content-type')!r}")
        length = headers.get("content-length")
        if environ["REQUEST_METHOD"].upper() == "HEAD":
            if body or length is None or not length.isdigit():
                problems.append("HEAD with a body or without Content-Length")
        elif length != str(len(body)):
            problems.append(f"Content-Length {length!r} for a body of {len(body)} bytes")
        elif body:
            try:
                payload = json.loads(body)
            except ValueError:
                problems.append("body is not JSON")
            else:
                if not isinstance(payload, dict):
                    problems.append("JSON body is not an object")
                elif code >= 400 and not isinstance(payload.get("message"), str):
                    problems.append("error without a message")
    if code == 405 and not headers.get("allow", "").endswith("OPTIONS"):
        problems.append("405 without a full Allow")
    if code == 429 and not headers.get("retry-after", "").isdigit():
        problems.append("429 without Retry-After")
    if code == 303 and headers.get("location") != "/":
        problems.append("303 not to /")
    cookie = headers.get("set-cookie")
    if cookie is not None and not all(
        attribute in cookie for attribute in ("Path=/", "HttpOnly", "SameSite=Lax")
    ):
        problems.append(f"weak Set-Cookie {cookie!r}")
    raw_length = environ.get("CONTENT_LENGTH", "")
    if guard.unbounded:
        problems.append("read wsgi.input without a size")
    if re.fullmatch(r"[0-9]{1,18}", raw_length) and guard.requested > int(raw_length):
        problems.append(f"read {guard.requested} bytes past Content-Length {raw_length}")
    if code in NO_BODY_READ and guard.requested:
        problems.append(f"read the body before answering {code}")
    return problems


def describe(index: int, environ: dict[str, Any], body: bytes, outcome: str) -> str:
    """Return one request and its outcome on a line, long values cut short."""

    def cut(value: Any) -> str:
        text = repr(value)
        return text if len(text) <= 120 else f"{text[:100]}...({len(text)} chars)"

    fields = {
        key: environ[key]
        for key in sorted(environ)
        if not key.startswith("wsgi.") and environ[key] not in ("", "localhost", "80")
    }
    shown = ", ".join(f"{key}={cut(value)}" for key, value in fields.items())
    return f"#{index}: {shown}, body={cut(body)} -> {outcome}"


def run(generator: Generator, app: Callable, count: int, statuses: Counter) -> list[str]:
    """Send ``count`` generated requests; count the statuses; return the failures."""
    failures = []
    for index in range(count):
        environ, clean = generator.request()
        # The validator swaps wsgi.input for its own wrapper: keep ours.
        guard: GuardedInput = environ["wsgi.input"]
        sent_body = guard.getvalue()
        validate = clean and generator.rng.random() < 0.15
        try:
            calls, body = call(app, environ, validate)
        except Exception as error:
            failures.append(describe(index, environ, sent_body, f"raised {error!r}"))
            continue
        problems = problems_with(environ, guard, calls, body)
        if not calls:
            failures.append(describe(index, environ, sent_body, "; ".join(problems)))
            continue
        status, headers = calls[0]
        code = int(status[:3])
        statuses[code] += 1
        if problems:
            outcome = f"{status}: {'; '.join(problems)}"
            failures.append(describe(index, environ, sent_body, outcome))
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            payload = None
        cookie = next((v for k, v in headers if k.lower() == "set-cookie"), "")
        generator.learn(environ, sent_body, code, payload, cookie)
    return failures


def report(phase: str, failures: list[str], statuses: Counter) -> str:
    shown = "\n".join(failures[:15])
    return (
        f"seed={SEED} ({phase}; replay with WSGIAUTH_FUZZ_SEED={SEED}): "
        f"{len(failures)} bad answers; statuses {dict(sorted(statuses.items()))}\n{shown}"
    )


def test_fuzz_requests(db: DB) -> None:
    print(f"fuzz seed: {SEED}")
    rng = random.Random(SEED)
    lenient = Auth(
        db,
        settings=dataclasses.replace(
            config.load(), login_failure_limit=10**6, reset_request_limit=10**6
        ),
    )
    for email, password in USERS.items():
        lenient.register_user(email, password)

    statuses: Counter = Counter()
    failures = run(Generator(rng, lenient), create_app(lenient), REQUESTS, statuses)
    assert not failures, report("lenient limits", failures, statuses)
    assert sum(statuses.values()) >= 10_000
    missing = EXPECTED_STATUSES - set(statuses)
    assert not missing, report(f"never answered {sorted(missing)}", failures, statuses)
    # Nothing is throttled with limits this high.
    assert 429 not in statuses, report("throttled with lenient limits", failures, statuses)

    # The same database under the default limits: failed logins and reset
    # requests for a few emails soon get 429.
    default = Auth(db, settings=config.load())
    throttled: Counter = Counter()
    generator = Generator(rng, default, throttled=True)
    failures = run(generator, create_app(default), THROTTLED_REQUESTS, throttled)
    assert not failures, report("default limits", failures, throttled)
    assert throttled[429] > 0, report("default limits, never 429", failures, throttled)
    print(
        f"statuses: {dict(sorted(statuses.items()))}; throttled: {dict(sorted(throttled.items()))}"
    )
