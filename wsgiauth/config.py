"""Settings: every ``WSGIAUTH_*`` environment variable, read and checked in one place.

``load()`` reads them all and returns a ``Settings``, the one source of
every setting: nothing else in the package reads the environment. A bad
value raises ``ValueError`` naming the variable, so ``serve.py`` can refuse
to start with a clear message.

``serve.py`` calls ``load()`` once and hands the ``Settings`` down. The
seed's entry points that have no room for settings, ``Auth()``, ``DB()`` and
``_hash_password(password)``, call it themselves when given none: there,
"the configured database" and "12 rounds unless configured" mean this.
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url

from wsgiauth.parsers import host_name
from wsgiauth.secretbox import MIN_SECRET_KEY_LENGTH

DEFAULT_DATABASE_URL = "sqlite:///wsgiauth.sqlite"
DEFAULT_BCRYPT_ROUNDS = 12
MODES = ("development", "production")
# What production refuses to start without: the relay and the sender of its
# mails, where people reach it (every mail carries a link; the one Host it
# answers to), and the key the keys of its stored secrets come from.
PRODUCTION_NEEDS = (
    "WSGIAUTH_SMTP_HOST",
    "WSGIAUTH_MAIL_FROM",
    "WSGIAUTH_PUBLIC_URL",
    "WSGIAUTH_SECRET_KEY",
)
# Where development keeps the secret key it makes when WSGIAUTH_SECRET_KEY is
# unset: beside the SQLite file whose secrets it seals, with this suffix, or
# in the working directory for another database (docs/operations.md).
KEY_FILE_SUFFIX = ".secret-key"
DEVELOPMENT_KEY_FILE = "wsgiauth.secret-key"
_DAY = 24 * 3600
_YEAR = 365 * _DAY


@dataclass(frozen=True)
class Settings:
    """Everything that can be configured, with the defaults of development mode."""

    # WSGIAUTH_MODE=production (or serve.py --production): tokens by mail,
    # the Secure cookie, a stricter password policy (SECURITY.md, "Two modes").
    production: bool = False
    # Any SQLAlchemy URL; SQLite and PostgreSQL are the two wsgiauth runs on.
    database_url: str = DEFAULT_DATABASE_URL
    # bcrypt's cost factor: 2**12 rounds take about a quarter of a second.
    bcrypt_rounds: int = DEFAULT_BCRYPT_ROUNDS
    # How many bcrypt computations may run at once. bcrypt lets go of the
    # GIL, so each runs on a core of its own: more than the cores would only
    # share them, and hold every worker thread while they wait.
    bcrypt_slots: int = os.cpu_count() or 1
    # An absolute lifetime, whatever the activity: OWASP's session cheat
    # sheet suggests hours to days for a low-risk service.
    session_ttl: int = 14 * _DAY
    reset_token_ttl: int = 3600
    # How long the token for a new email works: a change not confirmed by
    # then is asked again, with the password.
    email_token_ttl: int = 3600
    # How long a device cookie gives its client an allowance of its own,
    # from the login that set it (SECURITY.md, "device cookies").
    device_ttl: int = _YEAR
    login_failure_limit: int = 10
    login_failure_window: int = 900
    # NIST SP 800-63B §5.2.2: at most 100 consecutive failed attempts on one
    # account; a password reset opens it again.
    login_failure_cap: int = 100
    # How long the failures of an email with no account are remembered
    # after the last one (an account's are kept until a success or a reset).
    login_failure_memory: int = _DAY
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
    # (host-header injection, OWASP WSTG-INPV-17). Required in production,
    # where its host name is also the one Host the service answers to.
    public_url: str = ""
    # More host names production answers to (WSGIAUTH_ALLOWED_HOSTS), such
    # as a second domain; any other Host gets 400 (DNS rebinding).
    allowed_hosts: frozenset[str] = frozenset()
    # WSGIAUTH_SECRET_KEY, at least 32 characters, required in production:
    # the keys that protect the secrets the server must read back are
    # derived from it. Never logged, and left out of repr().
    secret_key: str = field(default="", repr=False)

    @property
    def mode(self) -> str:
        """Name the mode: ``"development"`` or ``"production"``."""
        return MODES[self.production]

    @property
    def host_names(self) -> frozenset[str]:
        """The host names production answers to: the public URL's and the allowed ones."""
        authority = self.public_url.partition("://")[2].split("/")[0]
        return frozenset({host_name(authority)} if authority else ()) | self.allowed_hosts

    @property
    def key_file(self) -> Path | None:
        """Where development keeps its own secret key; ``None`` for a database in memory.

        Beside a SQLite file (``wsgiauth.sqlite.secret-key``): the key goes
        with the secrets it seals, and a copy of the database made without
        it opens none of them. For any other database, in the working
        directory. A SQLite database in memory ends with the process, and
        its key may too.
        """
        url = make_url(self.database_url)
        if url.get_backend_name() != "sqlite":
            return Path(DEVELOPMENT_KEY_FILE)
        if not url.database or url.database == ":memory:":
            return None
        return Path(url.database + KEY_FILE_SUFFIX)


