"""Settings read from ``WSGIAUTH_*`` environment variables.

``load()`` reads them all, checks them, and returns a ``Settings``: the one
source of every setting. A bad value raises ``ValueError`` naming the
variable, so ``serve.py`` can refuse to start with a clear message.
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_DATABASE_URL = "sqlite:///wsgiauth.sqlite"
DEFAULT_BCRYPT_ROUNDS = 12
# One bcrypt at a time per core: bcrypt lets go of the GIL, so each runs on a core.
DEFAULT_BCRYPT_SLOTS = os.cpu_count() or 1
MODES = ("development", "production")


@dataclass(frozen=True)
class Settings:
    """Everything that can be configured, with the defaults of development mode."""

    mode: str = "development"
    # bcrypt's cost factor: 2**12 rounds take about a quarter of a second.
    bcrypt_rounds: int = DEFAULT_BCRYPT_ROUNDS
    # How many bcrypt computations may run at once; more would only share
    # the same cores, and hold every worker thread (issue 8, item 6).
    bcrypt_slots: int = DEFAULT_BCRYPT_SLOTS
    # An absolute lifetime, whatever the activity: OWASP's session cheat
    # sheet suggests hours to days for a low-risk service.
    session_ttl: int = 14 * 24 * 3600
    reset_token_ttl: int = 3600
    login_failure_limit: int = 10
    login_failure_window: int = 900
    # NIST SP 800-63B §5.2.2: at most 100 consecutive failed attempts on one
    # account; a password reset opens it again.
    login_failure_cap: int = 100
    # How long the failures of an email with no account are remembered
    # after the last one (an account's are kept until a success or a reset).
    login_failure_memory: int = 24 * 3600
    reset_request_limit: int = 5
    reset_request_window: int = 3600
    password_min_length: int = 1
    # NIST SP 800-63B §5.1.1.2: refuse the most common passwords (production).
    refuse_common_passwords: bool = False
    smtp_host: str = ""
    smtp_port: int = 25
    mail_from: str = ""
    # Where people reach the service, such as https://auth.example.com: the
    # reset mail links to its /reset_password. Configured, never taken from
    # the request's Host header, which the client writes: a forged Host
    # would have us mail a victim a link, with their token, to another site
    # (host-header injection, OWASP WSTG-INPV-17).
    public_url: str = ""

    @property
    def production(self) -> bool:
        """Tell whether this is production mode (tokens by email, Secure cookie)."""
        return self.mode == "production"


def _integer(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """Read ``WSGIAUTH_<name>`` as a whole number from ``low`` to ``high``."""
    raw = env.get(f"WSGIAUTH_{name}") or str(default)
    # Only plain ASCII digits, and few enough for int() (which refuses
    # strings of over 4300 digits); anything else is reported below.
    is_number = raw.isascii() and raw.isdigit() and len(raw) <= 18
    value = int(raw) if is_number else low - 1
    if not low <= value <= high:
        raise ValueError(
            f"WSGIAUTH_{name} must be a whole number from {low} to {high}, not {raw!r}"
        )
    return value


def _public_url(env: Mapping[str, str]) -> str:
    """Read ``WSGIAUTH_PUBLIC_URL``: ``http(s)://host[:port][/path]``, or ``""`` when unset."""
    raw = env.get("WSGIAUTH_PUBLIC_URL", "")
    if not raw:
        return ""
    scheme, separator, rest = raw.partition("://")
    host = rest.split("/")[0]
    if (
        scheme not in ("http", "https")
        or not separator
        or not host
        or not raw.isprintable()
        or any(char in raw for char in " ?#@\\")
    ):
        raise ValueError(
            "WSGIAUTH_PUBLIC_URL must be an http:// or https:// URL with no query, "
            f"fragment or user, such as https://auth.example.com, not {raw!r}"
        )
    return raw.rstrip("/")


def load(env: Mapping[str, str] = os.environ, production: bool = False) -> Settings:
    """Read and check every setting; ``production=True`` is ``serve.py --production``."""
    mode = "production" if production else env.get("WSGIAUTH_MODE") or "development"
    if mode not in MODES:
        raise ValueError(f"WSGIAUTH_MODE must be development or production, not {mode!r}")
    day, year = 24 * 3600, 365 * 24 * 3600
    missing = [
        name
        for name in ("WSGIAUTH_SMTP_HOST", "WSGIAUTH_MAIL_FROM")
        if mode == "production" and not env.get(name)
    ]
    if missing:
        raise ValueError(f"production mode mails reset tokens: set {' and '.join(missing)}")
    # NIST SP 800-63B §5.1.1.2 asks for at least 8 characters.
    min_length_default = 8 if mode == "production" else 1
    return Settings(
        mode=mode,
        bcrypt_rounds=_integer(env, "BCRYPT_ROUNDS", DEFAULT_BCRYPT_ROUNDS, 4, 31),
        bcrypt_slots=_integer(env, "BCRYPT_SLOTS", DEFAULT_BCRYPT_SLOTS, 1, 1024),
        session_ttl=_integer(env, "SESSION_TTL", Settings.session_ttl, 1, year),
        reset_token_ttl=_integer(env, "RESET_TOKEN_TTL", Settings.reset_token_ttl, 1, day),
        login_failure_limit=_integer(
            env, "LOGIN_FAILURE_LIMIT", Settings.login_failure_limit, 1, 10**6
        ),
        login_failure_window=_integer(
            env, "LOGIN_FAILURE_WINDOW", Settings.login_failure_window, 1, day
        ),
        login_failure_cap=_integer(env, "LOGIN_FAILURE_CAP", Settings.login_failure_cap, 1, 100),
        login_failure_memory=_integer(
            env, "LOGIN_FAILURE_MEMORY", Settings.login_failure_memory, 1, year
        ),
        reset_request_limit=_integer(
            env, "RESET_REQUEST_LIMIT", Settings.reset_request_limit, 1, 10**6
        ),
        reset_request_window=_integer(
            env, "RESET_REQUEST_WINDOW", Settings.reset_request_window, 1, day
        ),
        password_min_length=_integer(env, "PASSWORD_MIN_LENGTH", min_length_default, 1, 72),
        refuse_common_passwords=_integer(
            env, "REFUSE_COMMON_PASSWORDS", int(mode == "production"), 0, 1
        )
        == 1,
        smtp_host=env.get("WSGIAUTH_SMTP_HOST", ""),
        smtp_port=_integer(env, "SMTP_PORT", Settings.smtp_port, 1, 65535),
        mail_from=env.get("WSGIAUTH_MAIL_FROM", ""),
        public_url=_public_url(env),
    )


def database_url() -> str:
    """Return the SQLAlchemy URL of the database (a SQLite file by default)."""
    return os.environ.get("WSGIAUTH_DATABASE_URL") or DEFAULT_DATABASE_URL
