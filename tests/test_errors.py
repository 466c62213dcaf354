"""``Auth``'s named errors, and the one HTTP status each is answered with (``api.ERRORS``)."""

import pytest

from wsgiauth.api import http_error
from wsgiauth.auth import (
    Busy,
    EmailTaken,
    InvalidEmailToken,
    InvalidInput,
    InvalidToken,
    TooManyAttempts,
    UnknownEmail,
    WrongCurrentPassword,
    WrongPassword,
)


@pytest.mark.parametrize(
    ("error", "status", "message"),
    [
        (InvalidInput("email must look like name@domain"), 400, "email must look like"),
        (EmailTaken("User a@b already exists"), 400, "email already registered"),
        (WrongPassword("x"), 401, "wrong email or password"),
        (WrongCurrentPassword("x"), 401, "wrong password"),
        (UnknownEmail("x"), 403, "no account with this email"),
        (InvalidToken("x"), 403, "invalid or expired reset token"),
        (InvalidEmailToken("x"), 403, "invalid or expired email token"),
        (TooManyAttempts(7), 429, "too many attempts"),
        (Busy(), 503, "server busy"),
    ],
)
def test_each_auth_error_has_one_http_status(error, status, message):
    http = http_error(error)
    assert http is not None
    assert (http.code, message in http.message) == (status, True)
    # The seed's API raises ValueError; the two that are not a refusal of the
    # input (come back later) are not ValueErrors.
    assert isinstance(error, ValueError) != isinstance(error, (TooManyAttempts, Busy))


def test_the_waits_reach_retry_after():
    assert http_error(TooManyAttempts(7)).headers() == [("Retry-After", "7")]
    assert http_error(Busy()).headers() == [("Retry-After", "1")]


def test_an_error_auth_does_not_name_is_not_mapped():
    assert http_error(RuntimeError("boom")) is None
    assert http_error(ValueError("plain")) is None
