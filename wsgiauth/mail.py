"""Mail for production mode: reset links, email tokens and notices go to the user's mailbox.

Plain ``smtplib`` to the relay named by ``WSGIAUTH_SMTP_HOST`` and
``WSGIAUTH_SMTP_PORT``: a local MTA (Postfix, an SMTP sidecar) that takes
over delivery, TLS and retries. Mail is sent by an ``Outbox``, on a thread of
its own, so that no answer waits on SMTP.
"""

import logging
import queue
import smtplib
import threading
from collections.abc import Callable
from email.message import EmailMessage
from urllib.parse import urlencode

from wsgiauth.config import Settings

log = logging.getLogger(__name__)

# How long to wait for the relay before giving up on one message. A local
# relay answers in milliseconds; one that hangs must not hold the outbox.
SMTP_TIMEOUT_SECONDS = 5
# How many mails may wait to be sent. Past that, new ones are dropped (and
# logged) rather than let a flood of requests grow the memory without end.
OUTBOX_SIZE = 1000


def reset_link(settings: Settings, token: str) -> str:
    """Return the link, at the configured ``public_url``, that opens the new-password page.

    The page it opens moves the token into a cookie and redirects to the
    same URL without it (``browser.py``), so that it stays in no log,
    history or ``Referer`` after that first request. The token alone says
    whose it is: the link carries no email.
    """
    return f"{settings.public_url}/reset_password?" + urlencode({"reset_token": token})


def reset_message(settings: Settings, to: str, token: str) -> EmailMessage:
    """Write the mail that lets a person choose a new password: the link first.

    Then what to do if they did not ask, then the token for someone whose
    mail client mangled the link, and last for API clients.
    """
    minutes = settings.reset_token_ttl // 60
    return _message(
        settings,
        to,
        "Reset your password",
        f"Someone, probably you, asked to reset the password of the account {to}.\n\n"
        f"To choose a new password, open this link within {minutes} minutes:\n\n"
        f"{reset_link(settings, token)}\n\n"
        "The link works once. If you did not ask for it, ignore this mail: your\n"
        "password stays as it is, and the link ends when it expires or when you\n"
        "log in.\n\n"
        f"If the link does not open, go to {settings.public_url}/reset_password\n"
        "and paste this reset token, with your email and a new password:\n\n"
        f"{token}\n\n"
        "For API clients: PUT /reset_password with email, reset_token and new_password.\n",
    )


def no_account_message(settings: Settings, to: str) -> EmailMessage:
    """Write the email for a reset asked for an address that has no account.

    OWASP's Forgot Password cheat sheet allows telling the mailbox itself:
    only its owner reads it, and sending it costs what a token mail costs.
    """
    return _message(
        settings,
        to,
        "Your password reset request",
        "Someone, probably you, asked to reset the password of an account with\n"
        "this email address, but there is no account with it. If you did not ask,\n"
        "ignore this email.\n",
    )


def email_token_message(settings: Settings, to: str, token: str) -> EmailMessage:
    """Write the email that carries the token for a change of email, to the new email.

    Whoever confirms the change shows that they read this mailbox. The
    token works only with the session that asked for it, so its link may
    carry it: anyone else who sees the link can do nothing with it.
    """
    minutes = settings.email_token_ttl // 60
    link = _link(settings, "/profile/email?" + urlencode({"email_token": token}))
    browser = (
        f"To confirm in the browser where you are logged in, open this link:\n\n{link}\n\n"
        if link
        else ""
    )
    return _message(
        settings,
        to,
        "Confirm your new email",
        "Someone, probably you, asked to make this the email of their account.\n\n"
        f"{browser}"
        f"Your email token: {token}\n\n"
        f"It works once, within {minutes} minutes, with the session that asked for it:\n"
        "send it to PUT /profile/email. If you did not ask, ignore this email.\n",
    )


