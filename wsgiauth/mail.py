"""Mail for production mode: the reset token goes to the user's mailbox.

Plain ``smtplib`` to the relay named by ``WSGIAUTH_SMTP_HOST`` and
``WSGIAUTH_SMTP_PORT``: a local MTA (Postfix, an SMTP sidecar) that takes
over delivery, TLS and retries.
"""

import smtplib
from email.message import EmailMessage

from wsgiauth.config import Settings

# How long to wait for the relay before giving up on one message.
SMTP_TIMEOUT_SECONDS = 30


def reset_message(settings: Settings, to: str, token: str) -> EmailMessage:
    """Write the email that carries a reset token."""
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = "Your password reset token"
    minutes = settings.reset_token_ttl // 60
    message.set_content(
        "Someone, probably you, asked to reset the password of this account.\n\n"
        f"Your reset token: {token}\n\n"
        f"It works once, within {minutes} minutes. Send it to PUT /reset_password\n"
        "with your email and a new password. If you did not ask, ignore this email.\n"
    )
    return message


def send(settings: Settings, message: EmailMessage) -> None:
    """Hand ``message`` to the SMTP relay, for its one recipient."""
    # The loose email rule lets "a@x.com,b@y.com" be an account's email;
    # send_message would mail every address in To. Exactly one mailbox, or
    # ValueError (logged by the caller) and nothing is sent.
    (recipient,) = message["To"].addresses
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_SECONDS) as smtp:
        smtp.send_message(message, to_addrs=[recipient.addr_spec])
