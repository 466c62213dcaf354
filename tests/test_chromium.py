"""The pages in a real browser: Debian's Chromium, driven by Playwright, JavaScript off.

One test goes through every flow a person has, on a real ``serve.py``, the
way a person would: typing into the forms and pressing their buttons, from
registering to changing the password and the email and deleting the account;
another turns two-factor login on and logs in with a code. On the
way it checks what only a browser can tell: the session cookie as the
browser stored it (``HttpOnly``, ``SameSite=Lax``), that a page of another
site cannot log the victim out nor log them in to another account, and that
the pages load nothing but themselves.

The other site is a small ``http.server`` on 127.0.0.2. For a browser that
is another site than 127.0.0.1 (a site is the scheme and the host, and an IP
address is a host of its own), so its forms arrive with
``Sec-Fetch-Site: cross-site`` and ``Origin: http://127.0.0.2:<port>``.

Playwright's own browser download cannot be reached here, so it drives
``/usr/bin/chromium`` (``apt-get install chromium``). Without it, or without
the ``playwright`` package, the test is skipped; with ``CI=true`` it fails.

Set ``WSGIAUTH_SCREENSHOTS`` to a directory to keep a screenshot of each page
there (``docs/screenshots`` holds the ones the README shows).
"""

import os
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from conftest import Server, unavailable

from wsgiauth import totp

CHROMIUM = Path("/usr/bin/chromium")
# Headless, and nothing the browser would do on its own: no update checks,
# no sync, no QUIC, no first-run pages; --no-sandbox because CI runs as root.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1024, "height": 720}
TIMEOUT_MS = 15_000

EMAIL = "bob@example.com"
PASSWORD = "MyPwdOfBob"
NEW_PASSWORD = "t4rt1fl3tt3"
THIRD_PASSWORD = "b3tt3r-0n3"
NEW_EMAIL = "robert@example.com"
ATTACKER_EMAIL = "eve@example.com"
ATTACKER_PASSWORD = "EvesPwd"


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """A fresh Chromium profile with JavaScript off, as a Playwright context."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed (pip install playwright)")
    if not CHROMIUM.exists():
        unavailable("chromium is not installed (apt-get install chromium)")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            java_script_enabled=False,
            viewport=PHONE,
        )
        context.set_default_timeout(TIMEOUT_MS)
        try:
            yield context
        finally:
            context.close()


def other_site(service: str) -> tuple[ThreadingHTTPServer, str]:
    """Serve, on 127.0.0.2, a page with two forms aimed at ``service``.

    One would log the visitor out (``_method=DELETE``); the other would log
    them in to the attacker's account (login CSRF), so that what they do
    next is recorded there. Returns the server and the page's URL.
    """
    page = f"""<!DOCTYPE html>
<html><head><title>Win a prize</title></head><body>
<form method="post" action="{service}/sessions">
<input type="hidden" name="_method" value="DELETE">
<button id="logout">Claim your prize</button>
</form>
<form method="post" action="{service}/sessions">
<input type="hidden" name="email" value="{ATTACKER_EMAIL}">
<input type="hidden" name="password" value="{ATTACKER_PASSWORD}">
<button id="login">Claim another prize</button>
</form>
</body></html>
"""
    return serve_page(page)


def serve_page(html: str) -> tuple[ThreadingHTTPServer, str]:
    """Serve ``html`` on 127.0.0.2, another site: return the server and the page's URL."""
    page = html.encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.2", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.2:{server.server_address[1]}/"


class Visit:
    """One tab, with what it has loaded and what the browser complained about."""

    def __init__(self, context: Any, service: str, shots: Path | None) -> None:
        self.page = context.new_page()
        self.service = service
        self.shots = shots
        self.requests: list[str] = []
        self.console: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("console", lambda message: self.console.append(message.text))

    def go(self, path: str) -> int:
        """Open ``path`` of the service, as if typed in the address bar; return the status."""
        response = self.page.goto(self.service + path)
        assert response is not None
        return int(response.status)

    def press(self, button: str) -> int:
        """Press a button by its text and wait for the page it leads to; return its status.

        After a 303, the status is that of the page redirected to.
        """
        with self.page.expect_navigation() as navigation:
            self.page.get_by_role("button", name=button).click()
        return int(navigation.value.status)

    def fill(self, label: str, value: str, form: str = "") -> None:
        """Type ``value`` into the input labelled ``label`` (in ``form``, by its action)."""
        scope = self.page.locator(f'form[action="{form}"]') if form else self.page
        scope.get_by_label(label, exact=True).fill(value)

    def text(self) -> str:
        """Return the page's visible text."""
        return str(self.page.locator("body").inner_text())

    def path(self) -> str:
        """Return the path (and query) of the page shown."""
        return str(self.page.url).removeprefix(self.service)

    def shoot(self, name: str, size: dict[str, int] = PHONE) -> None:
        """Check the page fits ``size`` without sideways scrolling; keep a screenshot."""
        self.page.set_viewport_size(size)
        box = self.page.locator("main").bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= size["width"]
        if self.shots is not None:
            self.page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)
        self.page.set_viewport_size(PHONE)


