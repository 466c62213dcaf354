"""The errors ``Auth`` raises when a rule says no, each with a name.

The app maps each name to an HTTP status in one table (``api.ERRORS``),
instead of an order of ``except`` clauses in every endpoint. All but
``TooManyAttempts`` and ``Busy`` are kinds of ``ValueError``, as the seed's
API has them.
"""


class InvalidInput(ValueError):
    """An email or password that breaks the rules; the message says which."""


class EmailTaken(ValueError):
    """An account with this email exists already."""


class WrongPassword(ValueError):
    """The email has no account, or the password is not its password.

    One error for both, on purpose: a login must not tell which emails have
    an account.
    """


class WrongCurrentPassword(WrongPassword):
    """The password sent to change an account is not its password (``account.py``)."""


class CodeRequired(WrongPassword):
    """The password is right, and the account asks for a one-time code too (``twofactor.py``).

    ``pending`` is the token of the login held for that code, for the
    browser's second page; ``None`` for an API client, which sends the
    code with the password.
    """

    def __init__(self, message: str = "one-time code required", pending: str | None = None) -> None:
        """Say what is missing; keep the token of the held login, if one was held."""
        super().__init__(message)
        self.pending = pending


class WrongLoginCode(CodeRequired):
    """The password is right, and the one-time code sent with it is wrong or used."""

    def __init__(self, pending: str | None = None) -> None:
        """Say that the code is wrong; the login needs a right one still."""
        super().__init__("wrong one-time code", pending)


class LoginOver(WrongPassword):
    """The login held for a one-time code is over: expired, used, or ended by a new password."""


class WrongCode(ValueError):
    """A code that turns two-factor login on or off is wrong; or there is nothing to check it with.

    The message says which.
    """


class TwoFactorOn(ValueError):
    """Two-factor login is on already: it must be turned off before a new secret is made."""


class UnknownEmail(ValueError):
    """No account has this email (a reset request, in development mode)."""


class InvalidToken(ValueError):
    """A reset token that is unknown, expired, used up or someone else's."""


class InvalidEmailToken(InvalidToken):
    """A token for a new email that is unknown, expired, used up or another user's."""


class TooManyAttempts(Exception):
    """Too many logins or reset requests for one email, for now."""

    def __init__(self, retry_after: int) -> None:
        """Remember how many seconds the caller should wait."""
        super().__init__(f"too many attempts; try again in {retry_after} seconds")
        self.retry_after = retry_after


class Busy(Exception):
    """No bcrypt slot for this client now: refused at once, or after a short wait."""

    retry_after = 1  # seconds: a bcrypt check takes about a quarter of one

    def __init__(self) -> None:
        """Say that the server is busy."""
        super().__init__("too busy checking passwords; try again in a second")
