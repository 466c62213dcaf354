"""Two-factor login's pages (``twofactor_pages.py``): the QR code, the key, the codes, the forms.

Each is a function that returns HTML: called directly here, and read with
``html.parser`` (``Page``). Which page answers which request is in
test_twofactor_browser.py; tests/test_chromium.py turns it on in a real
Chromium, under the real Content-Security-Policy.
"""

import re

import segno
from helpers import Page

from wsgiauth import profile_pages, totp, twofactor_pages
from wsgiauth.pages import CONTENT_SECURITY_POLICY

SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
URI = totp.otpauth_uri(totp.from_base32(SECRET), "bob@example.com", "wsgiauth")


def test_the_qr_code_is_inline_svg_that_the_content_security_policy_allows() -> None:
    # default-src 'none' refuses anything loaded, an <img> of a data: URI
    # included, and style-src, by its hash, any style= attribute; SVG's own
    # presentation attributes (fill, stroke) are neither.
    assert "default-src 'none'" in CONTENT_SECURITY_POLICY
    svg = twofactor_pages.qr_code(URI)
    assert svg.startswith("<svg ") and svg.endswith("</svg>")
    assert "style" not in svg
    assert not re.search(r"\b(href|src)=", svg)
    assert "<title>QR code of the secret, for an authenticator app</title>" in svg
    # Dark on a white square of its own: readable on a page in dark mode.
    assert '<path fill="#fff"' in svg and 'stroke="#000"' in svg


def test_the_qr_code_holds_the_otpauth_uri() -> None:
    # segno draws what it encodes: the same URI, made again, draws the same
    # modules; another URI (another secret) draws others.
    expected = segno.make(URI, error=twofactor_pages.QR_ERROR)
    assert expected.designator == "8-M"  # 49 modules a side
    drawn = re.search(r'class="qrline" stroke="#000" d="([^"]+)"', twofactor_pages.qr_code(URI))
    assert drawn is not None
    assert drawn[1] in expected.svg_inline(scale=twofactor_pages.QR_SCALE)
    other = totp.otpauth_uri(totp.new_secret(), "bob@example.com", "wsgiauth")
    assert drawn[1] not in twofactor_pages.qr_code(other)


def test_the_key_is_shown_in_groups_of_four() -> None:
    assert twofactor_pages.grouped(SECRET) == "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ"
    # What a person types back, spaces and all, is the same secret.
    assert totp.from_base32(twofactor_pages.grouped(SECRET).lower()) == totp.from_base32(SECRET)


def test_the_enrolment_page_shows_the_qr_code_the_key_and_the_first_code_s_form() -> None:
    html = twofactor_pages.enrol("bob@example.com", SECRET, URI)
    page = Page(html)
    assert "<svg " in html
    assert "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ" in page.text
    form = page.form("/profile/totp", _method="PUT")
    assert form.inputs["code"]["autocomplete"] == "one-time-code"
    assert form.inputs["code"]["inputmode"] == "numeric"
    assert form.button.strip() == "Turn it on"
    assert "style=" not in html


def test_the_recovery_codes_are_shown_with_a_sentence_on_keeping_them() -> None:
    codes = ["7kq2-mh9x-3vtd", "b4nw-0c8r-ye2j"]
    html = twofactor_pages.recovery_codes("bob@example.com", codes)
    assert re.findall(r"<li><code>([^<]+)</code></li>", html) == codes
    text = Page(html).text
    assert "Keep them somewhere safe and apart from your phone" in text
    assert "this page shows them only once" in text


def test_the_login_s_second_page_asks_for_the_code_alone() -> None:
    page = Page(twofactor_pages.login_code())
    form = page.form("/sessions")
    assert list(form.fields) == ["code"]  # no email, no password
    assert form.inputs["code"]["autocomplete"] == "one-time-code"
    # A recovery code has letters: no number pad.
    assert "inputmode" not in form.inputs["code"]
    assert "/sessions" in page.links


def test_the_profile_offers_to_turn_it_on_with_the_password_or_off_with_a_code() -> None:
    off = Page(profile_pages.profile("bob@example.com"))
    form = off.form("/profile/totp")
    assert form.button.strip() == "Turn on two-factor login"
    assert form.types == {"password": "password"}
    on = Page(profile_pages.profile("bob@example.com", two_factor=True))
    form = on.form("/profile/totp", _method="DELETE")
    assert form.button.strip() == "Turn off two-factor login"
    assert form.types == {"_method": "hidden", "password": "password", "code": "text"}
    assert "Two-factor login is on." in on.text
