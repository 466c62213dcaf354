"""``serve.py --trace``: each request's headers, route, SQL and answer, secrets masked.

The masking functions are tested on their own with tables; then a real
``serve.py --trace`` is watched while a client registers, logs in, reads
its profile, asks for a reset token and uses it: every step must show up,
and no password, session id or reset token may appear anywhere in the log;
nor an email token, which a page's redirect carries in development; nor,
with two-factor login, a secret, a one-time or recovery code, or the
cookie of a login held for its code.
"""

import http.client
import re
import time

import pytest
import requests
from conftest import Server
from helpers import SECRET_KEY, production_env

from wsgiauth import totp
from wsgiauth.trace import (
    HIDDEN,
    mask_cookie_header,
    mask_query,
    mask_set_cookie,
    request_lines,
    response_lines,
)

TIMEOUT = 10
SESSION = "0f5f2d5e-3b1a-4c1e-9a4b-6f0d5c3e2a1b"


@pytest.mark.parametrize(
    ("header", "masked"),
    [
        (f"session_id={SESSION}", f"session_id={HIDDEN}"),
        (f"theme=dark; session_id={SESSION}", f"theme=dark; session_id={HIDDEN}"),
        (f"session_id={SESSION}; session_id=x", f"session_id={HIDDEN}; session_id={HIDDEN}"),
        # waitress joins two Cookie headers with ", ".
        (f"theme=dark, session_id={SESSION}", f"theme=dark, session_id={HIDDEN}"),
        ("theme=dark", "theme=dark"),
        ("", ""),
        # Names as parse_cookie reads them: trimmed, the value unquoted.
        (f"session_id ={SESSION}", f"session_id ={HIDDEN}"),
        (f" session_id\t= {SESSION};a=b", f" session_id\t={HIDDEN};a=b"),
        (f'session_id="{SESSION}"', f"session_id={HIDDEN}"),
        (f"reset_token={SESSION}; x=1", f"reset_token={HIDDEN}; x=1"),
        (f"my_session_id={SESSION}", f"my_session_id={SESSION}"),  # another cookie
        # The device cookie is a credential too (devices.py).
        (f"device={SESSION}; theme=dark", f"device={HIDDEN}; theme=dark"),
        (f"session_id={SESSION}; device={SESSION}", f"session_id={HIDDEN}; device={HIDDEN}"),
        # A login held for its one-time code (twofactor.py) is one step from a session.
        (f"pending_login={SESSION}", f"pending_login={HIDDEN}"),
    ],
)
def test_mask_cookie_header(header: str, masked: str) -> None:
    assert mask_cookie_header(header) == masked


@pytest.mark.parametrize(
    ("header", "masked"),
    [
        (
            f"session_id={SESSION}; Max-Age=1209600; Path=/; HttpOnly; SameSite=Lax",
            f"session_id={HIDDEN}; Max-Age=1209600; Path=/; HttpOnly; SameSite=Lax",
        ),
        ("session_id=; Max-Age=0; Path=/", f"session_id={HIDDEN}; Max-Age=0; Path=/"),
        (f"session_id={SESSION}", f"session_id={HIDDEN}"),
    ],
)
def test_mask_set_cookie(header: str, masked: str) -> None:
    assert mask_set_cookie(header) == masked


@pytest.mark.parametrize(
    ("query", "masked"),
    [
        ("password=hunter2&email=a@b", f"password={HIDDEN}&email=a@b"),
        ("reset_token=abc&new_password=x", f"reset_token={HIDDEN}&new_password={HIDDEN}"),
        ("session_id=1&a", f"session_id={HIDDEN}&a"),
        ("done=x&email_token=abc", f"done=x&email_token={HIDDEN}"),
        ("page=2", "page=2"),
        # Names as parse_urlencoded reads them: percent-decoded, + a space.
        ("reset%5Ftoken=abc&x=1", f"reset%5Ftoken={HIDDEN}&x=1"),
        ("%72eset_token=abc", f"%72eset_token={HIDDEN}"),
        ("new+password=x&new_password=y", f"new+password=x&new_password={HIDDEN}"),
        ("code=123456&email_token=t", f"code={HIDDEN}&email_token={HIDDEN}"),
        ("reset_token=%ff", f"reset_token={HIDDEN}"),  # not UTF-8: hidden, whatever it is
        ("a=%ff", f"a={HIDDEN}"),
        ("reset_token", "reset_token"),  # a name with no value holds nothing
        ("", ""),
    ],
)
def test_mask_query(query: str, masked: str) -> None:
    assert mask_query(query) == masked


