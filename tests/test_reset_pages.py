"""The reset's pages (``reset_pages.py``): ask for a link, use it, or paste its token.

Each is a function that returns HTML: called directly here, and read with
``html.parser`` (``Page``). Which page answers which request is in
test_browser.py.
"""

from helpers import Page, browse, page_of

from wsgiauth import reset_pages


def test_development_says_that_production_would_mail_the_link():
    development = reset_pages.reset_request(development=True)
    production = reset_pages.reset_request()
    assert "Development mode: no mail is sent" in development
    assert "no mail is sent" not in production
    assert "we will mail it a link" in production


def test_the_new_password_form_shows_the_email_read_only_and_carries_no_token():
    form = Page(reset_pages.new_password("bob@example.com")).form("/reset_password", _method="PUT")
    assert form.types == {"_method": "hidden", "email": "email", "new_password": "password"}
    assert form.fields["email"] == "bob@example.com"
    assert "readonly" in form.inputs["email"]


def test_a_pasted_token_comes_back_but_never_the_password():
    html = reset_pages.paste_token("bob@example.com", "the-token", "<p>a problem</p>")
    form = Page(html).form("/reset_password", _method="PUT")
    assert form.fields["email"] == "bob@example.com"
    assert form.fields["reset_token"] == "the-token"
    assert form.fields["new_password"] == ""


def test_what_a_person_typed_is_escaped():
    html = reset_pages.check_mail('<script>alert("x")</script>@example.com')
    assert "<script>" not in html
    assert "&lt;script&gt;" in html


def test_reset_request_form_and_the_form_for_a_pasted_token(app):
    page = page_of(browse(app, "GET", "/reset_password"), 200)
    assert page.form("/reset_password").types == {"email": "email"}
    assert page.form("/reset_password", _method="PUT").types == {
        "_method": "hidden",
        "email": "email",
        "reset_token": "text",
        "new_password": "password",
    }
