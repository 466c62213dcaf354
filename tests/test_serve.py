"""The real server: ``serve.py`` under waitress, driven over HTTP.

The seed's task-20 ``main.py`` runs here against a live process, as do its
curl sessions (tasks 7, 11 and 15). Then what only a real server shows: the
access log, concurrent clients, a restart on the same database, SIGTERM and
Ctrl-C, uploads too big for waitress, a bad setting at start-up (production
mode without its mail settings too), the login throttle shared by two server
processes, and the filter that keeps waitress's "Task queue depth" warning
from flooding the log.
"""

import contextlib
import importlib.util
import inspect
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from urllib.parse import urljoin

import pytest
import requests
from conftest import ROOT, Server
from helpers import CHROME
from sqlalchemy import create_engine, text

TIMEOUT = 10  # seconds, for every HTTP request

# --- the seed's task 20, as written there ------------------------------------

EMAIL = "guillaume@holberton.io"
PASSWD = "b4l0u"
NEW_PASSWD = "t4rt1fl3tt3"

URL = ""  # the running server, set by the ``seed_url`` fixture
JSON = "application/json"
UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def register_user(email: str, password: str) -> None:
    """POST /users creates the account."""
    response = requests.post(
        f"{URL}/users", data={"email": email, "password": password}, timeout=TIMEOUT
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == JSON
    assert response.json() == {"email": email, "message": "user created"}


def log_in_wrong_password(email: str, password: str) -> None:
    """POST /sessions with the wrong password is 401 and sets no cookie."""
    response = requests.post(
        f"{URL}/sessions", data={"email": email, "password": password}, timeout=TIMEOUT
    )
    assert response.status_code == 401
    assert response.headers["Content-Type"] == JSON
    assert response.json() == {"message": "wrong email or password"}
    assert "Set-Cookie" not in response.headers


def log_in(email: str, password: str) -> str:
    """POST /sessions logs in and returns the session id from the cookie."""
    response = requests.post(
        f"{URL}/sessions", data={"email": email, "password": password}, timeout=TIMEOUT
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == JSON
    assert response.json() == {"email": email, "message": "logged in"}
    session_id = response.cookies["session_id"]
    assert UUID4.fullmatch(session_id), session_id
    # The cookie lasts as long as the server keeps the session: 14 days.
    # (The device cookies follow: tests/test_devices.py.)
    assert response.raw.headers.getlist("Set-Cookie")[0] == (
        f"session_id={session_id}; Max-Age=1209600; Path=/; HttpOnly; SameSite=Lax"
    )
    return session_id


def profile_unlogged() -> None:
    """GET /profile without a session is 403."""
    response = requests.get(f"{URL}/profile", timeout=TIMEOUT)
    assert response.status_code == 403
    assert response.headers["Content-Type"] == JSON
    assert response.json() == {"message": "not logged in"}


def profile_logged(session_id: str) -> None:
    """GET /profile with the session cookie shows the user's email."""
    response = requests.get(f"{URL}/profile", cookies={"session_id": session_id}, timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == JSON
    assert response.json() == {"email": EMAIL}


def log_out(session_id: str) -> None:
    """DELETE /sessions redirects to / and ends the session server-side."""
    response = requests.delete(
        f"{URL}/sessions",
        cookies={"session_id": session_id},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    assert (
        response.headers["Set-Cookie"] == "session_id=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax"
    )
    home = requests.get(urljoin(f"{URL}/sessions", response.headers["Location"]), timeout=TIMEOUT)
    assert home.status_code == 200
    assert home.headers["Content-Type"] == JSON
    assert home.json() == {"message": "Bienvenue"}
    # The session is gone on the server, not only in the browser.
    again = requests.get(f"{URL}/profile", cookies={"session_id": session_id}, timeout=TIMEOUT)
    assert again.status_code == 403


def reset_password_token(email: str) -> str:
    """POST /reset_password returns a fresh reset token."""
    response = requests.post(f"{URL}/reset_password", data={"email": email}, timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == JSON
    payload = response.json()
    assert set(payload) == {"email", "reset_token"}
    assert payload["email"] == email
    reset_token = payload["reset_token"]
    assert UUID4.fullmatch(reset_token), reset_token
    assert str(uuid.UUID(reset_token)) == reset_token
    return reset_token


def update_password(email: str, reset_token: str, new_password: str) -> None:
    """PUT /reset_password sets the new password."""
    response = requests.put(
        f"{URL}/reset_password",
        data={"email": email, "reset_token": reset_token, "new_password": new_password},
        timeout=TIMEOUT,
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == JSON
    assert response.json() == {"email": email, "message": "Password updated"}


def seed_main() -> dict[str, str]:
    """Run the seed's ``if __name__ == "__main__":`` block; return its secrets."""
    register_user(EMAIL, PASSWD)
    log_in_wrong_password(EMAIL, NEW_PASSWD)
    profile_unlogged()
    session_id = log_in(EMAIL, PASSWD)
    profile_logged(session_id)
    log_out(session_id)
    reset_token = reset_password_token(EMAIL)
    update_password(EMAIL, reset_token, NEW_PASSWD)
    last_session_id = log_in(EMAIL, NEW_PASSWD)
    return {"session_id": session_id, "reset_token": reset_token, "last": last_session_id}


# Each request seed_main() makes, in order, as the access log shows it.
SEED_MAIN_REQUESTS = [
    ("POST", "/users", "200"),
    ("POST", "/sessions", "401"),
    ("GET", "/profile", "403"),
    ("POST", "/sessions", "200"),
    ("GET", "/profile", "200"),
    ("DELETE", "/sessions", "303"),
    ("GET", "/", "200"),
    ("GET", "/profile", "403"),
    ("POST", "/reset_password", "200"),
    ("PUT", "/reset_password", "200"),
    ("POST", "/sessions", "200"),
]


# --- helpers ------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep every request on 127.0.0.1, whatever proxy the environment names."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("ALL_PROXY", raising=False)


@pytest.fixture
def seed_url(server: Server, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point the seed's functions at the running server."""
    monkeypatch.setitem(globals(), "URL", server.url)
    return server.url


ACCESS_LINE = re.compile(
    r".*? wsgiauth\.access (?P<method>[A-Z]+) (?P<path>.+) (?P<status>\d{3}) \d+(?:\.\d+)?ms"
)


def access_lines(log: str) -> list[tuple[str, str, str]]:
    """Return (method, path, status) of every access-log line, in order."""
    found = []
    for line in log.splitlines():
        if " wsgiauth.access " in line:
            match = ACCESS_LINE.fullmatch(line)
            assert match, f"malformed access-log line: {line!r}"
            found.append((match["method"], match["path"], match["status"]))
    return found


def payload_of(response: requests.Response) -> object:
    """Return the JSON body, or the text of a body that is not JSON (to show it)."""
    try:
        return response.json()
    except ValueError:
        return response.text


def count_users(db_url: str, email: str) -> int:
    """Count the rows of ``users`` with this email, straight from the database."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            query = text("SELECT COUNT(*) FROM users WHERE email = :email")
            return connection.execute(query, {"email": email}).scalar_one()
    finally:
        engine.dispose()


def load_serve() -> ModuleType:
    """Import ``serve.py`` from the repository root."""
    spec = importlib.util.spec_from_file_location("serve", ROOT / "serve.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- 1. the seed's end-to-end test ---------------------------------------------


def test_seed_task_20_main_against_the_real_server(seed_url: str, server: Server) -> None:
    seed_main()
    # After the flow: the old password is gone, the new one works, the
    # reset token was used up.
    response = requests.post(
        f"{seed_url}/sessions", data={"email": EMAIL, "password": PASSWD}, timeout=TIMEOUT
    )
    assert response.status_code == 401
    assert "Traceback" not in server.log()


def test_a_script_that_logs_out_after_the_reset_gets_403(seed_url: str) -> None:
    """The seed's order, log out then reset, passes; the other order does not.

    The seed leaves the session alive after a reset; here a reset ends it
    (SECURITY.md, "sessions"; docs/seed.md). A script that logs out after
    resetting finds its session already over.
    """
    register_user(EMAIL, PASSWD)
    session_id = log_in(EMAIL, PASSWD)
    update_password(EMAIL, reset_password_token(EMAIL), NEW_PASSWD)
    response = requests.delete(
        f"{seed_url}/sessions",
        cookies={"session_id": session_id},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert (response.status_code, response.json()) == (403, {"message": "not logged in"})


def test_seed_task_20_main_as_a_script(server: Server, tmp_path: Path) -> None:
    """The flow as the seed runs it: ``python main.py`` prints nothing, exits 0."""
    source = (
        "import requests\n"
        "import re, uuid\n"
        "from urllib.parse import urljoin\n"
        f"URL = {server.url!r}\n"
        "TIMEOUT = 10\n"
        f"JSON = {JSON!r}\n"
        f"UUID4 = re.compile({UUID4.pattern!r})\n"
    )
    for function in (
        register_user,
        log_in_wrong_password,
        log_in,
        profile_unlogged,
        profile_logged,
        log_out,
        reset_password_token,
        update_password,
    ):
        source += "\n\n" + _source_of(function)
    source += f"""

EMAIL = {EMAIL!r}
PASSWD = {PASSWD!r}
NEW_PASSWD = {NEW_PASSWD!r}
if __name__ == "__main__":
    register_user(EMAIL, PASSWD)
    log_in_wrong_password(EMAIL, NEW_PASSWD)
    profile_unlogged()
    session_id = log_in(EMAIL, PASSWD)
    profile_logged(session_id)
    log_out(session_id)
    reset_token = reset_password_token(EMAIL)
    update_password(EMAIL, reset_token, NEW_PASSWD)
    log_in(EMAIL, NEW_PASSWD)
"""
    (tmp_path / "main.py").write_text(source)
    done = subprocess.run(
        [sys.executable, "main.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def _source_of(function: Callable[..., object]) -> str:
    """Return the source of one of this module's functions."""
    return inspect.getsource(function)


# --- 2. the access log -----------------------------------------------------------


FORGED = "2026-01-01 00:00:00,000 INFO wsgiauth.access GET /forged 200 1.0ms"


def test_access_log_has_one_line_per_request_and_no_secret(seed_url: str, server: Server) -> None:
    secrets = seed_main()
    # The query string is not logged: it may carry a token.
    response = requests.get(
        f"{seed_url}/?reset_token={secrets['reset_token']}&password={PASSWD}", timeout=TIMEOUT
    )
    assert response.status_code == 200
    # A newline in the path must not start a forged line of its own.
    forged_path = "/x%0D%0A" + FORGED.replace(" ", "%20")
    response = requests.get(seed_url + forged_path, timeout=TIMEOUT)
    assert response.status_code == 404

    log = server.stop()

    logged = access_lines(log)
    assert logged[:-1] == [*SEED_MAIN_REQUESTS, ("GET", "/", "200")]
    method, path, status = logged[-1]
    assert (method, status) == ("GET", "404")
    assert path.startswith("/x") and path.endswith("/forged 200 1.0ms"), path
    assert "\n" not in path and "\r" not in path
    assert not any(line.startswith("2026-01-01") for line in log.splitlines())
    assert log.count("/forged") == 1
    for secret in (PASSWD, NEW_PASSWD, *secrets.values()):
        assert secret not in log
    assert "Traceback" not in log


# --- 3. the seed's curl sessions -------------------------------------------------


def curl(*args: str) -> tuple[int, dict[str, str], str]:
    """Run curl; return the status, the headers (lower-case names) and the body.

    Of a header sent twice (a login's Set-Cookie: the session's, then the
    device's), the first is kept.
    """
    done = subprocess.run(
        ["curl", "-sS", "-i", "--noproxy", "*", "--max-time", str(TIMEOUT), *args],
        capture_output=True,
        timeout=TIMEOUT + 10,
    )
    assert done.returncode == 0, done.stderr
    # Bytes, not text: text mode would turn the CRLFs of the head into LFs.
    head, _, body = done.stdout.decode("utf-8").partition("\r\n\r\n")
    while head.startswith("HTTP/1.1 100"):  # an interim "100 Continue"
        head, _, body = body.partition("\r\n\r\n")
    status_line, *header_lines = head.split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), value.strip())
    return int(status_line.split()[1]), headers, body


def curl_json(*args: str) -> tuple[int, object]:
    """Run curl; return the status and the JSON body (checking the content type)."""
    status, headers, body = curl(*args)
    assert headers["content-type"] == JSON, (status, headers, body)
    return status, json.loads(body)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not on PATH")
def test_seed_curl_sessions(server: Server) -> None:
    url = server.url
    # Task 7: register, then register again.
    register = [f"{url}/users", "-d", "email=bob@me.com", "-d", "password=mySuperPwd"]
    assert curl_json("-XPOST", *register) == (
        200,
        {"email": "bob@me.com", "message": "user created"},
    )
    assert curl_json("-XPOST", *register) == (400, {"message": "email already registered"})

    # Task 11: log in, then log in with the wrong password.
    assert curl_json(
        "-XPOST", f"{url}/users", "-d", "email=bob@bob.com", "-d", "password=mySuperPwd"
    ) == (200, {"email": "bob@bob.com", "message": "user created"})
    status, headers, body = curl(
        "-XPOST", f"{url}/sessions", "-d", "email=bob@bob.com", "-d", "password=mySuperPwd"
    )
    assert status == 200
    assert json.loads(body) == {"email": "bob@bob.com", "message": "logged in"}
    cookie = re.fullmatch(
        r"session_id=(?P<id>[^;]+); Max-Age=1209600; Path=/; HttpOnly; SameSite=Lax",
        headers["set-cookie"],
    )
    assert cookie, headers["set-cookie"]
    session_id = cookie["id"]
    assert UUID4.fullmatch(session_id)
    assert curl_json(
        "-XPOST", f"{url}/sessions", "-d", "email=bob@bob.com", "-d", "password=BlaBla"
    ) == (401, {"message": "wrong email or password"})

    # Task 15: the profile with the session, then with a bad one.
    assert curl_json("-XGET", f"{url}/profile", "-b", f"session_id={session_id}") == (
        200,
        {"email": "bob@bob.com"},
    )
    assert curl_json("-XGET", f"{url}/profile", "-b", "session_id=nope") == (
        403,
        {"message": "not logged in"},
    )

    # Log out (task 14), with curl as well.
    status, headers, _ = curl("-XDELETE", f"{url}/sessions", "-b", f"session_id={session_id}")
    assert (status, headers["location"]) == (303, "/")
    assert curl_json(f"{url}/profile", "-b", f"session_id={session_id}")[0] == 403

    # The same with multipart forms (curl -F).
    assert curl_json(f"{url}/users", "-F", "email=carol@me.com", "-F", "password=c4r0l") == (
        200,
        {"email": "carol@me.com", "message": "user created"},
    )
    assert curl_json(f"{url}/users", "-F", "email=carol@me.com", "-F", "password=other") == (
        400,
        {"message": "email already registered"},
    )
    assert curl_json(f"{url}/sessions", "-F", "email=carol@me.com", "-F", "password=c4r0l") == (
        200,
        {"email": "carol@me.com", "message": "logged in"},
    )
    assert curl_json(f"{url}/sessions", "-F", "email=carol@me.com", "-F", "password=nope")[0] == 401
    status, payload = curl_json(f"{url}/reset_password", "-F", "email=carol@me.com")
    assert status == 200
    assert isinstance(payload, dict) and set(payload) == {"email", "reset_token"}
    assert payload["email"] == "carol@me.com"
    token = payload["reset_token"]
    assert curl_json(
        "-XPUT",
        f"{url}/reset_password",
        "-F",
        "email=carol@me.com",
        "-F",
        f"reset_token={token}",
        "-F",
        "new_password=n3wPwd",
    ) == (200, {"email": "carol@me.com", "message": "Password updated"})
    assert curl_json(f"{url}/sessions", "-F", "email=carol@me.com", "-F", "password=n3wPwd") == (
        200,
        {"email": "carol@me.com", "message": "logged in"},
    )
    assert "Traceback" not in server.stop()


# --- 4. concurrency ----------------------------------------------------------------


CLIENTS = 32
FLOWS_PER_CLIENT = 10


def test_concurrent_clients_each_see_their_own_account(db_url: str) -> None:
    def client(number: int) -> list[tuple[object, ...]]:
        seen = []
        with requests.Session() as http:
            http.trust_env = False
            for flow in range(FLOWS_PER_CLIENT):
                email = f"user{number}-{flow}@example.com"
                password = f"pw-{number}-{flow}"
                form = {"email": email, "password": password}
                registered = http.post(f"{url}/users", data=form, timeout=TIMEOUT)
                logged_in = http.post(f"{url}/sessions", data=form, timeout=TIMEOUT)
                profile = http.get(f"{url}/profile", timeout=TIMEOUT)
                seen.append(
                    (
                        email,
                        registered.status_code,
                        payload_of(registered),
                        logged_in.status_code,
                        payload_of(logged_in),
                        profile.status_code,
                        payload_of(profile),
                    )
                )
        return seen

    with Server(db_url, "--threads", "8") as server:
        url = server.url
        with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
            results = [row for rows in pool.map(client, range(CLIENTS)) for row in rows]
        log = server.stop()

    expected = [
        (
            email,
            200,
            {"email": email, "message": "user created"},
            200,
            {"email": email, "message": "logged in"},
            200,
            {"email": email},
        )
        for email in (
            f"user{number}-{flow}@example.com"
            for number in range(CLIENTS)
            for flow in range(FLOWS_PER_CLIENT)
        )
    ]
    assert not [row for row in results if any(code >= 500 for code in row[1:7:2])]
    assert results == expected
    assert len(access_lines(log)) == CLIENTS * FLOWS_PER_CLIENT * 3
    assert "Traceback" not in log


RACERS = 48


def test_simultaneous_registrations_of_one_email_make_one_user(db_url: str) -> None:
    email = "race@example.com"
    barrier = threading.Barrier(RACERS)

    def racer(number: int) -> tuple[int, object]:
        form = {"email": email, "password": f"pw-{number}"}
        with requests.Session() as http:
            http.trust_env = False
            barrier.wait(timeout=TIMEOUT)
            response = http.post(f"{url}/users", data=form, timeout=TIMEOUT)
            return response.status_code, payload_of(response)

    with Server(db_url, "--threads", "8") as server:
        url = server.url
        with ThreadPoolExecutor(max_workers=RACERS) as pool:
            answers = list(pool.map(racer, range(RACERS)))

        assert Counter(status for status, _ in answers) == {200: 1, 400: RACERS - 1}
        winner = next(number for number, (status, _) in enumerate(answers) if status == 200)
        assert answers[winner][1] == {"email": email, "message": "user created"}
        assert all(
            payload == {"message": "email already registered"}
            for status, payload in answers
            if status == 400
        )
        # The one row is the winner's: its password logs in, a loser's does not.
        loser = (winner + 1) % RACERS
        with requests.Session() as http:
            http.trust_env = False
            good = {"email": email, "password": f"pw-{winner}"}
            bad = {"email": email, "password": f"pw-{loser}"}
            assert http.post(f"{url}/sessions", data=good, timeout=TIMEOUT).status_code == 200
            assert http.post(f"{url}/sessions", data=bad, timeout=TIMEOUT).status_code == 401
        log = server.stop()

    assert count_users(db_url, email) == 1
    assert "Traceback" not in log
    # The queue filter lets at most one "Task queue depth" line through in a
    # burst this short (its interval is 10 s).
    assert log.count("Task queue depth") <= 1


# --- 5. restart ----------------------------------------------------------------------


def test_restart_keeps_users_sessions_and_reset_tokens(
    db_url: str, seed_url: str, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    register_user(EMAIL, PASSWD)
    session_id = log_in(EMAIL, PASSWD)
    reset_token = reset_password_token(EMAIL)
    assert "Traceback" not in server.stop()

    with Server(db_url) as restarted:
        monkeypatch.setitem(globals(), "URL", restarted.url)
        profile_logged(session_id)  # the old cookie, before any new login
        # The reset token too; it is used before any login, which would end it.
        update_password(EMAIL, reset_token, NEW_PASSWD)
        # The reset ended the session.
        ended = requests.get(
            f"{restarted.url}/profile", cookies={"session_id": session_id}, timeout=TIMEOUT
        )
        assert ended.status_code == 403
        second_session_id = log_in(EMAIL, NEW_PASSWD)
        assert second_session_id != session_id
        profile_logged(second_session_id)
        old = requests.post(
            f"{restarted.url}/sessions", data={"email": EMAIL, "password": PASSWD}, timeout=TIMEOUT
        )
        assert old.status_code == 401
        log = restarted.stop()
    assert "Traceback" not in log


# --- 5b. the reset link: its token out of the URL, and over at the next login -------------


def test_a_reset_link_moves_its_token_into_a_cookie_and_redirects(server: Server) -> None:
    """A browser's GET with a token: 303 to the URL without it, the token in a cookie.

    Then the token is in no URL a log, a proxy or the history keeps after
    that first request; the new-password form reads it from the cookie.
    """
    url = server.url
    browser = {"Accept": CHROME, "Sec-Fetch-Site": "same-origin"}
    form = {"email": EMAIL, "password": PASSWD}
    assert requests.post(f"{url}/users", data=form, timeout=TIMEOUT).status_code == 200
    asked = requests.post(f"{url}/reset_password", data={"email": EMAIL}, timeout=TIMEOUT)
    token = asked.json()["reset_token"]
    link = f"{url}/reset_password?reset_token={token}"
    opened = requests.get(
        link,
        headers={**browser, "Sec-Fetch-Site": "cross-site"},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert opened.status_code == 303, opened.text
    assert opened.headers["Location"] == "/reset_password"
    assert opened.headers["Set-Cookie"] == (
        f"reset_token={token}; Max-Age=3600; Path=/reset_password; HttpOnly; SameSite=Lax"
    )
    assert token not in opened.text
    # The clean URL, with the cookie: the form for this account, no token in it.
    cookies = {"reset_token": token}
    shown = requests.get(f"{url}/reset_password", headers=browser, cookies=cookies, timeout=TIMEOUT)
    assert shown.status_code == 200
    assert EMAIL in shown.text and token not in shown.text
    # The form posts no token: the cookie carries it, and is removed after use.
    done = requests.post(
        f"{url}/reset_password",
        data={"_method": "PUT", "email": EMAIL, "new_password": NEW_PASSWD},
        headers=browser,
        cookies=cookies,
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert (done.status_code, done.headers["Location"]) == (303, "/sessions?done=password_updated")
    assert done.headers["Set-Cookie"] == (
        "reset_token=; Max-Age=0; Path=/reset_password; HttpOnly; SameSite=Lax"
    )
    # The same link again says, on arrival, that it is used up.
    again = requests.get(link, headers=browser, allow_redirects=False, timeout=TIMEOUT)
    assert again.status_code == 403
    assert "This link has expired or has been used" in again.text
    # The API is as it was, for curl: PUT with the reset_token field.
    token = requests.post(f"{url}/reset_password", data={"email": EMAIL}, timeout=TIMEOUT).json()[
        "reset_token"
    ]
    form = {"email": EMAIL, "reset_token": token, "new_password": PASSWD}
    assert requests.put(f"{url}/reset_password", data=form, timeout=TIMEOUT).status_code == 200
    log = server.stop()
    assert token not in log and "Traceback" not in log


def test_a_login_ends_the_pending_reset_token(server: Server) -> None:
    """A token read out of a log, or a forgotten mail, stops working once the owner logs in."""
    url = server.url
    form = {"email": EMAIL, "password": PASSWD}
    assert requests.post(f"{url}/users", data=form, timeout=TIMEOUT).status_code == 200
    asked = requests.post(f"{url}/reset_password", data={"email": EMAIL}, timeout=TIMEOUT)
    token = asked.json()["reset_token"]
    assert requests.post(f"{url}/sessions", data=form, timeout=TIMEOUT).status_code == 200
    stolen = {"email": EMAIL, "reset_token": token, "new_password": "the thief's"}
    used = requests.put(f"{url}/reset_password", data=stolen, timeout=TIMEOUT)
    assert (used.status_code, used.json()) == (403, {"message": "invalid or expired reset token"})
    assert requests.post(f"{url}/sessions", data=form, timeout=TIMEOUT).status_code == 200


# --- 6. SIGTERM and Ctrl-C -------------------------------------------------------------


@contextlib.contextmanager
def sigint_not_ignored() -> Iterator[None]:
    """Let children see SIGINT even if this process was started ignoring it.

    A process started in the background by a non-interactive shell ignores
    SIGINT, and its children inherit that; a handler of our own is reset to
    the default at exec, so Python in the child turns SIGINT into
    KeyboardInterrupt as it would at a terminal.
    """
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def test_sigterm_stops_cleanly(server: Server) -> None:
    assert requests.get(f"{server.url}/", timeout=TIMEOUT).status_code == 200
    log = server.stop()
    assert server.process.returncode == 0
    assert "Traceback" not in log
    assert log.rstrip().endswith("INFO wsgiauth stopped")


def test_ctrl_c_stops_cleanly(db_url: str) -> None:
    with sigint_not_ignored():
        started = Server(db_url)
    try:
        assert requests.get(f"{started.url}/", timeout=TIMEOUT).status_code == 200
        started.process.send_signal(signal.SIGINT)
        returncode = started.process.wait(timeout=30)
    finally:
        if started.process.poll() is None:
            started.kill()
    time.sleep(0.1)  # let the log reader take the last lines
    log = started.log()
    assert returncode == 0, log
    assert "Traceback" not in log
    assert "KeyboardInterrupt" not in log
    assert log.rstrip().endswith("INFO wsgiauth stopped")


# --- 7. uploads too big ------------------------------------------------------------------


def test_huge_upload_is_cut_off_and_the_server_keeps_serving(server: Server) -> None:
    url = server.url
    huge = requests.post(
        f"{url}/users",
        data={"email": "big@example.com", "password": "x" * (2 * 1024 * 1024)},
        timeout=TIMEOUT,
    )
    # waitress's own answer, before the app sees the request.
    assert huge.status_code == 413
    assert huge.headers["Content-Type"].startswith("text/plain")
    assert "(generated by waitress)" in huge.text

    large = requests.post(
        f"{url}/users",
        data={"email": "big@example.com", "password": "x" * (100 * 1024)},
        timeout=TIMEOUT,
    )
    # The app's JSON answer, judged from Content-Length.
    assert large.status_code == 413
    assert large.headers["Content-Type"] == JSON
    assert large.json() == {"message": "request body over 65536 bytes"}

    assert requests.get(f"{url}/", timeout=TIMEOUT).json() == {"message": "Bienvenue"}
    # Neither upload created the account.
    response = requests.post(
        f"{url}/users", data={"email": "big@example.com", "password": "small"}, timeout=TIMEOUT
    )
    assert (response.status_code, response.json()) == (
        200,
        {"email": "big@example.com", "message": "user created"},
    )
    log = server.stop()
    assert "Traceback" not in log
    assert ("POST", "/users", "413") in access_lines(log)


# --- 8. a bad setting at start-up -----------------------------------------------------------


@pytest.mark.parametrize("rounds", ["abc", "3", "32"])
def test_serve_refuses_a_bad_bcrypt_rounds(
    db_url: str, rounds: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WSGIAUTH_BCRYPT_ROUNDS", rounds)
    monkeypatch.setenv("WSGIAUTH_DATABASE_URL", db_url)
    done = subprocess.run(
        [sys.executable, str(ROOT / "serve.py"), "--port", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2, done.stderr
    assert "WSGIAUTH_BCRYPT_ROUNDS" in done.stderr
    assert repr(rounds) in done.stderr
    assert "Traceback" not in done.stderr
    assert "Serving on" not in done.stderr + done.stdout


@pytest.mark.parametrize(
    "how",
    [pytest.param(["--production"], id="flag"), pytest.param([], id="WSGIAUTH_MODE")],
)
def test_serve_refuses_production_without_mail_settings(
    db_url: str, how: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WSGIAUTH_DATABASE_URL", db_url)
    monkeypatch.delenv("WSGIAUTH_SMTP_HOST", raising=False)
    monkeypatch.delenv("WSGIAUTH_MAIL_FROM", raising=False)
    if how:
        monkeypatch.delenv("WSGIAUTH_MODE", raising=False)
    else:
        monkeypatch.setenv("WSGIAUTH_MODE", "production")
    done = subprocess.run(
        [sys.executable, str(ROOT / "serve.py"), "--port", "0", *how],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2, done.stderr
    assert "WSGIAUTH_SMTP_HOST" in done.stderr
    assert "WSGIAUTH_MAIL_FROM" in done.stderr
    assert "Traceback" not in done.stderr
    assert "Serving on" not in done.stderr + done.stdout


# --- 9. the login throttle across processes -------------------------------------------------


def test_the_login_throttle_holds_across_two_processes(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The defaults, set explicitly so that the test does not depend on them.
    monkeypatch.setenv("WSGIAUTH_LOGIN_FAILURE_LIMIT", "10")
    monkeypatch.setenv("WSGIAUTH_LOGIN_FAILURE_WINDOW", "900")
    good = {"email": EMAIL, "password": PASSWD}
    bad = {"email": EMAIL, "password": NEW_PASSWD}
    with Server(db_url) as first, Server(db_url) as second:
        urls = [first.url, second.url]
        with requests.Session() as http:
            http.trust_env = False
            registered = http.post(f"{first.url}/users", data=good, timeout=TIMEOUT)
            assert registered.status_code == 200
            for attempt in range(10):
                failed = http.post(f"{urls[attempt % 2]}/sessions", data=bad, timeout=TIMEOUT)
                assert failed.status_code == 401, (attempt, payload_of(failed))
            # The 11th attempt, on either process, even with the right password.
            for url in urls:
                for form in (good, bad):
                    refused = http.post(f"{url}/sessions", data=form, timeout=TIMEOUT)
                    assert refused.status_code == 429, payload_of(refused)
                    assert refused.headers["Content-Type"] == JSON
                    assert "Set-Cookie" not in refused.headers
                    retry_after = refused.headers["Retry-After"]
                    assert retry_after.isdigit(), retry_after
                    assert 1 <= int(retry_after) <= 900
            # Another account is not affected.
            other = {"email": "other@example.com", "password": "0th3r"}
            assert http.post(f"{second.url}/users", data=other, timeout=TIMEOUT).ok
            assert http.post(f"{second.url}/sessions", data=other, timeout=TIMEOUT).ok
        logs = [first.stop(), second.stop()]
    for log in logs:
        assert "Traceback" not in log
        assert ("POST", "/sessions", "429") in access_lines(log)


# --- 10. the "Task queue depth" filter --------------------------------------------------------


class Collect(logging.Handler):
    """Keep every record that reaches the handler."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_queue_warning_filter_lets_one_through_per_interval() -> None:
    serve = load_serve()
    from waitress.utilities import queue_logger

    # serve.main() filters the logger waitress really warns on.
    assert queue_logger.name == "waitress.queue"
    assert serve.QUEUE_WARNING_INTERVAL_SECONDS == 10.0

    interval = 0.2
    logger = logging.getLogger("test_serve.queue")
    logger.propagate = False
    logger.setLevel(logging.WARNING)
    collect = Collect()
    logger.addHandler(collect)
    logger.addFilter(serve.EveryFewSeconds(interval))
    try:
        for depth in range(1, 101):
            logger.warning("Task queue depth is %d", depth)
        assert [r.getMessage() for r in collect.records] == ["Task queue depth is 1"]

        time.sleep(interval * 1.5)
        logger.warning("Task queue depth is %d", 7)
        logger.warning("Task queue depth is %d", 8)  # inside the new interval
        assert [r.getMessage() for r in collect.records[1:]] == [
            "Task queue depth is 7 (99 such warnings not shown)"
        ]

        time.sleep(interval * 1.5)
        logger.warning("Task queue depth is %d", 9)
        assert [r.getMessage() for r in collect.records[2:]] == [
            "Task queue depth is 9 (1 such warnings not shown)"
        ]

        time.sleep(interval * 1.5)
        logger.warning("Task queue depth is %d", 10)  # nothing dropped: no note
        assert [r.getMessage() for r in collect.records[3:]] == ["Task queue depth is 10"]
    finally:
        logger.removeHandler(collect)
        logger.filters.clear()


def test_a_busy_port_is_one_line_and_a_non_zero_exit(db_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, str(ROOT / "serve.py"), "--port", str(port)],
            cwd=ROOT,
            env={**os.environ, "WSGIAUTH_DATABASE_URL": db_url},
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert f"port {port} on 127.0.0.1 is in use" in line
    assert "--port" in line


def test_the_log_handler_batches_lines_but_flushes_warnings_at_once(tmp_path: Path) -> None:
    # serve.py's log handler: an info line (the access log's) waits in the
    # buffer for the flushing thread or close(); a warning goes out at once.
    serve = load_serve()
    path = tmp_path / "log"
    with path.open("w") as stream:
        handler = serve.BatchedStreamHandler(stream, interval=3600)
        logger = logging.getLogger("test_serve.batched")
        logger.propagate = False
        logger.setLevel(logging.INFO)
        logger.addHandler(handler)
        try:
            logger.warning("first")
            assert path.read_text() == "first\n"
            logger.warning("second %s", "line")
            logger.info("an access line")  # no flush yet: the thread waits an hour
            assert path.read_text() == "first\nsecond line\n"
            handler.close()  # as logging.shutdown() does at exit
            assert path.read_text() == "first\nsecond line\nan access line\n"
        finally:
            logger.removeHandler(handler)


# --- 11. under attack (SECURITY.md) --------------------------------------------------------------


def log_in_until(url: str, form: dict[str, str], done: threading.Event) -> list[str]:
    """Log in with ``form`` until ``done`` is set; return the session id of each success."""
    sessions = []
    with requests.Session() as http:
        while not done.is_set():
            answer = http.post(f"{url}/sessions", data=form, timeout=TIMEOUT)
            if answer.status_code == 200:
                sessions.append(answer.cookies["session_id"])
    return sessions


def test_a_reset_evicts_the_logins_in_flight(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Once the reset's answer is out, the old password has no session (SECURITY.md).

    Three clients start logins with the old password as the owner resets
    it, and loop. A login that read the old hash before the reset and
    finished bcrypt after it must not store its session: the cost of 10
    (~60 ms a check) makes that window real, and three trials make it near
    certain to be hit.

    A login that succeeds ends the reset token pending (SECURITY.md, "the
    reset link"): a trial whose token a login ended first is tried again on
    a new account. While logins keep coming, no reset asked later gets
    through (test_a_login_loop_keeps_every_later_reset_out).
    """
    monkeypatch.setenv("WSGIAUTH_BCRYPT_ROUNDS", "10")
    monkeypatch.setenv("WSGIAUTH_BCRYPT_SLOTS", "8")  # no 503s here: the slots are not under test
    monkeypatch.setenv("WSGIAUTH_LOGIN_FAILURE_LIMIT", "1000")
    alive, trials, tries = [], 0, 0
    with Server(db_url, "--threads", "8") as server, ThreadPoolExecutor(3) as pool:
        url = server.url
        while trials < 3:
            tries += 1
            assert tries <= 30, f"{tries} tries for {trials} resets"
            email = f"owner{tries}@example.com"
            old = {"email": email, "password": PASSWD}
            assert requests.post(f"{url}/users", data=old, timeout=TIMEOUT).status_code == 200
            asked = requests.post(f"{url}/reset_password", data={"email": email}, timeout=TIMEOUT)
            form = {"email": email, "reset_token": asked.json()["reset_token"]}
            form["new_password"] = NEW_PASSWD
            reset_done = threading.Event()
            clients = [pool.submit(log_in_until, url, old, reset_done) for _ in range(3)]
            try:
                answer = requests.put(f"{url}/reset_password", data=form, timeout=TIMEOUT)
            finally:
                reset_done.set()  # the answer is out; the logins in flight finish now
            sessions = [session_id for client in clients for session_id in client.result()]
            if answer.status_code == 403:
                continue  # a login ended the token before the reset used it
            assert answer.status_code == 200, payload_of(answer)
            trials += 1
            for session_id in sessions:
                profile = requests.get(
                    f"{url}/profile", cookies={"session_id": session_id}, timeout=TIMEOUT
                )
                if profile.status_code != 403:
                    alive.append((tries, session_id))
    assert alive == [], f"{len(alive)} sessions of the old password outlived the reset"


def test_a_login_loop_keeps_every_later_reset_out(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The price of ending a reset token at each login (SECURITY.md, "the reset link").

    Someone who knows the password and logs in without pause ends every
    token the owner asks for before the owner can use it: 20 of 20 here,
    with three clients at cost 4.
    """
    monkeypatch.setenv("WSGIAUTH_LOGIN_FAILURE_LIMIT", "1000")
    monkeypatch.setenv("WSGIAUTH_RESET_REQUEST_LIMIT", "1000")
    with Server(db_url, "--threads", "8") as server, ThreadPoolExecutor(3) as pool:
        url = server.url
        old = {"email": EMAIL, "password": PASSWD}
        assert requests.post(f"{url}/users", data=old, timeout=TIMEOUT).status_code == 200
        looping = threading.Event()
        clients = [pool.submit(log_in_until, url, old, looping) for _ in range(3)]
        statuses = Counter()
        try:
            time.sleep(0.3)
            for _ in range(20):
                asked = requests.post(
                    f"{url}/reset_password", data={"email": EMAIL}, timeout=TIMEOUT
                )
                time.sleep(0.1)  # a person takes seconds to open the mail and type
                form = {"email": EMAIL, "reset_token": asked.json()["reset_token"]}
                form["new_password"] = NEW_PASSWD
                statuses[
                    requests.put(f"{url}/reset_password", data=form, timeout=TIMEOUT).status_code
                ] += 1
        finally:
            looping.set()
        assert all(client.result() for client in clients)
    assert statuses == {403: 20}


def test_a_login_flood_gets_503s_and_leaves_cheap_requests_served(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """bcrypt past its slots is refused at once, not queued (SECURITY.md, "a flood of logins").

    One slot and six clients flooding logins at cost 10: some logins get
    503 with ``Retry-After`` instead of waiting for the slot, and
    ``GET /profile`` keeps answering 200 all along. Statuses, not timings.
    """
    monkeypatch.setenv("WSGIAUTH_BCRYPT_ROUNDS", "10")
    monkeypatch.setenv("WSGIAUTH_BCRYPT_SLOTS", "1")
    monkeypatch.setenv("WSGIAUTH_LOGIN_FAILURE_LIMIT", "1000")
    form = {"email": EMAIL, "password": PASSWD}

    def flood(number: int) -> list[tuple[int, str | None]]:
        """Post logins, right and unknown, and note each status and Retry-After."""
        seen = []
        with requests.Session() as http:
            for attempt in range(4):
                data = form if attempt % 2 else {**form, "email": f"nobody{number}@example.com"}
                answer = http.post(f"{url}/sessions", data=data, timeout=TIMEOUT)
                seen.append((answer.status_code, answer.headers.get("Retry-After")))
        return seen

    with Server(db_url, "--threads", "8") as server, ThreadPoolExecutor(6) as pool:
        url = server.url
        assert requests.post(f"{url}/users", data=form, timeout=TIMEOUT).status_code == 200
        # Another account reads its profile: a login to EMAIL replaces EMAIL's session.
        watcher = {"email": "watcher@example.com", "password": PASSWD}
        assert requests.post(f"{url}/users", data=watcher, timeout=TIMEOUT).status_code == 200
        session_id = requests.post(f"{url}/sessions", data=watcher, timeout=TIMEOUT).cookies[
            "session_id"
        ]
        flooders = [pool.submit(flood, number) for number in range(6)]
        profiles = []
        while not all(flooder.done() for flooder in flooders):
            answer = requests.get(
                f"{url}/profile", cookies={"session_id": session_id}, timeout=TIMEOUT
            )
            profiles.append(answer.status_code)
        seen = Counter(status for flooder in flooders for status in flooder.result())
    assert set(profiles) == {200}, Counter(profiles)
    assert set(seen) <= {(200, None), (401, None), (503, "1")}, seen
    assert seen[(503, "1")] > 0, seen
    assert seen[(200, None)] + seen[(401, None)] > 0, seen


def test_idle_half_sent_requests_do_not_lock_others_out(server: Server) -> None:
    """Slowloris: 300 idle half-sent requests, and ``GET /`` still answers (SECURITY.md).

    waitress's default connection limit is 100, with a channel timeout of
    120 s: 98 such connections were enough to make it stop accepting.
    """
    host, port = server.url.removeprefix("http://").split(":")
    with contextlib.ExitStack() as stack:
        for _ in range(300):
            idle = stack.enter_context(socket.create_connection((host, int(port)), timeout=5))
            idle.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        time.sleep(0.3)  # let waitress accept them all
        # Without the fix, the server does not accept this one: it would hang.
        answer = requests.get(f"{server.url}/", timeout=(1, 1))
        assert answer.status_code == 200


@pytest.mark.parametrize(
    ("soft", "hard", "allowed", "soft_after"),
    [
        pytest.param(256, 4096, 900, 1000, id="soft-limit-raised"),
        pytest.param(300, 300, 200, 300, id="hard-limit-lowers-the-connections"),
    ],
)
def test_the_connection_limit_fits_the_open_file_limit(
    soft: int, hard: int, allowed: int, soft_after: int
) -> None:
    # In a child process: the limits it sets are its own.
    code = (
        "import logging, resource, serve; logging.basicConfig();"
        f"resource.setrlimit(resource.RLIMIT_NOFILE, ({soft}, {hard}));"
        "print(serve.connection_limit(), resource.getrlimit(resource.RLIMIT_NOFILE)[0])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(allowed), str(soft_after)]
    assert ("200 connections at once, not 900" in done.stderr) == (allowed < 900)


@pytest.mark.parametrize(
    ("threads", "slots", "warned"),
    [
        pytest.param(4, 2, False, id="default-on-two-cores"),
        pytest.param(4, 3, True, id="default-on-three-cores"),
        pytest.param(10, 8, False, id="enough"),
        pytest.param(3, 2, True, id="too-few"),
    ],
)
def test_too_few_threads_for_the_bcrypt_slots_are_warned_about(
    threads: int, slots: int, warned: bool, caplog: pytest.LogCaptureFixture
) -> None:
    serve = load_serve()
    with caplog.at_level(logging.WARNING, logger="wsgiauth"):
        serve.warn_if_too_few_threads(threads, slots)
    assert (f"use --threads {slots + 2} or more" in caplog.text) == warned


@pytest.mark.parametrize("threads", ["0", "-2", "four", ""])
def test_threads_below_one_are_refused_at_the_command_line(threads: str) -> None:
    serve = load_serve()
    with pytest.raises(SystemExit):
        serve.parse_args(["--threads", threads])


def test_serve_warns_about_too_few_threads_for_the_bcrypt_slots(db_url: str) -> None:
    # A request waiting for a bcrypt slot holds a worker thread: with 6
    # slots, the default 4 threads could all be held by waiting logins.
    with Server(db_url, env={"WSGIAUTH_BCRYPT_SLOTS": "6"}) as server:
        log = server.stop()
    assert "WARNING wsgiauth 4 worker threads: with 6 bcrypt slots" in log, log
    assert "use --threads 8 or more" in log, log
    assert "INFO wsgiauth development mode, 4 worker threads" in log, log
    with Server(db_url, "--threads", "8", env={"WSGIAUTH_BCRYPT_SLOTS": "6"}) as server:
        log = server.stop()
    assert "WARNING" not in log, log
    assert "development mode, 8 worker threads" in log, log


# --- 12. the account under attack (SECURITY.md, "account changes") ------------------------------


def logged_in(url: str, email: str, password: str = PASSWD) -> dict[str, str]:
    """Register ``email`` and log in; return the session cookie."""
    form = {"email": email, "password": password}
    assert requests.post(f"{url}/users", data=form, timeout=TIMEOUT).status_code == 200
    answer = requests.post(f"{url}/sessions", data=form, timeout=TIMEOUT)
    assert answer.status_code == 200
    return {"session_id": answer.cookies["session_id"]}


def test_a_stolen_session_alone_changes_nothing_and_guesses_like_a_login_form(
    server: Server,
) -> None:
    # The thief has Bob's cookie (a computer left logged in), not his password.
    url, stolen = server.url, logged_in(server.url, EMAIL)
    changes = [
        ("PUT", "/profile/password", {"new_password": "thief's"}),
        ("POST", "/profile/email", {"email": "thief@example.com"}),
        ("DELETE", "/profile", {}),
    ]
    statuses = Counter()
    for method, path, form in changes:
        answer = requests.request(
            method, f"{url}{path}", data=form, cookies=stolen, timeout=TIMEOUT
        )
        statuses[answer.status_code] += 1  # 400: the password is required
        for guess in range(3):
            guessed = {**form, "password": f"guess {guess}"}
            answer = requests.request(
                method, f"{url}{path}", data=guessed, cookies=stolen, timeout=TIMEOUT
            )
            statuses[answer.status_code] += 1
    # Nine guesses, then the login throttle's limit of 10 holds here as at the form.
    assert statuses == Counter({400: 3, 401: 9})
    guessed = {"password": "guess 9", "new_password": "thief's"}
    answer = requests.put(f"{url}/profile/password", data=guessed, cookies=stolen, timeout=TIMEOUT)
    assert answer.status_code == 401
    answer = requests.put(f"{url}/profile/password", data=guessed, cookies=stolen, timeout=TIMEOUT)
    assert (answer.status_code, answer.headers["Retry-After"]) == (429, "900")
    profile = requests.get(f"{url}/profile", cookies=stolen, timeout=TIMEOUT)
    assert profile.json() == {"email": EMAIL}


def test_a_new_password_logs_the_thief_out(server: Server) -> None:
    url, bob = server.url, logged_in(server.url, EMAIL)
    thief = dict(bob)  # the same cookie, copied
    form = {"password": PASSWD, "new_password": NEW_PASSWD}
    answer = requests.put(f"{url}/profile/password", data=form, cookies=bob, timeout=TIMEOUT)
    assert answer.status_code == 200
    bob = {"session_id": answer.cookies["session_id"]}
    assert requests.get(f"{url}/profile", cookies=thief, timeout=TIMEOUT).status_code == 403
    assert requests.get(f"{url}/profile", cookies=bob, timeout=TIMEOUT).json() == {"email": EMAIL}


def test_an_email_token_works_only_with_the_session_that_asked(server: Server) -> None:
    # Eve gets hold of Bob's token (a mail forwarded, a link seen over a
    # shoulder): with her own session, or none, it changes nothing.
    url = server.url
    bob, eve = logged_in(url, EMAIL), logged_in(url, "eve@example.com")
    form = {"email": "bob@new.example", "password": PASSWD}
    answer = requests.post(f"{url}/profile/email", data=form, cookies=bob, timeout=TIMEOUT)
    token = {"email_token": answer.json()["email_token"]}
    for cookies in (eve, {}, {"session_id": str(uuid.uuid4())}):
        answer = requests.put(f"{url}/profile/email", data=token, cookies=cookies, timeout=TIMEOUT)
        assert answer.status_code == 403, answer.text
    assert requests.get(f"{url}/profile", cookies=eve, timeout=TIMEOUT).json() == {
        "email": "eve@example.com"
    }
    answer = requests.put(f"{url}/profile/email", data=token, cookies=bob, timeout=TIMEOUT)
    assert answer.json() == {"email": "bob@new.example", "message": "email updated"}


def test_another_site_cannot_delete_the_account_with_the_victims_cookie(server: Server) -> None:
    # Even knowing the password (a login CSRF's page could hold it), another
    # site's form is refused before its body is read (SECURITY.md, "cross-site requests").
    url, bob = server.url, logged_in(server.url, EMAIL)
    for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "http://127.0.0.2:8000"}):
        answer = requests.post(
            f"{url}/profile",
            data={"_method": "DELETE", "password": PASSWD},
            cookies=bob,
            headers={"Accept": "text/html", **headers},
            timeout=TIMEOUT,
        )
        assert (answer.status_code, answer.json()) == (
            403,
            {"message": "cross-site request refused"},
        )
    assert requests.get(f"{url}/profile", cookies=bob, timeout=TIMEOUT).json() == {"email": EMAIL}