def test_request_lines_rebuild_the_request_from_environ() -> None:
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/profile\n/forged",
        "QUERY_STRING": "password=hunter2",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1:5000",
        "HTTP_COOKIE": f"session_id={SESSION}",
        "HTTP_AUTHORIZATION": "Basic Ym9iOnB3",
        "HTTP_PROXY_AUTHORIZATION": "Basic cHJveHk6cHc=",
        "HTTP_REFERER": "http://127.0.0.1:5000/reset_password?reset_token=abc&x=1",
        "CONTENT_TYPE": "",
        "wsgi.input": None,
    }
    assert request_lines(environ) == [
        rf"GET /profile\n/forged?password={HIDDEN} HTTP/1.1",
        "Host: 127.0.0.1:5000",
        f"Cookie: session_id={HIDDEN}",
        f"Authorization: {HIDDEN}",
        f"Proxy-Authorization: {HIDDEN}",
        f"Referer: http://127.0.0.1:5000/reset_password?reset_token={HIDDEN}&x=1",
    ]


def test_response_lines_hide_a_token_in_location() -> None:
    headers = [("Location", f"/profile/email?done=x&email_token={SESSION}"), ("Location", "/")]
    assert response_lines("303 See Other", headers) == [
        "HTTP/1.1 303 See Other",
        f"Location: /profile/email?done=x&email_token={HIDDEN}",
        "Location: /",
    ]


def test_response_lines_hide_the_cookie_value() -> None:
    headers = [("Content-Type", "application/json"), ("Set-Cookie", f"session_id={SESSION}")]
    assert response_lines("200 OK", headers) == [
        "HTTP/1.1 200 OK",
        "Content-Type: application/json",
        f"Set-Cookie: session_id={HIDDEN}",
    ]


def test_serve_trace_shows_a_login_and_no_secret(db_url: str) -> None:
    password, new_password = "S3cret-Pa55word", "An0ther-S3cret"
    with Server(db_url, "--trace") as server:
        url = server.url
        form = {"email": "bob@me.com", "password": password}
        assert requests.post(f"{url}/users", data=form, timeout=TIMEOUT).status_code == 200
        login = requests.post(f"{url}/sessions", data=form, timeout=TIMEOUT)
        # Again, with the device cookie the first login set.
        device = login.cookies.get("device", path="/sessions")
        again = {"device": device}
        login = requests.post(f"{url}/sessions", data=form, cookies=again, timeout=TIMEOUT)
        session_id = login.cookies["session_id"]
        cookies = {"session_id": session_id, "theme": "dark"}
        assert requests.get(f"{url}/profile", cookies=cookies, timeout=TIMEOUT).status_code == 200
        reset = requests.post(f"{url}/reset_password", data={"email": "bob@me.com"}, timeout=10)
        token = reset.json()["reset_token"]
        form = {"email": "bob@me.com", "reset_token": token, "new_password": new_password}
        assert requests.put(f"{url}/reset_password", data=form, timeout=TIMEOUT).status_code == 200
        log = server.stop()
    for secret in (password, new_password, session_id, token, device):
        assert secret not in log
    # The login, as a learner sees it: request, route, SQL, answer.
    block = log[log.index("> POST /sessions HTTP/1.1") :]
    block = block[: block.index("< Set-Cookie")]
    assert "> Content-Type: application/x-www-form-urlencoded" in block
    assert "route: POST /sessions -> wsgiauth.api.post_sessions" in block
    assert re.search(r"sql: INSERT INTO attempts", block)
    assert re.search(r"sql: SELECT users\.id, users\.email", block)
    assert re.search(r"sql: UPDATE users SET session_id=", block)
    assert "< HTTP/1.1 200 OK" in block
    assert f"< Set-Cookie: session_id={HIDDEN}; Max-Age=1209600; Path=/; HttpOnly" in log
    assert f"> Cookie: session_id={HIDDEN}; theme=dark" in log
    assert "route: PUT /reset_password -> wsgiauth.api.put_reset_password" in log
    # The profile's look-up, which runs on the DB-API cursor, is shown too.
    block = log[log.index("> GET /profile HTTP/1.1") :]
    block = block[: block.index("< HTTP/1.1")]
    lookup = r"sql: SELECT users\.id, .* WHERE users\.session_id = (\?|%\(digest\)s) LIMIT 1"
    assert re.search(lookup, block)


def test_serve_trace_hides_secrets_however_the_client_spells_their_names(db_url: str) -> None:
    """Each secret below was shown: a cookie name with a space before ``=``
    (the cookie parser trims it), a query name percent-encoded (the query
    parser decodes it), a ``Proxy-Authorization`` header."""
    session, token, proxy = SESSION, "5b0e4c1a-8d2f-4e6a-9c3b-1f7e2d4a6b8c", "cHJveHk6c2VjcmV0"
    with Server(db_url, "--trace") as server:
        host, port = server.url.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=TIMEOUT)
        connection.request(
            "GET",
            f"/profile?reset%5Ftoken={token}&x=1",
            headers={
                "Cookie": f"theme=dark; session_id ={session}",
                "Proxy-Authorization": f"Basic {proxy}",
                "Referer": f"{server.url}/reset_password?reset_token={token}",
            },
        )
        assert connection.getresponse().status == 403
        connection.close()
        log = server.stop()
    block = log[log.index("> GET /profile") :]
    assert "> Proxy-Authorization: <hidden>" in block, block
    for secret in (session, token, proxy):
        assert secret not in log, block


