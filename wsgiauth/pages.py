"""The HTML pages a browser gets: each page a small function that returns a string.

No template engine: plain strings, and every value that came from a request
or the database goes through ``html.escape`` (the ``esc`` below) on its way
in, so that an email like ``<script>@x`` is shown as text, never run. The
pages need no JavaScript and load nothing: the style sheet is in the page,
allowed by its hash in the ``Content-Security-Policy`` (see ``STYLE``).

The functions here only write HTML. Which page answers which request, and
with which status, is decided in ``browser.py``.
"""

import base64
import hashlib
from html import escape
from http import HTTPStatus

# The style sheet, in a <style> element of every page rather than at a URL of
# its own: a route such as /style.css would change what JSON clients get for
# that path (200 instead of 404), and one request per page is enough. The
# Content-Security-Policy names its SHA-256, so the browser applies exactly
# this sheet and refuses any other inline style, an injected one included.
STYLE = """
:root { color-scheme: light dark; font: 1.05rem/1.5 system-ui, sans-serif; }
body { max-width: 34rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.6rem; margin: .5rem 0 1rem; }
h2 { font-size: 1.2rem; margin: 1.5rem 0 .5rem; }
form { margin: 0 0 1rem; }
label { display: block; margin: .75rem 0 .25rem; font-weight: 600; }
input { box-sizing: border-box; width: 100%; padding: .55rem; font: inherit;
        border: 1px solid #888; border-radius: .3rem; }
input[readonly] { background: transparent; border-style: dashed; }
button { margin-top: 1rem; padding: .55rem 1.2rem; font: inherit; font-weight: 600;
         border: 0; border-radius: .3rem; background: #1d4ed8; color: #fff; }
.error, .notice { padding: .6rem .8rem; border-radius: .3rem; }
.error { border: 2px solid #b91c1c; }
.notice { border: 2px solid #15803d; }
footer { margin-top: 2rem; font-size: .9rem; }
"""
STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode("utf-8")).digest()).decode("ascii")

# What a page may do, for the browser to enforce (CSP Level 3). Nothing may
# load (default-src 'none'), except the one style sheet above; forms may post
# only to this service, which also stops an injected <form> from sending a
# password elsewhere; no other site may show a page in a frame (clickjacking);
# and no <base> may redirect relative URLs.
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src 'sha256-{STYLE_HASH}'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

# The notices a page can be asked for by name in its URL (``?done=...``):
# fixed sentences, so that a link cannot make the page say anything else.
NOTICES = {
    "registered": "Your account is ready. Log in with it.",
    "password_updated": "Your password is changed. Log in with the new one.",
}


def esc(value: str) -> str:
    """Escape text for HTML content and for a double-quoted attribute value."""
    return escape(value, quote=True)


def document(title: str, body: str) -> str:
    """Return a whole page: the head (viewport, style) and ``body``."""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)} · wsgiauth</title>
<style>{STYLE}</style>
</head>
<body>
<main>
<h1>{esc(title)}</h1>
{body}
</main>
<footer><a href="/">Home</a> · <a href="/sessions">Log in</a> · \
<a href="/reset_password">Forgot your password?</a></footer>
</body>
</html>
"""


def error(code: int, message: str) -> str:
    """Return the paragraph that shows a failed request's status and message."""
    return f'<p class="error" role="alert">{code} {HTTPStatus(code).phrase}: {esc(message)}</p>'


def notice(text: str) -> str:
    """Return a paragraph with good news."""
    return f'<p class="notice" role="status">{esc(text)}</p>'


def field(form: str, name: str, label: str, kind: str, value: str = "", **attrs: str) -> str:
    """Return a labelled input; its id is ``form-name``, unique on the page."""
    extra = "".join(f' {key.replace("_", "-")}="{esc(val)}"' for key, val in attrs.items())
    return (
        f'<label for="{form}-{name}">{esc(label)}</label>\n'
        f'<input id="{form}-{name}" name="{name}" type="{kind}" value="{esc(value)}"{extra}>\n'
    )


def form(action: str, button: str, fields: str, method: str = "") -> str:
    """Return a form that POSTs to ``action``.

    HTML forms send only GET and POST. For DELETE and PUT, ``method`` goes
    in a hidden ``_method`` field, which the app reads on a form POST.
    """
    hidden = f'<input type="hidden" name="_method" value="{method}">\n' if method else ""
    return (
        f'<form method="post" action="{action}">\n{hidden}{fields}'
        f'<button type="submit">{esc(button)}</button>\n</form>\n'
    )


