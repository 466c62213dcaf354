"""mail.py: the reset mail's text, and the ``Outbox`` that sends it on a thread of its own.

The outbox holds at most its size, drops and logs what does not fit, logs
whatever fails on its thread, and never waits long on a relay (SECURITY.md,
"a slow or hanging mail relay"). A real SMTP server (aiosmtpd, the ``smtp``
fixture) or a relay that never answers (``silent_relay``) listens on
127.0.0.1. The flows through the whole production app are in
test_production.py.
"""

import logging
from email.message import EmailMessage

import pytest
import sqlalchemy
import sqlalchemy.exc
import webtest
from helpers import (
    EMAIL,
    MAIL_FROM,
    OTHER,
    PUBLIC_URL,
    deliver,
    production_app,
    production_env,
    register,
    send,
    without_date,
)

from wsgiauth import config, mail
from wsgiauth.app import create_app
from wsgiauth.auth import Auth
from wsgiauth.emails import normalize_email
from wsgiauth.errors import InvalidInput
from wsgiauth.mail import (
    CHANGE_NOTICES,
    Outbox,
    change_notice,
    email_token_message,
    no_account_message,
    reset_message,
)

TOKEN = "0f5f2d5e-3b1a-4c1e-9a4b-6f0d5c3e2a1b"


def test_the_reset_mail_is_for_a_person_the_link_first_the_token_last():
    settings = config.Settings(mail_from=MAIL_FROM, public_url=PUBLIC_URL)
    message = reset_message(settings, EMAIL, TOKEN)
    assert message["Subject"] == "Reset your password"
    assert message["To"] == EMAIL
    text = message.get_content()
    link = f"{PUBLIC_URL}/reset_password?reset_token={TOKEN}"
    assert mail.reset_link(settings, TOKEN) == link
    # The first line with the token is the link; then what to do if you did
    # not ask; then the token alone, to paste; the API's words last.
    lines = text.splitlines()
    assert next(line for line in lines if TOKEN in line) == link
    assert text.index(link) < text.index("did not ask") < text.index(f"\n{TOKEN}\n")
    assert lines[-1].startswith("For API clients: PUT /reset_password")
    assert "within 60 minutes" in text


def test_send_mails_the_recipient_it_is_given_never_one_parsed_from_to(smtp):
    # The mail library parses To: (it decodes an encoded word there back to
    # the address inside, and reads a list as several): the relay gets the
    # address that was counted, as it was given.
    mailbox, port = smtp()
    settings = config.Settings(smtp_host="127.0.0.1", smtp_port=port, mail_from=MAIL_FROM)
    message = no_account_message(settings, "=?utf-8?q?victim?=@example.com, eve@example.com")
    assert len(message["To"].addresses) == 2
    mail.send(settings, EMAIL, message)
    ((mail_from, rcpt_tos, _),) = mailbox.envelopes
    assert (mail_from, rcpt_tos) == (MAIL_FROM, [EMAIL])


def test_a_relay_decodes_an_encoded_word_in_rcpt_to_itself(smtp):
    """Why an email may hold no ``=?``: aiosmtpd, a relay, reads ``RCPT TO:
    <=?utf-8?q?victim?=@example.com>`` as victim@example.com, whatever the
    sender does (SECURITY.md, "one mailbox, one counter")."""
    mailbox, port = smtp()
    settings = config.Settings(smtp_host="127.0.0.1", smtp_port=port, mail_from=MAIL_FROM)
    encoded = "=?utf-8?q?victim?=@example.com"
    mail.send(settings, encoded, no_account_message(settings, OTHER))
    ((_, rcpt_tos, _),) = mailbox.envelopes
    assert rcpt_tos == ["victim@example.com"]
    with pytest.raises(InvalidInput, match="encoded word"):
        normalize_email(encoded)


def test_the_email_token_mail_links_to_the_confirmation_with_the_token():
    settings = config.Settings(
        mail_from="a@b.c", public_url="https://auth.example.com", email_token_ttl=1800
    )
    message = email_token_message(settings, "new@example.com", "0f5f2d5e")
    text = message.get_content()
    assert message["To"] == "new@example.com"
    assert "https://auth.example.com/profile/email?email_token=0f5f2d5e\n" in text
    assert "Your email token: 0f5f2d5e" in text and "within 30 minutes" in text
    bare = email_token_message(config.Settings(mail_from="a@b.c"), "new@example.com", "0f5")
    assert "http" not in bare.get_content()


@pytest.mark.parametrize("change", list(CHANGE_NOTICES))
def test_each_change_notice_says_what_changed_and_where_to_act(change):
    settings = config.Settings(mail_from="a@b.c", public_url="https://auth.example.com")
    message = change_notice(settings, EMAIL, change, "new@example.com")
    subject, _news, _otherwise, path = CHANGE_NOTICES[change]
    assert (message["To"], message["Subject"]) == (EMAIL, subject)
    text = message.get_content()
    assert f"https://auth.example.com{path}\n" in text
    assert ("new@example.com" in text) == (change == "email_changing")
    assert "{" not in text


def test_the_smtp_timeout_is_short():
    assert mail.SMTP_TIMEOUT_SECONDS <= 5


def reset_message_for(settings: config.Settings) -> EmailMessage:
    """A mail for the outbox to send, with no token in it."""
    return no_account_message(settings, OTHER)


def test_a_full_outbox_answers_alike_for_every_email(db, silent_relay, caplog):
    # The outbox holds at most its size; past that, mails are dropped and
    # logged, and the answer stays the same for everyone.
    settings = config.load(
        {**production_env(silent_relay.port), "WSGIAUTH_RESET_REQUEST_LIMIT": "100"},
        production=True,
    )
    auth = Auth(db, settings=settings)
    outbox = Outbox(settings, size=2)
    app = webtest.TestApp(create_app(auth, outbox), lint=True)
    register(app)
    assert outbox.post(OTHER, lambda: reset_message_for(settings))
    silent_relay.wait_for_connection()  # that one is on the wire, for 5 s
    assert outbox.post(OTHER, lambda: reset_message_for(settings))
    assert outbox.post(OTHER, lambda: reset_message_for(settings))
    assert not outbox.post(OTHER, lambda: reset_message_for(settings))  # full
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="wsgiauth.mail"):
        known = send(app, "POST", "/reset_password", {"email": EMAIL})
        unknown = send(app, "POST", "/reset_password", {"email": OTHER})
    assert known.status_int == unknown.status_int == 200
    assert without_date(known) == without_date(unknown)
    assert known.body == unknown.body.replace(OTHER.encode(), EMAIL.encode())
    assert [record.getMessage() for record in caplog.records].count(
        "the outbox is full: a mail was dropped"
    ) == 2
    assert outbox.close(timeout=0.1) == 3


def test_a_database_error_on_the_mail_thread_is_logged(db, db_url, smtp, caplog):
    # The token is written on the mail thread; if the database fails there,
    # the error is in the log, not lost with the thread.
    mailbox, port = smtp()
    app = production_app(Auth(db, settings=config.load(production_env(port), production=True)))
    register(app)
    engine = sqlalchemy.create_engine(db_url)
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text("DROP TABLE token_times"))
    engine.dispose()
    with caplog.at_level(logging.ERROR, logger="wsgiauth.mail"):
        assert send(app, "POST", "/reset_password", {"email": EMAIL}).status_int == 200
        deliver(app)
    assert mailbox.envelopes == []
    (record,) = [record for record in caplog.records if record.name == "wsgiauth.mail"]
    assert record.getMessage() == "could not send a mail"
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], sqlalchemy.exc.SQLAlchemyError)