# What production mails to an account's email when the account changes
# (SECURITY.md, "account changes"): the subject, the news, and what to do
# if it was not the owner, with the page to do it on.
CHANGE_NOTICES = {
    "password_changed": (
        "Your password was changed",
        "The password of your account was changed.",
        "If it was not you, someone knows your password: choose a new one with\n"
        "a reset token, sent to this address, which also ends their session:",
        "/reset_password",
    ),
    "email_changing": (
        "Your email is about to change",
        "Someone, probably you, asked to change the email of your account to\n"
        "{new_email}. It changes once the token mailed there is sent back.",
        "If it was not you, someone knows your password: choose a new one with\n"
        "a reset token, sent to this address, which also ends their session,\n"
        "and with it the change they asked for:",
        "/reset_password",
    ),
    "two_factor_on": (
        "Two-factor login turned on",
        "Two-factor login was turned on for your account: logging in now takes\n"
        "a one-time code from an authenticator app, or a recovery code, as well\n"
        "as the password.",
        "If it was not you, someone knows your password, and holds the codes:\n"
        "choose a new password with a reset token, sent to this address, which\n"
        "ends their session, and ask the people who run this service to turn\n"
        "two-factor login off for you (a reset leaves it on):",
        "/reset_password",
    ),
    "two_factor_off": (
        "Two-factor login turned off",
        "Two-factor login was turned off for your account: logging in takes the\n"
        "password alone now.",
        "If it was not you, someone knows your password and had a code: choose\n"
        "a new password with a reset token, sent to this address, which also\n"
        "ends their session:",
        "/reset_password",
    ),
    "account_deleted": (
        "Your account was deleted",
        "Your account was deleted, with everything it held. This email may\n"
        "create an account again.",
        "If it was not you, someone knew your password. A new account starts here:",
        "/",
    ),
}


def change_notice(settings: Settings, to: str, change: str, new_email: str = "") -> EmailMessage:
    """Write the email that tells an account's owner of a change (``CHANGE_NOTICES``)."""
    subject, news, otherwise, path = CHANGE_NOTICES[change]
    link = _link(settings, path)
    return _message(
        settings,
        to,
        subject,
        news.format(new_email=new_email) + "\n\n" + otherwise + (f"\n\n{link}\n" if link else "\n"),
    )


def _link(settings: Settings, path: str) -> str:
    """Return ``path`` as a link on the configured ``public_url``; ``""`` when there is none."""
    return f"{settings.public_url}{path}" if settings.public_url else ""


def _message(settings: Settings, to: str, subject: str, text: str) -> EmailMessage:
    """Write a plain-text email from the configured sender."""
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = subject
    message.set_content(text)
    return message


def send(settings: Settings, to: str, message: EmailMessage) -> None:
    """Hand ``message`` to the SMTP relay, for the one recipient ``to``.

    ``to`` is the email as stored, the one the throttle counted, given to
    the relay as it is (RCPT TO). It is never read back out of the
    message's ``To:``: the mail library parses that header, and would
    decode an RFC 2047 encoded word into the address inside it, or read a
    list as several recipients (SECURITY.md, "one mailbox, one counter").
    """
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_SECONDS) as smtp:
        smtp.send_message(message, from_addr=settings.mail_from, to_addrs=[to])


class Outbox:
    """Mails waiting to be written and sent, in order, by one thread.

    A mail is posted with its recipient and a job, a function that writes
    the message (it may look things up in the database, which the request
    then need not wait for). ``post`` never blocks: when the outbox is
    full, the mail is dropped and logged.
    """

    def __init__(self, settings: Settings, size: int = OUTBOX_SIZE) -> None:
        """Start the thread that sends mail through the settings' relay."""
        self.settings = settings
        self._jobs: queue.Queue[tuple[str, Callable[[], EmailMessage]]] = queue.Queue(maxsize=size)
        # What was posted and what is done (sent or failed) tell, at close,
        # how many mails are dropped: those queued and the one on the wire.
        self._lock = threading.Lock()
        self._posted = 0
        self._done = 0
        self._closing = threading.Event()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="wsgiauth-mail", daemon=True)
        self._thread.start()

    def post(self, to: str, job: Callable[[], EmailMessage]) -> bool:
        """Queue a mail for ``to`` to write and send; return ``False`` if it was dropped."""
        with self._lock:
            if self._closing.is_set():
                return False
            try:
                self._jobs.put_nowait((to, job))
            except queue.Full:
                log.warning("the outbox is full: a mail was dropped")
                return False
            self._posted += 1
        return True

    def close(self, timeout: float = 2.0) -> int:
        """Send what is queued for up to ``timeout`` seconds, then drop the rest.

        A mail still on the wire then is dropped too: the thread is a daemon,
        and it ends with the process. Returns how many mails were dropped,
        and logs that number, never their content.
        """
        self._closing.set()
        self._thread.join(timeout)
        with self._lock:
            self._stopped = True  # the thread starts no other mail
            dropped = self._posted - self._done
        if dropped:
            log.warning("stopping: %d mails not sent, dropped", dropped)
        return dropped

    def _run(self) -> None:
        """Write and send each job in turn, until closed and empty, or stopped."""
        while True:
            try:
                to, job = self._jobs.get(timeout=0.1)
            except queue.Empty:
                if self._closing.is_set():
                    return
                continue
            with self._lock:
                if self._stopped:
                    return
            try:
                send(self.settings, to, job())
            except Exception:
                # Any failure, the database's included: logged, never lost.
                log.exception("could not send a mail")
            with self._lock:
                self._done += 1
