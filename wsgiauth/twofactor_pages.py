"""The pages of two-factor login: turning it on with a QR code, recovery codes, the login's code.

Turning it on takes two pages: the first shows the secret, as a QR code
for the authenticator app's camera and as text to type in, with a form
for the first code the app shows; the second shows the recovery codes,
this once. A login of such an account takes two pages too: the password,
then the code (``twofactor_browser.py`` says how the second knows the first).

The QR code is inline SVG, made by segno, a pure-Python QR library: it is
part of the page, so the ``Content-Security-Policy``'s ``default-src
'none'`` has nothing to refuse (an ``<img src=data:...>`` would need
``img-src data:``). segno draws it with SVG presentation attributes
(``stroke``, ``fill``), which the policy allows, and no ``style=``
attribute, which ``style-src`` would refuse. The frame, the fields and the
forms are ``pages.py``'s.
"""

import segno

from wsgiauth.pages import document, esc, field, form, notice, password_field

# The QR code's error correction: level M restores 15% of the modules, a
# fair margin for a screen photographed at an angle; the URI of a 160-bit
# secret then fits in a version 8 code, 49 modules wide.
QR_ERROR = "m"
# Pixels per module: 4 makes that code 228 pixels wide with its quiet zone.
QR_SCALE = 4
# The secret as text, for reading aloud or typing: base32 in groups of four.
GROUP = 4
ABOUT = (
    "<p>With two-factor login, logging in takes a six-digit code from an "
    "authenticator app on your phone as well as your password: a password "
    "someone has learnt is not enough.</p>\n"
)


def qr_code(uri: str) -> str:
    """Return the QR code of ``uri`` as an inline ``<svg>`` element, dark on white.

    White is drawn, not left transparent, so that the code can be read on
    a page shown in dark mode too.
    """
    title = "QR code of the secret, for an authenticator app"
    return str(
        segno.make(uri, error=QR_ERROR).svg_inline(scale=QR_SCALE, light="#fff", title=title)
    )


def grouped(secret: str) -> str:
    """Return base32 text in groups of four, as ``GEZD GNBV GY3T ...``: easier to read and type."""
    return " ".join(secret[start : start + GROUP] for start in range(0, len(secret), GROUP))


def code_field(form_id: str, label: str, digits_only: bool = True) -> str:
    """Return a required field for a one-time code, which browsers may fill in from a text message.

    ``inputmode=numeric`` brings a phone's number pad up, for a TOTP code;
    a field that also takes a recovery code, which has letters, keeps the
    full keyboard.
    """
    extra = {"inputmode": "numeric"} if digits_only else {}
    return field(
        form_id,
        "code",
        label,
        "text",
        autocomplete="one-time-code",
        autocapitalize="off",
        spellcheck="false",
        required="",
        **extra,
    )


def turn_on_form() -> str:
    """Return the form that asks for a new secret (``POST /profile/totp``), with the password."""
    return form("/profile/totp", "Turn on two-factor login", password_field("totp"))


def confirm_form() -> str:
    """Return the form that sends the app's first code (``PUT /profile/totp``)."""
    return form(
        "/profile/totp", "Turn it on", code_field("confirm", "Code from the app"), method="PUT"
    )


def turn_off_form() -> str:
    """Return the form that turns two-factor login off (``DELETE /profile/totp``)."""
    fields = password_field("off") + code_field(
        "off", "Code from the app, or a recovery code", digits_only=False
    )
    return form("/profile/totp", "Turn off two-factor login", fields, method="DELETE")


def section(on: bool) -> str:
    """Return the profile's section on two-factor login: the form that turns it on, or off."""
    if on:
        return "<p>Two-factor login is <strong>on</strong>.</p>\n" + turn_off_form()
    return ABOUT + turn_on_form()


def two_factor(who: str, on: bool, message: str = "") -> str:
    """GET /profile/totp, and a failed request: the form that turns it on, or off."""
    return document("Two-factor login", message + section(on), who)


def enrol(who: str, secret: str, uri: str) -> str:
    """Return the answer to ``POST /profile/totp`` in a browser: the QR code and the form.

    The secret is shown as a QR code and as text to type in; logins do not
    ask for a code until the first one is sent.
    """
    return document(
        "Turn on two-factor login",
        "<h2>1. Add this account to your authenticator app</h2>\n"
        "<p>Scan this QR code with the app:</p>\n"
        f"{qr_code(uri)}\n"
        "<p>Or type this key into it:</p>\n"
        f'<p><code id="secret">{esc(grouped(secret))}</code></p>\n'
        "<h2>2. Type the code the app shows</h2>\n"
        "<p>Until you do, logging in takes your password alone.</p>\n" + confirm_form(),
        who,
    )


def confirm_again(who: str, problem: str) -> str:
    """Return the form for the first code again, after ``problem``; not the secret again."""
    return document(
        "Turn on two-factor login",
        problem
        + confirm_form()
        + '<p>Not in the app yet? <a href="/profile/totp">Start again</a> with a new key.</p>\n',
        who,
    )


def recovery_codes(who: str, codes: list[str]) -> str:
    """Return the answer to ``PUT /profile/totp`` in a browser: the recovery codes, once."""
    items = "".join(f"<li><code>{esc(code)}</code></li>\n" for code in codes)
    return document(
        "Your recovery codes",
        notice("Two-factor login is on: logging in now takes a code from the app.")
        + "<p>If you lose your phone, each of these codes logs you in once, in place of "
        "a code from the app. Keep them somewhere safe and apart from your phone, such as "
        "on paper or in a password manager: <strong>this page shows them only once</strong>."
        "</p>\n"
        f'<ul id="recovery-codes">\n{items}</ul>\n'
        '<p><a href="/profile">Back to your profile</a></p>\n',
        who,
    )


def login_code(message: str = "") -> str:
    """Return the login's second page: a code from the app, or a recovery code.

    It posts to ``/sessions`` with no password: the first page's right
    password is held on the server, for a few minutes, under the token of a
    cookie.
    """
    return document(
        "Two-factor login",
        message + "<p>Your password is right. Now type the code your authenticator app "
        "shows, or one of your recovery codes.</p>\n"
        + form("/sessions", "Log in", code_field("code", "Code", digits_only=False))
        + '<p><a href="/sessions">Start again</a></p>\n',
    )