def login_form(email: str = "") -> str:
    """Return the login form (``POST /sessions``)."""
    return form(
        "/sessions",
        "Log in",
        field("login", "email", "Email", "email", email, autocomplete="username", required="")
        + field("login", "password", "Password", "password", autocomplete="current-password"),
    )


def home(email: str = "", problem: str = "") -> str:
    """GET /: the registration form, the login form, and the way to a reset.

    ``problem`` is a failed registration's error paragraph, shown above its form.
    """
    register = form(
        "/users",
        "Create the account",
        field("register", "email", "Email", "email", email, autocomplete="username", required="")
        + field("register", "password", "Password", "password", autocomplete="new-password"),
    )
    return document(
        "Welcome",
        f"<h2>Create an account</h2>\n{problem}{register}<h2>Log in</h2>\n{login_form()}",
    )


def login(email: str = "", message: str = "") -> str:
    """GET /sessions and every failed login: the login form, after ``message``."""
    return document(
        "Log in",
        f'{message}{login_form(email)}<p>No account yet? <a href="/">Create one</a>.</p>\n',
    )


def profile(email: str) -> str:
    """GET /profile: who is logged in, and the logout form (``DELETE /sessions``)."""
    return document(
        "Your profile",
        f"<p>You are logged in as <strong>{esc(email)}</strong>.</p>\n"
        + form("/sessions", "Log out", "", method="DELETE"),
    )


def reset_request(email: str = "", message: str = "", development: bool = False) -> str:
    """GET /reset_password: ask for a reset by email, or use a token already mailed.

    In ``development`` mode no mail goes out, and the page says so: the
    new-password form opens at once, where production mails a link to it.
    """
    how = (
        "<p>Give the email of your account, and choose a new password at once.</p>\n"
        + notice(
            "Development mode: no mail is sent. In production, this form mails a link "
            "to choose the new password, which works once, for a limited time."
        )
        if development
        else "<p>Give the email of your account: we will mail it a link to choose a new "
        "password.</p>\n"
    )
    return document(
        "Reset your password",
        message
        + how
        + form(
            "/reset_password",
            "Reset the password",
            field("reset", "email", "Email", "email", email, autocomplete="username", required=""),
        )
        + "<h2>Already have a reset token?</h2>\n"
        + paste_token_form(),
    )


def new_password(email: str, message: str = "") -> str:
    """Return the form that sets a new password (``PUT /reset_password``) with the link's token.

    The email is shown, read-only, so that the user sees which account this
    is. The token is in no field: the link left it in a cookie, which only
    the server reads.
    """
    fields = field("new", "email", "Email", "email", email, readonly="") + field(
        "new", "new_password", "New password", "password", autocomplete="new-password"
    )
    return document(
        "Choose a new password",
        message + form("/reset_password", "Set the password", fields, method="PUT"),
    )


def paste_token_form(email: str = "", token: str = "") -> str:
    """Return the form that sets a new password with a token pasted from the mail.

    For a mail client that mangled the link, and for API users who would
    rather use a page.
    """
    fields = (
        field("paste", "email", "Your email", "email", email, autocomplete="username")
        + field("paste", "reset_token", "Reset token", "text", token, autocomplete="off")
        + field("paste", "new_password", "New password", "password", autocomplete="new-password")
    )
    return "<p>Paste it from the mail, with your email and a new password.</p>\n" + form(
        "/reset_password", "Set the password", fields, method="PUT"
    )


def paste_token(email: str, token: str, message: str) -> str:
    """Return a pasted token's form again, after ``message``; the password is never put back."""
    return document("Choose a new password", message + paste_token_form(email, token))


def check_mail(email: str) -> str:
    """Return the answer to a reset request in production: the link went by mail."""
    return document(
        "Check your mail",
        f"<p>If <strong>{esc(email)}</strong> has an account, we have sent it a link "
        "to choose a new password. The link works once, for a limited time.</p>\n"
        "<h2>The link does not open?</h2>\n" + paste_token_form(email),
    )


def see_other(location: str) -> str:
    """Return the body of a 303: RFC 9110 §15.4.4 suggests a short note with a link."""
    return document(
        "See other", f'<p>Go on to <a href="{esc(location)}">{esc(location)}</a>.</p>\n'
    )
