"""The password reset's pages: ask for a link, use it, or paste its token.

In production the reset mails a link, whose token the browser keeps in a
cookie for ``/reset_password`` (``browser.py``); a token can also be pasted
from the mail. In development no mail goes out, and the page says so. The
frame, the fields and the forms they are made of are ``pages.py``'s.
"""

from wsgiauth.pages import document, email_field, esc, field, form, notice, password_field


def reset_request(
    email: str = "", message: str = "", who: str = "", development: bool = False
) -> str:
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
        + form("/reset_password", "Reset the password", email_field("reset", email))
        + "<h2>Already have a reset token?</h2>\n"
        + paste_token_form(),
        who,
    )


def new_password(email: str, message: str = "", who: str = "") -> str:
    """Return the form that sets a new password (``PUT /reset_password``) with the link's token.

    The email is shown, read-only, so that the user sees which account this
    is. The token is in no field: the link left it in a cookie, which only
    the server reads.
    """
    fields = field("new", "email", "Email", "email", email, readonly="") + password_field(
        "new", "new_password", "New password", new=True
    )
    return document(
        "Choose a new password",
        message + form("/reset_password", "Set the password", fields, method="PUT"),
        who,
    )


def paste_token_form(email: str = "", token: str = "") -> str:
    """Return the form that sets a new password with a token pasted from the mail.

    For a mail client that mangled the link, and for API users who would
    rather use a page.
    """
    fields = (
        email_field("paste", email, "Your email")
        + field(
            "paste",
            "reset_token",
            "Reset token",
            "text",
            token,
            autocomplete="one-time-code",
            required="",
        )
        + password_field("paste", "new_password", "New password", new=True)
    )
    return "<p>Paste it from the mail, with your email and a new password.</p>\n" + form(
        "/reset_password", "Set the password", fields, method="PUT"
    )


def paste_token(email: str, token: str, message: str, who: str = "") -> str:
    """Return a pasted token's form again, after ``message``; the password is never put back."""
    return document("Choose a new password", message + paste_token_form(email, token), who)


def check_mail(email: str, who: str = "") -> str:
    """Return the answer to a reset request in production: the link went by mail."""
    return document(
        "Check your mail",
        f"<p>If <strong>{esc(email)}</strong> has an account, we have sent it a link "
        "to choose a new password. The link works once, for a limited time.</p>\n"
        "<h2>The link does not open?</h2>\n" + paste_token_form(email),
        who,
    )