def test_serve_trace_shows_a_change_of_email_in_a_browser_and_no_token(db_url: str) -> None:
    # The page's 303 after asking for a new email carries the token to the
    # confirmation (development mode), in Location, and the browser then
    # asks for that URL: neither may put the token in the log.
    browser = {"Accept": "text/html", "Sec-Fetch-Site": "same-origin"}
    with Server(db_url, "--trace") as server:
        url = server.url
        form = {"email": "bob@me.com", "password": "S3cret-Pa55word"}
        assert requests.post(f"{url}/users", data=form, timeout=TIMEOUT).status_code == 200
        cookies = {
            "session_id": requests.post(f"{url}/sessions", data=form, timeout=TIMEOUT).cookies[
                "session_id"
            ]
        }
        form = {"email": "robert@me.com", "password": "S3cret-Pa55word"}
        asked = requests.post(
            f"{url}/profile/email",
            data=form,
            cookies=cookies,
            headers=browser,
            allow_redirects=False,
            timeout=TIMEOUT,
        )
        assert asked.status_code == 303
        location = asked.headers["Location"]
        token = location.rpartition("email_token=")[2]
        assert re.fullmatch(r"[0-9a-f-]{36}", token), location
        page = requests.get(f"{url}{location}", cookies=cookies, headers=browser, timeout=TIMEOUT)
        assert page.status_code == 200 and token in page.text
        log = server.stop()
    assert token not in log, [line for line in log.splitlines() if token in line]
    assert f"email_token={HIDDEN}" in log


def test_serve_trace_is_refused_in_production(db_url: str, monkeypatch) -> None:
    for name, value in production_env(25).items():
        monkeypatch.setenv(name, value)
    with pytest.raises(RuntimeError, match="did not start") as refused:
        Server(db_url, "--production", "--trace")
    message = str(refused.value)
    assert "--trace" in message
    assert "development mode only" in message
    assert "Traceback" not in message


def test_serve_trace_shows_two_factor_login_and_no_code_secret_or_held_login(
    db_url: str,
) -> None:
    # Turned on over the API, then a browser's login in two pages, whose
    # second sends the held login's cookie; then off with a recovery code.
    password = "S3cret-Pa55word"
    browser = {"Accept": "text/html", "Sec-Fetch-Site": "same-origin"}
    with Server(db_url, "--trace", env={"WSGIAUTH_SECRET_KEY": SECRET_KEY}) as server:
        url = server.url
        bob = requests.Session()
        form = {"email": "bob@me.com", "password": password}
        assert bob.post(f"{url}/users", data=form, timeout=TIMEOUT).status_code == 200
        assert bob.post(f"{url}/sessions", data=form, timeout=TIMEOUT).status_code == 200
        secret = bob.post(f"{url}/profile/totp", data={"password": password}, timeout=TIMEOUT)
        secret = secret.json()["secret"]
        first = totp.totp(totp.from_base32(secret), time.time())
        confirmed = bob.put(f"{url}/profile/totp", data={"code": first}, timeout=TIMEOUT)
        codes = confirmed.json()["recovery_codes"]
        page = requests.post(
            f"{url}/sessions", data=form, headers=browser, allow_redirects=False, timeout=TIMEOUT
        )
        assert page.status_code == 401
        held = page.cookies["pending_login"]
        second = requests.post(
            f"{url}/sessions",
            data={"code": codes[0]},
            cookies={"pending_login": held},
            headers=browser,
            allow_redirects=False,
            timeout=TIMEOUT,
        )
        assert second.status_code == 303
        session_id = second.cookies["session_id"]
        off = {"password": password, "code": codes[1]}
        cookies = {"session_id": session_id}
        assert requests.delete(f"{url}/profile/totp", data=off, cookies=cookies, timeout=10).ok
        log = server.stop()
    assert "route: PUT /profile/totp -> wsgiauth.api.put_profile_totp" in log
    assert f"> Cookie: pending_login={HIDDEN}" in log
    assert f"< Set-Cookie: pending_login={HIDDEN}; Max-Age=300; Path=/sessions" in log
    for value in (password, secret, first, held, session_id, *codes):
        assert value not in log, [line for line in log.splitlines() if value in line]
