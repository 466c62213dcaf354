"""``page_answers.py``: how a page endpoint answers, called directly.

A refusal becomes a sentence on the form, with the API's status and
headers; a success a 303 that keeps the API's cookies; the rest reads what
every page reads of the request. The pages' flows are test_browser.py's.
"""

import io

import pytest

from wsgiauth import api
from wsgiauth.errors import TooManyAttempts, WrongPassword
from wsgiauth.http import BadRequest, ServiceUnavailable, TooManyRequests, Unauthorized
from wsgiauth.page_answers import (
    failed,
    form_value,
    nobody,
    notice_in,
    page_response,
    say,
    see_other,
)
from wsgiauth.request import Request


def request(body: bytes = b"", query: str = "", content_type: str = "") -> Request:
    """A POST to /sessions with ``body`` and ``query``, as a server would pass it."""
    return Request(
        {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/sessions",
            "QUERY_STRING": query,
            "CONTENT_TYPE": content_type or "application/x-www-form-urlencoded",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
        }
    )


def test_a_page_is_html_in_utf_8_with_its_status_and_headers() -> None:
    response = page_response("<p>é</p>", 401, [("WWW-Authenticate", "Cookie")])
    assert (response.code, response.body) == (401, "<p>é</p>".encode())
    assert response.headers == [
        ("Content-Type", "text/html; charset=utf-8"),
        ("WWW-Authenticate", "Cookie"),
    ]


@pytest.mark.parametrize(
    ("error", "sentence"),
    [
        (Unauthorized("wrong email or password"), "Wrong email or password."),
        (BadRequest("new_password is required"), "New password is required."),
        (TooManyRequests(895), "Too many attempts. Try again in 15 minutes."),
        (TooManyRequests(120), "Too many attempts. Try again in 120 seconds."),
        (ServiceUnavailable(1), "The server is busy. Try again in 1 second."),
    ],
)
def test_a_refusal_is_said_as_a_sentence_without_a_status_code(error, sentence) -> None:
    assert say(error) == sentence


def test_a_failed_request_shows_its_form_with_the_api_s_status_and_headers() -> None:
    response = failed(WrongPassword("wrong email or password"), lambda problem: f"<form>{problem}")
    assert response.code == 401
    assert dict(response.headers)["WWW-Authenticate"].startswith("Cookie ")
    assert b"<form>" in response.body and b"Wrong email or password." in response.body
    throttled = failed(TooManyAttempts(60), lambda problem: problem)
    assert (throttled.code, dict(throttled.headers)["Retry-After"]) == (429, "60")


def test_an_error_that_is_no_refusal_is_raised_again_for_the_app_s_500() -> None:
    bug = RuntimeError("a bug")
    with pytest.raises(RuntimeError) as raised:
        failed(bug, lambda problem: problem)
    assert raised.value is bug


def test_see_other_keeps_the_cookies_the_api_set_and_no_other_header() -> None:
    answer = api.Answer(
        {"message": "logged in"},
        200,
        [("Set-Cookie", "session_id=s; Path=/"), ("X-Other", "no")],
    )
    response = see_other("/profile", answer, cookies=[("Set-Cookie", "pending_login=; Max-Age=0")])
    assert response.code == 303
    assert response.headers[1:] == [
        ("Location", "/profile"),
        ("Set-Cookie", "pending_login=; Max-Age=0"),
        ("Set-Cookie", "session_id=s; Path=/"),
    ]
    assert b'href="/profile"' in response.body


def test_a_form_value_is_the_field_sent_or_empty_when_the_form_cannot_be_read() -> None:
    assert form_value(request(b"email=bob%40me.com"), "email") == "bob@me.com"
    assert form_value(request(b"email=bob%40me.com"), "password") == ""
    assert form_value(request(b"\xff", content_type="text/plain"), "email") == ""


def test_a_notice_is_named_in_the_query_and_nothing_else_shows() -> None:
    assert "You are logged out." in notice_in(request(query="done=logged_out"))
    assert notice_in(request(query="done=<script>")) == ""
    assert notice_in(request()) == ""


def test_nobody_is_403_with_the_login_form() -> None:
    response = nobody()
    assert response.code == 403
    assert b"Nobody is logged in." in response.body and b'action="/sessions"' in response.body
