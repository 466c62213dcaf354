"""The profile's pages: who is logged in, and the account's changes.

The profile offers a form for each change: a new password, a new email (in
two steps: a token for the new address, sent back to confirm it),
two-factor login turned on or off (``twofactor_pages.py``), the account
deleted. Each asks for the current password. The frame, the fields
and the forms they are made of are ``pages.py``'s.
"""

from wsgiauth import twofactor_pages
from wsgiauth.pages import (
    document,
    email_field,
    esc,
    field,
    form,
    logged_in,
    logout_form,
    password_field,
)

ABOUT_EMAIL = "<p>A token goes to the new email; the email changes when it is sent back.</p>\n"


def password_form() -> str:
    """Return the form that changes the password (``PUT /profile/password``)."""
    return form(
        "/profile/password",
        "Change the password",
        password_field("password", label="Current password")
        + password_field("password", "new_password", "New password", new=True),
        method="PUT",
    )


def email_form(email: str = "") -> str:
    """Return the form that asks for a new email (``POST /profile/email``)."""
    return form(
        "/profile/email",
        "Change the email",
        email_field("email", email, "New email", autocomplete="email") + password_field("email"),
    )


def email_token_form(email_token: str = "") -> str:
    """Return the form that sends the email token back (``PUT /profile/email``)."""
    return form(
        "/profile/email",
        "Confirm the new email",
        field(
            "token",
            "email_token",
            "Email token",
            "text",
            email_token,
            autocomplete="one-time-code",
            required="",
        ),
        method="PUT",
    )


def delete_form() -> str:
    """Return the form that deletes the account (``DELETE /profile``), with its warning."""
    return (
        "<p>This deletes your account and everything it holds, at once. "
        "<strong>It cannot be undone.</strong></p>\n"
        + form("/profile", "Delete the account", password_field("delete"), "DELETE", danger=True)
    )


def profile(
    who: str, message: str = "", problems: dict[str, str] | None = None, two_factor: bool = False
) -> str:
    """GET /profile: who is logged in, the logout form, and a section per change.

    ``problems`` puts a failed form's error paragraph above its form, by
    section (``"password"``, ``"email"``, ``"delete"``). Two-factor login's
    section turns it on, or, when ``two_factor`` is on, off.
    """
    problems = problems or {}
    sections = [
        ("password", "Change the password", password_form()),
        (
            "email",
            "Change the email",
            ABOUT_EMAIL + email_form(),
        ),
        ("two_factor", "Two-factor login", twofactor_pages.section(two_factor)),
        ("delete", "Delete the account", delete_form()),
    ]
    body = "".join(
        f"<h2>{esc(title)}</h2>\n{problems.get(name, '')}{content}"
        for name, title, content in sections
    )
    return document("Your profile", f"{message}{logged_in(who)}{logout_form()}{body}", who)


def change_password(who: str, message: str = "") -> str:
    """GET /profile/password, and a failed change: the password form, after ``message``."""
    return document("Change the password", message + password_form(), who)


def change_email(
    who: str, email: str = "", email_token: str = "", message: str = "", problem: str = ""
) -> str:
    """GET /profile/email, and a failed step: ask for a new email, or confirm one with its token.

    ``message`` goes above the first form, and ``problem`` above the second:
    a failed request or a failed confirmation.
    """
    confirm = f"<h2>Confirm the new email</h2>\n{problem}{email_token_form(email_token)}"
    return document("Change the email", f"{message}{ABOUT_EMAIL}{email_form(email)}{confirm}", who)