def reset_cookie(context: Any) -> dict[str, Any] | None:
    """Return the reset-token cookie as the browser keeps it, or ``None``."""
    cookies = [cookie for cookie in context.cookies() if cookie["name"] == "reset_token"]
    assert len(cookies) <= 1, cookies
    return cookies[0] if cookies else None


def session_cookie(context: Any) -> dict[str, Any] | None:
    """Return the session cookie as the browser keeps it, or ``None``."""
    cookies = [cookie for cookie in context.cookies() if cookie["name"] == "session_id"]
    assert len(cookies) <= 1, cookies
    return cookies[0] if cookies else None


def device_cookies(context: Any) -> list[dict[str, Any]]:
    """Return the device cookies as the browser keeps them, one per path, in path order."""
    cookies = [cookie for cookie in context.cookies() if cookie["name"] == "device"]
    return sorted(cookies, key=lambda cookie: cookie["path"])


def test_every_flow_in_chromium_with_javascript_off(browser, sqlite_url):
    shots_dir = os.environ.get("WSGIAUTH_SCREENSHOTS")
    shots = Path(shots_dir) if shots_dir else None
    if shots is not None:
        shots.mkdir(parents=True, exist_ok=True)
    with Server(sqlite_url) as server:
        me = Visit(browser, server.url, shots)

        # Home: register.
        assert me.go("/") == 200
        assert "Create an account" in me.text()
        me.shoot("home")
        me.shoot("home-desktop", DESKTOP)
        me.fill("Email", EMAIL, "/users")
        me.fill("Password", PASSWORD, "/users")
        assert me.press("Create the account") == 200
        assert me.path() == "/sessions?done=registered&email=bob%40example.com"
        assert "Your account is ready. Log in with it." in me.text()
        # The login form comes filled in with the email just registered.
        assert me.page.get_by_label("Email", exact=True).input_value() == EMAIL
        me.shoot("registered")

        # A wrong password: the login form again, with the 401.
        me.fill("Password", "WrongPwd")
        assert me.press("Log in") == 401
        assert "Wrong email or password." in me.text()
        assert "401" not in me.text()
        assert me.page.get_by_label("Email", exact=True).input_value() == EMAIL
        assert session_cookie(browser) is None
        me.shoot("login-failed")

        # The right one: 303 to the profile, and the cookie as the browser keeps it.
        me.fill("Password", PASSWORD)
        assert me.press("Log in") == 200
        assert me.path() == "/profile"
        assert f"You are logged in as {EMAIL}." in me.text()
        cookie = session_cookie(browser)
        assert cookie is not None
        assert (cookie["httpOnly"], cookie["sameSite"], cookie["secure"]) == (True, "Lax", False)
        assert (cookie["domain"], cookie["path"]) == ("127.0.0.1", "/")
        # The device cookie, one value for the two paths that check a password.
        devices = device_cookies(browser)
        assert sorted(device["path"] for device in devices) == ["/profile", "/sessions"]
        assert len({device["value"] for device in devices}) == 1
        for device in devices:
            assert (device["httpOnly"], device["sameSite"], device["secure"]) == (
                True,
                "Lax",
                False,
            )
        me.shoot("profile")

        # Another site's forms: refused, and the session lives on.
        attacker, attacker_url = other_site(server.url)
        try:
            lure = Visit(browser, server.url, None)
            for button in ("Claim your prize", "Claim another prize"):
                assert lure.page.goto(attacker_url).status == 200
                assert lure.press(button) == 403
                assert '{"message": "cross-site request refused"}' in lure.text()
        finally:
            attacker.shutdown()
            attacker.server_close()
        assert session_cookie(browser) == cookie
        assert me.go("/profile") == 200
        assert f"You are logged in as {EMAIL}." in me.text()
        assert ATTACKER_EMAIL not in me.text()

        # Home, logged in: who it is, the way to the profile and out.
        assert me.go("/") == 200
        assert f"You are logged in as {EMAIL}." in me.text()
        assert "Create an account" not in me.text()
        me.shoot("home-logged-in")

        # Logout: 303 home with a notice, the cookie gone, the profile shows nobody.
        assert me.press("Log out") == 200
        assert me.path() == "/?done=logged_out"
        assert "You are logged out." in me.text()
        assert session_cookie(browser) is None
        assert device_cookies(browser) == devices  # a device cookie outlives the session
        assert me.go("/profile") == 403
        assert "Nobody is logged in." in me.text()
        assert EMAIL not in me.text()
        me.shoot("profile-nobody")

        # A reset, in development mode: no mail, the page says so, and the
        # new-password form opens at once, its token in a cookie.
        me.go("/")
        with me.page.expect_navigation():
            me.page.get_by_role("link", name="Forgot your password?").first.click()
        assert me.path() == "/reset_password"
        assert "Development mode: no mail is sent." in me.text()
        me.shoot("reset-request")
        me.fill("Email", EMAIL)
        assert me.press("Reset the password") == 200
        assert me.path() == "/reset_password"
        assert "Choose a new password" in me.text()
        assert me.page.get_by_label("Email", exact=True).input_value() == EMAIL
        kept = reset_cookie(browser)
        assert kept is not None
        assert (kept["httpOnly"], kept["sameSite"], kept["secure"]) == (True, "Lax", False)
        assert kept["path"] == "/reset_password"
        assert kept["value"] not in me.page.content()
        me.shoot("new-password")

        # The mail's link, clicked in another site's page (a webmail's): the
        # token goes into the cookie, and the page is at a URL without it.
        token = requests.post(
            f"{server.url}/reset_password", data={"email": EMAIL}, timeout=10
        ).json()["reset_token"]
        link = f"{server.url}/reset_password?reset_token={token}"
        webmail, webmail_url = serve_page(f'<a href="{link}">Reset your password</a>')
        try:
            me.page.goto(webmail_url)
            with me.page.expect_navigation():
                me.page.get_by_role("link", name="Reset your password").click()
        finally:
            webmail.shutdown()
            webmail.server_close()
        assert me.path() == "/reset_password"
        assert "Choose a new password" in me.text()
        assert me.page.get_by_label("Email", exact=True).input_value() == EMAIL
        kept = reset_cookie(browser)
        assert kept is not None and kept["value"] == token
        # Leaving the page carries nothing along.
        with me.page.expect_request(server.url + "/") as home:
            me.page.get_by_role("link", name="Home").click()
        assert "referer" not in home.value.all_headers()
        me.page.go_back()
        me.fill("New password", NEW_PASSWORD)
        assert me.press("Set the password") == 200
        assert me.path() == "/sessions?done=password_updated"
        assert reset_cookie(browser) is None
        # The same link again: used, and the page says so at once.
        assert me.page.goto(link).status == 403
        assert "This link has expired or has been used" in me.text()
        me.shoot("reset-link-dead")
        assert me.go("/sessions") == 200

        # The new password works; the old one no longer does.
        me.fill("Email", EMAIL)
        me.fill("Password", PASSWORD)
        assert me.press("Log in") == 401
        me.fill("Password", NEW_PASSWORD)
        assert me.press("Log in") == 200
        assert f"You are logged in as {EMAIL}." in me.text()

        # The account's changes, on the profile page. The browser keeps an
        # empty required field from being sent at all.
        me.page.get_by_role("button", name="Delete the account").click()
        assert me.path() == "/profile"
        assert me.page.locator("#delete-password:invalid").count() == 1

        # A new password: the answer's new session replaces the old one.
        old_cookie = session_cookie(browser)
        me.fill("Current password", NEW_PASSWORD, "/profile/password")
        me.fill("New password", THIRD_PASSWORD, "/profile/password")
        assert me.press("Change the password") == 200
        assert me.path() == "/profile?done=password_changed"
        assert "Your password is changed." in me.text()
        cookie = session_cookie(browser)
        assert cookie is not None and old_cookie is not None
        assert cookie["value"] != old_cookie["value"]
        me.shoot("password-changed")

        # A new email: in development the token comes filled in.
        me.fill("New email", NEW_EMAIL, "/profile/email")
        me.fill("Password", THIRD_PASSWORD, "/profile/email")
        assert me.press("Change the email") == 200
        assert me.path().startswith("/profile/email?done=email_token_shown&email_token=")
        email_token = me.page.get_by_label("Email token").input_value()
        me.shoot("email-token")
        assert me.press("Confirm the new email") == 200
        assert me.path() == "/profile?done=email_changed"
        assert f"You are logged in as {NEW_EMAIL}." in me.text()

        # Deleting the account: a wrong password first, then the right one.
        me.fill("Password", "WrongPwd", "/profile")
        assert me.press("Delete the account") == 401
        assert "Wrong password." in me.text()
        assert "It cannot be undone." in me.text()
        me.shoot("delete-refused")
        me.fill("Password", THIRD_PASSWORD, "/profile")
        assert me.press("Delete the account") == 200
        assert me.path() == "/?done=account_deleted"
        assert "Your account is deleted." in me.text()
        assert session_cookie(browser) is None
        assert "Create an account" in me.text()

        # A URL nobody links to is a page too.
        assert me.go("/login") == 404
        assert "There is no page at this address." in me.text()
        me.shoot("not-found")

        # Nothing was loaded from anywhere else (but the webmail's page, which
        # we went to), and the browser found nothing to refuse (a style the
        # policy does not allow is logged).
        loaded = [url for url in me.requests if url != webmail_url]
        assert all(url.startswith(server.url + "/") for url in loaded), me.requests
        assert not [line for line in me.console if "Content Security Policy" in line]
        log = server.stop()
    # The server's log: the page's requests, and never a secret.
    assert re.search(r"POST /sessions 401", log)
    assert re.search(r"POST /sessions 403", log)
    for secret in (PASSWORD, NEW_PASSWORD, THIRD_PASSWORD, ATTACKER_PASSWORD, email_token, token):
        assert secret not in log
    assert cookie["value"] not in log and old_cookie["value"] not in log


