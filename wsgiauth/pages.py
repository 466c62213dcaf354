"""The HTML pages a browser gets: each page a small function that returns a string.

No template engine: plain strings, and every value that came from a request
or the database goes through ``html.escape`` (the ``esc`` below) on its way
in, so that an email like ``<script>@x`` is shown as text, never run. The
pages need no JavaScript and load nothing: the style sheet is in the page,
allowed by its hash in the ``Content-Security-Policy`` (see ``STYLE``).

The functions here only write HTML: the frame every page shares, its
fields and forms, and the pages of the home, the login and a missing path.
The profile's pages are in ``profile_pages.py``, the reset's in
``reset_pages.py``, two-factor login's in ``twofactor_pages.py``. Which
page answers which request, and with which status, is decided in
``browser.py`` and ``twofactor_browser.py``.
"""

import base64
import hashlib
from html import escape

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
button.danger { background: #b91c1c; }
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
    "logged_out": "You are logged out.",
    "password_changed": "Your password is changed.",
    "email_token_mailed": "We have mailed a token to the new email. Open the link in that "
    "mail, or paste the token below.",
    "email_token_shown": "Development mode: the token below would go by mail to the new "
    "email. Confirm it to change the email.",
    "email_changed": "Your email is changed.",
    "account_deleted": "Your account is deleted.",
    "two_factor_off": "Two-factor login is off: logging in takes your password alone.",
}


def esc(value: str) -> str:
    """Escape text for HTML content and for a double-quoted attribute value."""
    return escape(value, quote=True)


def document(title: str, body: str, who: str = "") -> str:
    """Return a whole page: the head (viewport, style), ``body`` and the footer.

    ``who`` is the email of whoever is logged in, ``""`` for nobody: the
    footer leads to the profile and to logging out, or to logging in.
    """
    if who:
        links = '<a href="/profile">Your profile</a> · <a href="/sessions">Log out</a>'
    else:
        links = (
            '<a href="/sessions">Log in</a> · <a href="/reset_password">Forgot your password?</a>'
        )
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
<footer><a href="/">Home</a> · {links}</footer>
</body>
</html>
"""


def error(text: str) -> str:
    """Return the paragraph that shows why a request failed, in a sentence for people."""
    return f'<p class="error" role="alert">{esc(text)}</p>'


def notice(text: str) -> str:
    """Return a paragraph with good news."""
    return f'<p class="notice" role="status">{esc(text)}</p>'


def sentence(message: str) -> str:
    """Turn an API message into a sentence: a capital, spaces for underscores, a full stop.

    ``"new_password is required"`` becomes ``"New password is required."``.
    """
    text = message.replace("_", " ")
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def wait(seconds: int) -> str:
    """Say how long to wait: in seconds up to two minutes, then in minutes, rounded up."""
    if seconds > 120:
        return f"{-(-seconds // 60)} minutes"
    return "1 second" if seconds == 1 else f"{seconds} seconds"


def field(form: str, name: str, label: str, kind: str, value: str = "", **attrs: str) -> str:
    """Return a labelled input; its id is ``form-name``, unique on the page."""
    extra = "".join(f' {key.replace("_", "-")}="{esc(val)}"' for key, val in attrs.items())
    return (
        f'<label for="{form}-{name}">{esc(label)}</label>\n'
        f'<input id="{form}-{name}" name="{name}" type="{kind}" value="{esc(value)}"{extra}>\n'
    )


def email_field(
    form: str, value: str = "", label: str = "Email", autocomplete: str = "username"
) -> str:
    """Return a required email input: a password manager's user name, unless told otherwise."""
    return field(form, "email", label, "email", value, autocomplete=autocomplete, required="")


def password_field(
    form: str, name: str = "password", label: str = "Password", *, new: bool = False
) -> str:
    """Return a required password input, never filled in: the current one, or a new one.

    ``autocomplete`` tells a password manager which: it offers the saved
    password for ``current-password``, and a generated one to save for
    ``new-password``.
    """
    purpose = "new-password" if new else "current-password"
    return field(form, name, label, "password", autocomplete=purpose, required="")


def form(action: str, button: str, fields: str, method: str = "", danger: bool = False) -> str:
    """Return a form that POSTs to ``action``.

    HTML forms send only GET and POST. For DELETE and PUT, ``method`` goes
    in a hidden ``_method`` field, which the app reads on a form POST. A
    ``danger`` button, for what cannot be undone, is red.
    """
    hidden = f'<input type="hidden" name="_method" value="{method}">\n' if method else ""
    style = ' class="danger"' if danger else ""
    return (
        f'<form method="post" action="{action}">\n{hidden}{fields}'
        f'<button type="submit"{style}>{esc(button)}</button>\n</form>\n'
    )


def login_form(email: str = "") -> str:
    """Return the login form (``POST /sessions``)."""
    return form("/sessions", "Log in", email_field("login", email) + password_field("login"))


def register_form(email: str = "") -> str:
    """Return the registration form (``POST /users``)."""
    return form(
        "/users",
        "Create the account",
        email_field("register", email) + password_field("register", new=True),
    )


def logout_form() -> str:
    """Return the logout form (``DELETE /sessions``): a button, nothing to fill in."""
    return form("/sessions", "Log out", "", method="DELETE")


def logged_in(who: str) -> str:
    """Return the paragraph that says who is logged in."""
    return f"<p>You are logged in as <strong>{esc(who)}</strong>.</p>\n"


def home(message: str = "") -> str:
    """GET / for nobody logged in: the registration and login forms, after ``message``.

    ``message`` is a notice, such as the one after logging out.
    """
    return document(
        "Welcome",
        f"{message}<h2>Create an account</h2>\n{register_form()}<h2>Log in</h2>\n{login_form()}",
    )


def home_logged_in(who: str, message: str = "") -> str:
    """GET / for someone logged in: who it is, the way to the profile, and to log out."""
    return document(
        "Welcome",
        f'{message}{logged_in(who)}<p><a href="/profile">Your profile</a></p>\n{logout_form()}',
        who,
    )


def register(email: str = "", message: str = "", who: str = "") -> str:
    """GET /users, and every failed registration: the registration form, after ``message``."""
    return document(
        "Create an account",
        f"{message}{register_form(email)}"
        '<p>Have an account already? <a href="/sessions">Log in</a>.</p>\n',
        who,
    )


def login(email: str = "", message: str = "", who: str = "") -> str:
    """GET /sessions and every failed login: the login form, after ``message``.

    For someone logged in, the logout form first, then the login form for
    another account.
    """
    if who:
        return document(
            "Log out",
            f"{message}{logged_in(who)}{logout_form()}"
            f"<h2>Log in to another account</h2>\n{login_form(email)}",
            who,
        )
    return document(
        "Log in",
        f'{message}{login_form(email)}<p>No account yet? <a href="/users">Create one</a>.</p>\n',
    )


def not_found(who: str = "") -> str:
    """Return the page for a path that has none (404)."""
    return document(
        "Page not found",
        '<p>There is no page at this address. <a href="/">Go to the home page</a>.</p>\n',
        who,
    )


def server_error() -> str:
    """Return the page of an unexpected error (500): nobody is named, nothing is looked up."""
    return document(
        "Something went wrong",
        "<p>Something went wrong on our side, and it has been logged. Try again in a"
        ' moment, or <a href="/">go to the home page</a>.</p>\n',
    )


def see_other(location: str) -> str:
    """Return the body of a 303: RFC 9110 §15.4.4 suggests a short note with a link."""
    return document(
        "See other", f'<p>Go on to <a href="{esc(location)}">{esc(location)}</a>.</p>\n'
    )
