"""Tables of inputs and expected outputs for wsgiauth.http: responses, errors, Set-Cookie."""

from typing import Any

import pytest

from wsgiauth.http import (
    BadRequest,
    Forbidden,
    HTTPError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    Response,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
    UnsupportedMediaType,
    json_response,
    set_cookie,
)
from wsgiauth.parsers import first_values, parse_cookie

# --- set_cookie ---------------------------------------------------------------

SET_COOKIES = [
    ("session", ("session_id", "abc"), {}, "session_id=abc; Path=/; HttpOnly; SameSite=Lax"),
    (
        "logout",
        ("session_id", ""),
        {"max_age": 0},
        "session_id=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax",
    ),
    ("max age", ("a", "1"), {"max_age": 3600}, "a=1; Max-Age=3600; Path=/; HttpOnly; SameSite=Lax"),
    ("path", ("a", "1"), {"path": "/api"}, "a=1; Path=/api; HttpOnly; SameSite=Lax"),
    ("not http-only", ("a", "1"), {"http_only": False}, "a=1; Path=/; SameSite=Lax"),
    ("strict", ("a", "1"), {"same_site": "Strict"}, "a=1; Path=/; HttpOnly; SameSite=Strict"),
    ("secure", ("a", "1"), {"secure": True}, "a=1; Path=/; HttpOnly; SameSite=Lax; Secure"),
    (
        "everything",
        ("a", "1"),
        {"max_age": 0, "path": "/x", "http_only": False, "same_site": "None", "secure": True},
        "a=1; Max-Age=0; Path=/x; SameSite=None; Secure",
    ),
]


@pytest.mark.parametrize(
    ("args", "kwargs", "expected"),
    [case[1:] for case in SET_COOKIES],
    ids=[case[0] for case in SET_COOKIES],
)
def test_set_cookie(args: tuple[str, str], kwargs: dict[str, Any], expected: str) -> None:
    assert set_cookie(*args, **kwargs) == expected


def test_set_cookie_round_trips_through_parse_cookie() -> None:
    session_id = "0b8e5e8a-6d4c-4c0a-9d0e-4d2b1f6f3c11"
    header = set_cookie("session_id", session_id)
    assert first_values(parse_cookie(header))["session_id"] == session_id


# --- status lines and the HTTP errors -----------------------------------------


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (200, "200 OK"),
        (204, "204 No Content"),
        (302, "302 Found"),
        (400, "400 Bad Request"),
        (401, "401 Unauthorized"),
        (403, "403 Forbidden"),
        (404, "404 Not Found"),
        (405, "405 Method Not Allowed"),
        (415, "415 Unsupported Media Type"),
        (500, "500 Internal Server Error"),
    ],
    ids=str,
)
def test_status_line(code: int, expected: str) -> None:
    assert Response(code).start()[0] == expected


def test_status_line_413() -> None:
    # Python 3.13 renamed the phrase after RFC 9110; either is a valid answer.
    assert Response(413).start()[0] in ("413 Request Entity Too Large", "413 Content Too Large")


@pytest.mark.parametrize("code", [0, 99, 299, 999])
def test_status_line_unknown_code(code: int) -> None:
    with pytest.raises(ValueError):
        Response(code).start()


ERRORS = [
    (HTTPError, 500, "internal server error"),
    (BadRequest, 400, "bad request"),
    (Unauthorized, 401, "wrong email or password"),
    (Forbidden, 403, "forbidden"),
    (NotFound, 404, "not found"),
    (PayloadTooLarge, 413, "request body too large"),
    (
        UnsupportedMediaType,
        415,
        "send the body as application/x-www-form-urlencoded or multipart/form-data",
    ),
]


@pytest.mark.parametrize(
    ("cls", "code", "message"), ERRORS, ids=[cls.__name__ for cls, _, _ in ERRORS]
)
def test_http_error_defaults(cls: type[HTTPError], code: int, message: str) -> None:
    error = cls()
    assert isinstance(error, HTTPError)
    assert isinstance(error, Exception)
    assert error.code == code
    assert error.message == message
    assert str(error) == message
    if cls is Unauthorized:
        assert error.headers() == [("WWW-Authenticate", Unauthorized.challenge)]
    else:
        assert error.headers() == []


def test_every_401_carries_the_cookie_challenge() -> None:
    # RFC 9110 §15.5.2: a 401 MUST carry a WWW-Authenticate challenge.
    assert Unauthorized("anything").headers() == [
        (
            "WWW-Authenticate",
            'Cookie realm="wsgiauth", form-action="/sessions", cookie-name="session_id"',
        )
    ]


def test_json_response_ends_with_a_newline() -> None:
    response = json_response({"email": "bob@me.com"}, 201, [("X-A", "b")])
    assert response.body == b'{"email": "bob@me.com"}\n'
    assert response.start()[1] == [
        ("Content-Type", "application/json"),
        ("X-A", "b"),
        ("Content-Length", "24"),
    ]


def test_a_204_has_no_content_length() -> None:
    assert Response(204, headers=[("Allow", "GET")]).start() == (
        "204 No Content",
        [("Allow", "GET")],
    )


@pytest.mark.parametrize(
    ("cls", "code", "message"), ERRORS, ids=[cls.__name__ for cls, _, _ in ERRORS]
)
def test_http_error_custom_message(cls: type[HTTPError], code: int, message: str) -> None:
    error = cls("email is required")
    assert error.code == code
    assert error.message == "email is required"
    assert str(error) == "email is required"
    # The instance's message does not leak into the class default.
    assert cls().message == message


def test_http_error_empty_message_falls_back_to_default() -> None:
    assert BadRequest("").message == "bad request"


@pytest.mark.parametrize(
    ("allowed", "message", "allow"),
    [
        pytest.param(
            ["GET", "HEAD", "OPTIONS"],
            "method not allowed; use GET, HEAD, OPTIONS",
            "GET, HEAD, OPTIONS",
            id="GET path",
        ),
        pytest.param(
            ["POST", "DELETE", "OPTIONS"],
            "method not allowed; use POST, DELETE, OPTIONS",
            "POST, DELETE, OPTIONS",
            id="sessions",
        ),
        pytest.param(
            iter(["POST", "OPTIONS"]),
            "method not allowed; use POST, OPTIONS",
            "POST, OPTIONS",
            id="iterator",
        ),
    ],
)
def test_method_not_allowed(allowed: list[str], message: str, allow: str) -> None:
    error = MethodNotAllowed(allowed)
    assert isinstance(error, HTTPError)
    assert error.code == 405
    assert error.allowed == allow.split(", ")
    assert error.message == message
    assert str(error) == message
    assert error.headers() == [("Allow", allow)]
    # headers() can be asked twice: the iterator was consumed once, into a list.
    assert error.headers() == [("Allow", allow)]


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (TooManyRequests(1), "too many attempts; try again in 1 second"),
        (TooManyRequests(900), "too many attempts; try again in 900 seconds"),
        (ServiceUnavailable(), "server busy; try again in 1 second"),
        (ServiceUnavailable(2), "server busy; try again in 2 seconds"),
    ],
)
def test_a_wait_of_one_second_is_one_second(error: HTTPError, message: str) -> None:
    assert error.message == message