def pending_cookie(context: Any) -> dict[str, Any] | None:
    """Return the cookie of a login held for its code, as the browser keeps it, or ``None``."""
    cookies = [cookie for cookie in context.cookies() if cookie["name"] == "pending_login"]
    assert len(cookies) <= 1, cookies
    return cookies[0] if cookies else None


def test_two_factor_login_in_chromium_with_javascript_off(browser, sqlite_url):
    # Turned on by reading the key off the page, as a person types it into
    # an app; then a login in two pages, with a code from that "app".
    shots_dir = os.environ.get("WSGIAUTH_SCREENSHOTS")
    shots = Path(shots_dir) if shots_dir else None
    with Server(sqlite_url) as server:
        form = {"email": EMAIL, "password": PASSWORD}
        assert requests.post(f"{server.url}/users", data=form, timeout=10).status_code == 200
        me = Visit(browser, server.url, shots)
        me.go("/sessions")
        me.fill("Email", EMAIL)
        me.fill("Password", PASSWORD)
        assert me.press("Log in") == 200
        assert me.path() == "/profile"

        # The profile offers it; the password opens the page with the QR code.
        me.fill("Password", PASSWORD, "/profile/totp")
        assert me.press("Turn on two-factor login") == 200
        assert me.path() == "/profile/totp"
        assert "Scan this QR code with the app" in me.text()
        qr = me.page.locator("svg").bounding_box()
        assert qr is not None and qr["width"] >= 150 and qr["height"] == qr["width"]
        key = me.page.locator("#secret").inner_text()
        assert re.fullmatch(r"([A-Z2-7]{4} ){7}[A-Z2-7]{4}", key), key
        me.shoot("two-factor-enrol")
        me.fill("Code from the app", totp.totp(totp.from_base32(key), time.time()))
        assert me.press("Turn it on") == 200
        assert "Two-factor login is on" in me.text()
        codes = me.page.locator("#recovery-codes li").all_inner_texts()
        assert len(codes) == 10
        me.shoot("two-factor-recovery-codes")

        # Log out, and in again: the password, then the code on a second page.
        me.go("/profile")
        assert "Two-factor login is on." in me.text()
        assert me.press("Log out") == 200
        me.go("/sessions")
        me.fill("Email", EMAIL)
        me.fill("Password", PASSWORD)
        assert me.press("Log in") == 401
        assert "Now type the code your authenticator app shows" in me.text()
        assert session_cookie(browser) is None
        held = pending_cookie(browser)
        assert held is not None
        assert (held["httpOnly"], held["sameSite"], held["path"]) == (True, "Lax", "/sessions")
        assert PASSWORD not in me.page.content()
        me.shoot("two-factor-login-code")
        # A wrong code: the page again. Then the code of the next step, which
        # one step of drift lets in (the current one turned it on).
        me.fill("Code", "no such code")
        assert me.press("Log in") == 401
        assert "Wrong one-time code." in me.text()
        me.fill("Code", totp.totp(totp.from_base32(key), time.time() + totp.STEP_SECONDS))
        assert me.press("Log in") == 200
        assert me.path() == "/profile"
        assert f"You are logged in as {EMAIL}." in me.text()
        assert session_cookie(browser) is not None
        assert pending_cookie(browser) is None

        # Turned off with a recovery code.
        me.fill("Password", PASSWORD, "/profile/totp")
        me.fill("Code from the app, or a recovery code", codes[0])
        assert me.press("Turn off two-factor login") == 200
        assert me.path() == "/profile?done=two_factor_off"
        assert "Turn on two-factor login" in me.text()

        # The QR code, an inline SVG, is nothing the policy refused or loaded.
        assert all(url.startswith(server.url + "/") for url in me.requests), me.requests
        assert not [line for line in me.console if "Content Security Policy" in line]
        log = server.stop()
    for secret in (PASSWORD, key, key.replace(" ", ""), held["value"], *codes):
        assert secret not in log
