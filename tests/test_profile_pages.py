"""The profile's pages (``profile_pages.py``): a form for each change of the account.

Each is a function that returns HTML: called directly here, and read with
``html.parser`` (``Page``). Which page answers which request, and what the
forms do, is in test_browser.py and test_chromium.py.
"""

from helpers import Page

from wsgiauth import profile_pages


def test_the_profile_has_a_form_for_each_change_with_a_button_that_says_it():
    page = Page(profile_pages.profile("bob@example.com"))
    buttons = {
        (form.action, form.fields.get("_method", "")): form.button.strip() for form in page.forms
    }
    assert buttons[("/profile/password", "PUT")] == "Change the password"
    assert buttons[("/profile/email", "")] == "Change the email"
    assert buttons[("/profile", "DELETE")] == "Delete the account"
    assert buttons[("/sessions", "DELETE")] == "Log out"
    # Each change asks for the current password.
    for key in [("/profile/password", "PUT"), ("/profile/email", ""), ("/profile", "DELETE")]:
        form = page.form(key[0], _method=key[1])
        assert form.types["password"] == "password"


def test_deleting_says_plainly_that_it_cannot_be_undone():
    assert "It cannot be undone." in profile_pages.profile("bob@example.com")


def test_a_failed_change_shows_its_problem_above_its_own_form():
    html = profile_pages.profile("bob@example.com", problems={"email": '<p class="error">x</p>'})
    problem, email_form = (
        html.index('<p class="error">x</p>'),
        html.index('action="/profile/email"'),
    )
    assert problem < email_form
    assert html.index('action="/profile/password"') < problem  # not above another form


def test_the_email_token_is_a_one_time_code_field():
    page = Page(profile_pages.change_email("bob@example.com", email_token="abc"))
    form = page.form("/profile/email", _method="PUT")
    assert form.fields["email_token"] == "abc"
    assert form.inputs["email_token"]["autocomplete"] == "one-time-code"


def test_who_is_logged_in_is_escaped():
    html = profile_pages.profile("<b>@example.com")
    assert "<b>@" not in html
    assert "&lt;b&gt;@example.com" in html