# The whole-number settings: the field of Settings, then the lowest and the
# highest value accepted. WSGIAUTH_<FIELD IN CAPITALS> sets each one.
_NUMBERS = {
    "bcrypt_rounds": (4, 31),  # bcrypt's own bounds
    "bcrypt_slots": (1, 1024),
    "session_ttl": (1, _YEAR),
    "reset_token_ttl": (1, _DAY),
    "email_token_ttl": (1, _DAY),
    "device_ttl": (1, 400 * _DAY),  # browsers cap a cookie's Max-Age at 400 days
    "login_failure_limit": (1, 10**6),
    "login_failure_window": (1, _DAY),
    "login_failure_cap": (1, 100),  # NIST's 100 is a ceiling, not a default
    "login_failure_memory": (1, _YEAR),
    "reset_request_limit": (1, 10**6),
    "reset_request_window": (1, _DAY),
    "password_min_length": (1, 72),  # bcrypt reads at most 72 bytes
    "refuse_common_passwords": (0, 1),
    "smtp_port": (1, 65535),
}
# What production changes: NIST SP 800-63B §5.1.1.2 asks for at least 8
# characters, and for the most common passwords to be refused.
_PRODUCTION_DEFAULTS = {"password_min_length": 8, "refuse_common_passwords": 1}


def _number(env: Mapping[str, str], field: str, default: int) -> int:
    """Read ``WSGIAUTH_<FIELD>`` as a whole number within the bounds of ``_NUMBERS``."""
    low, high = _NUMBERS[field]
    name = f"WSGIAUTH_{field.upper()}"
    raw = env.get(name) or str(default)
    # Only plain ASCII digits, and few enough for int() (which refuses
    # strings of over 4300 digits); anything else is reported below.
    is_number = raw.isascii() and raw.isdigit() and len(raw) <= 18
    value = int(raw) if is_number else low - 1
    if not low <= value <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}, not {raw!r}")
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
        or not raw.isascii()  # the Host a browser sends has the xn-- form of a name
        or any(char in raw for char in " ?#@\\")
    ):
        raise ValueError(
            "WSGIAUTH_PUBLIC_URL must be an http:// or https:// URL with no query, "
            "fragment or user, in ASCII (xn-- for an international name), "
            f"such as https://auth.example.com, not {raw!r}"
        )
    return raw.rstrip("/")


def _allowed_hosts(env: Mapping[str, str]) -> frozenset[str]:
    """Read ``WSGIAUTH_ALLOWED_HOSTS``: host names, comma-separated, without ports."""
    names = set()
    for raw in env.get("WSGIAUTH_ALLOWED_HOSTS", "").split(","):
        if not raw.strip():
            continue
        name = host_name(raw)
        # A name as the Host header carries it: ASCII letters, digits, dots and
        # hyphens (an international name in its xn-- form), or an IPv6 literal.
        ipv6 = name.startswith("[") and name.endswith("]")
        allowed = "0123456789abcdefABCDEF:." if ipv6 else "abcdefghijklmnopqrstuvwxyz0123456789.-"
        if name != raw.strip().lower().rstrip(".") or not all(
            char in allowed for char in name.strip("[]")
        ):
            raise ValueError(
                "WSGIAUTH_ALLOWED_HOSTS must be host names without port, comma-separated, "
                f"such as auth.example.org, 10.0.0.5, [::1] (xn-- for international ones), "
                f"not {raw.strip()!r}"
            )
        names.add(name)
    return frozenset(names)


def _secret_key(env: Mapping[str, str]) -> str:
    """Read ``WSGIAUTH_SECRET_KEY``: any text of at least 32 characters, or ``""`` when unset."""
    key = env.get("WSGIAUTH_SECRET_KEY", "")
    if key and len(key) < MIN_SECRET_KEY_LENGTH:
        # Its length, never its value: the key must not reach a log.
        raise ValueError(
            f"WSGIAUTH_SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters, "
            f"not {len(key)}"
        )
    return key


def load(env: Mapping[str, str] = os.environ, production: bool = False) -> Settings:
    """Read and check every setting; ``production=True`` is ``serve.py --production``."""
    mode = "production" if production else env.get("WSGIAUTH_MODE") or "development"
    if mode not in MODES:
        raise ValueError(f"WSGIAUTH_MODE must be development or production, not {mode!r}")
    missing = [name for name in PRODUCTION_NEEDS if mode == "production" and not env.get(name)]
    if missing:
        names = " and ".join([", ".join(missing[:-1]), missing[-1]] if missing[1:] else missing)
        raise ValueError(
            f"production mode needs {names}: set {'them' if missing[1:] else 'it'} "
            "(docs/operations.md, Configuration, says what each is for)"
        )
    defaults = {field: getattr(Settings, field) for field in _NUMBERS}
    if mode == "production":
        defaults.update(_PRODUCTION_DEFAULTS)
    numbers = {field: _number(env, field, int(default)) for field, default in defaults.items()}
    return Settings(
        production=mode == "production",
        database_url=env.get("WSGIAUTH_DATABASE_URL") or DEFAULT_DATABASE_URL,
        **{field: value for field, value in numbers.items() if field != "refuse_common_passwords"},
        refuse_common_passwords=numbers["refuse_common_passwords"] == 1,
        smtp_host=env.get("WSGIAUTH_SMTP_HOST", ""),
        mail_from=env.get("WSGIAUTH_MAIL_FROM", ""),
        public_url=_public_url(env),
        allowed_hosts=_allowed_hosts(env),
        secret_key=_secret_key(env),
    )
