"""Settings: ``config.load`` reads every ``WSGIAUTH_*`` variable, and names the one that is wrong.

docs/operations.md has the table of the variables, with their defaults.
"""

import os

import pytest
from helpers import DAY, MAIL_FROM, PUBLIC_URL, SECRET_KEY, production_env

from wsgiauth import config


def test_default_settings_are_the_documented_ones() -> None:
    settings = config.Settings()
    assert settings.session_ttl == 14 * DAY == 1_209_600
    assert settings.reset_token_ttl == 3600
    assert settings.email_token_ttl == 3600
    assert settings.login_failure_limit == 10
    assert settings.login_failure_window == 900
    assert settings.password_min_length == 1


PRODUCTION_ENV = {
    "WSGIAUTH_MODE": "production",
    "WSGIAUTH_SMTP_HOST": "localhost",
    "WSGIAUTH_MAIL_FROM": "noreply@example.com",
    "WSGIAUTH_PUBLIC_URL": PUBLIC_URL,
    "WSGIAUTH_SECRET_KEY": SECRET_KEY,
}


def test_load_defaults_in_development() -> None:
    settings = config.load({})
    assert settings == config.Settings()
    assert settings.mode == "development"
    assert settings.production is False
    assert settings.password_min_length == 1
    assert settings.session_ttl == 1_209_600
    assert settings.reset_token_ttl == 3600
    assert (settings.login_failure_limit, settings.login_failure_window) == (10, 900)


def test_load_defaults_in_production() -> None:
    for settings in (
        config.load(PRODUCTION_ENV),
        config.load({**PRODUCTION_ENV, "WSGIAUTH_MODE": ""}, production=True),
    ):
        assert settings.mode == "production"
        assert settings.production is True
        assert settings.password_min_length == 8
        assert settings.smtp_host == "localhost"
        assert settings.mail_from == "noreply@example.com"
        assert settings.session_ttl == 1_209_600


def test_load_reads_every_number() -> None:
    env = {
        "WSGIAUTH_SESSION_TTL": "60",
        "WSGIAUTH_RESET_TOKEN_TTL": "61",
        "WSGIAUTH_EMAIL_TOKEN_TTL": "64",
        "WSGIAUTH_LOGIN_FAILURE_LIMIT": "3",
        "WSGIAUTH_LOGIN_FAILURE_WINDOW": "62",
        "WSGIAUTH_RESET_REQUEST_LIMIT": "4",
        "WSGIAUTH_RESET_REQUEST_WINDOW": "63",
        "WSGIAUTH_PASSWORD_MIN_LENGTH": "12",
        "WSGIAUTH_SMTP_PORT": "2525",
    }
    settings = config.load({**PRODUCTION_ENV, **env})
    assert (
        settings.session_ttl,
        settings.reset_token_ttl,
        settings.email_token_ttl,
        settings.login_failure_limit,
        settings.login_failure_window,
        settings.reset_request_limit,
        settings.reset_request_window,
        settings.password_min_length,
        settings.smtp_port,
    ) == (60, 61, 64, 3, 62, 4, 63, 12, 2525)


@pytest.mark.parametrize(
    ("missing", "named"),
    [
        pytest.param(
            ("WSGIAUTH_SMTP_HOST", "WSGIAUTH_MAIL_FROM"),
            ("WSGIAUTH_SMTP_HOST", "WSGIAUTH_MAIL_FROM"),
            id="both",
        ),
        pytest.param(("WSGIAUTH_SMTP_HOST",), ("WSGIAUTH_SMTP_HOST",), id="smtp-host"),
        pytest.param(("WSGIAUTH_MAIL_FROM",), ("WSGIAUTH_MAIL_FROM",), id="mail-from"),
        pytest.param(("WSGIAUTH_PUBLIC_URL",), ("WSGIAUTH_PUBLIC_URL",), id="public-url"),
        pytest.param(("WSGIAUTH_SECRET_KEY",), ("WSGIAUTH_SECRET_KEY",), id="secret-key"),
        pytest.param(
            ("WSGIAUTH_PUBLIC_URL", "WSGIAUTH_SECRET_KEY"),
            ("WSGIAUTH_PUBLIC_URL", "WSGIAUTH_SECRET_KEY"),
            id="url-and-key",
        ),
    ],
)
@pytest.mark.parametrize("flag", [False, True], ids=["env", "flag"])
def test_production_without_mail_settings_raises_naming_them(
    missing: tuple[str, ...], named: tuple[str, ...], flag: bool
) -> None:
    env = {k: v for k, v in PRODUCTION_ENV.items() if k not in missing}
    if flag:
        env.pop("WSGIAUTH_MODE")
    with pytest.raises(ValueError) as caught:
        config.load(env, production=flag)
    for name in named:
        assert name in str(caught.value)
    for name in set(PRODUCTION_ENV) - set(missing) - {"WSGIAUTH_MODE"}:
        assert name not in str(caught.value)


def test_production_needs_the_smtp_settings():
    with pytest.raises(ValueError, match="WSGIAUTH_SMTP_HOST"):
        config.load({"WSGIAUTH_MAIL_FROM": MAIL_FROM}, production=True)
    with pytest.raises(ValueError, match="WSGIAUTH_MAIL_FROM"):
        config.load({"WSGIAUTH_SMTP_HOST": "127.0.0.1"}, production=True)
    with pytest.raises(ValueError, match="WSGIAUTH_SMTP_HOST"):
        config.load({"WSGIAUTH_MODE": "production"})
    settings = config.load({"WSGIAUTH_MODE": "production", **production_env(2525)})
    assert settings.production
    assert settings.password_min_length == 8
    assert (settings.smtp_host, settings.smtp_port, settings.mail_from) == (
        "127.0.0.1",
        2525,
        MAIL_FROM,
    )


NUMBER_VARIABLES = [
    "WSGIAUTH_SESSION_TTL",
    "WSGIAUTH_RESET_TOKEN_TTL",
    "WSGIAUTH_EMAIL_TOKEN_TTL",
    "WSGIAUTH_LOGIN_FAILURE_LIMIT",
    "WSGIAUTH_LOGIN_FAILURE_WINDOW",
    "WSGIAUTH_RESET_REQUEST_LIMIT",
    "WSGIAUTH_RESET_REQUEST_WINDOW",
    "WSGIAUTH_PASSWORD_MIN_LENGTH",
    "WSGIAUTH_SMTP_PORT",
]


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("abc", id="text"),
        pytest.param("0", id="zero"),
        pytest.param("-5", id="negative"),
        pytest.param("1.5", id="fraction"),
        pytest.param("1e3", id="exponent"),
        pytest.param("²", id="superscript"),
        pytest.param("99999999999", id="too-big"),
        pytest.param("9" * 5000, id="5000-digits"),
    ],
)
@pytest.mark.parametrize("variable", NUMBER_VARIABLES)
def test_a_bad_number_raises_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ValueError, match=variable):
        config.load({**PRODUCTION_ENV, variable: value})


def test_a_password_minimum_over_72_is_refused() -> None:
    # No password could meet it: bcrypt takes 72 bytes at most.
    with pytest.raises(ValueError, match="WSGIAUTH_PASSWORD_MIN_LENGTH"):
        config.load({"WSGIAUTH_PASSWORD_MIN_LENGTH": "73"})


@pytest.mark.parametrize("mode", ["staging", "Production", "prod", "dev"])
def test_an_unknown_mode_raises(mode: str) -> None:
    with pytest.raises(ValueError, match="WSGIAUTH_MODE"):
        config.load({**PRODUCTION_ENV, "WSGIAUTH_MODE": mode})


def test_bcrypt_slots_default_to_the_cores_and_are_configurable() -> None:
    assert config.Settings().bcrypt_slots == (os.cpu_count() or 1)
    assert config.load({}).bcrypt_slots == (os.cpu_count() or 1)
    assert config.load({"WSGIAUTH_BCRYPT_SLOTS": "3"}).bcrypt_slots == 3
    with pytest.raises(ValueError, match="WSGIAUTH_BCRYPT_SLOTS"):
        config.load({"WSGIAUTH_BCRYPT_SLOTS": "0"})


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", ""),
        ("https://auth.example.com", "https://auth.example.com"),
        ("https://auth.example.com/", "https://auth.example.com"),
        ("http://127.0.0.1:5000/auth/", "http://127.0.0.1:5000/auth"),
    ],
)
def test_public_url_setting(raw, expected):
    assert config.load({"WSGIAUTH_PUBLIC_URL": raw}).public_url == expected


@pytest.mark.parametrize(
    "raw",
    [
        "auth.example.com",
        "ftp://auth.example.com",
        "https://",
        "https:///path",
        "https://auth.example.com/?x=1",
        "https://auth.example.com/#top",
        "https://user@auth.example.com",
        "https://auth.example.com/a b",
        "https://auth.example.com\n",
        "javascript://auth.example.com",
    ],
)
def test_a_bad_public_url_is_refused_naming_the_variable(raw):
    with pytest.raises(ValueError, match="WSGIAUTH_PUBLIC_URL"):
        config.load({"WSGIAUTH_PUBLIC_URL": raw})


# --- the secret key -------------------------------------------------------------------


def test_the_secret_key_is_read_and_never_shown() -> None:
    settings = config.load(PRODUCTION_ENV)
    assert settings.secret_key == SECRET_KEY
    assert SECRET_KEY not in repr(settings)
    assert SECRET_KEY not in str(settings)
    # Development needs none, and takes one.
    assert config.load({}).secret_key == ""
    assert config.load({"WSGIAUTH_SECRET_KEY": "k" * 32}).secret_key == "k" * 32


@pytest.mark.parametrize("key", ["k" * 31, "short", "é" * 31])
@pytest.mark.parametrize("env", [{}, PRODUCTION_ENV], ids=["development", "production"])
def test_a_secret_key_under_32_characters_is_refused_without_showing_it(key, env) -> None:
    with pytest.raises(ValueError, match="WSGIAUTH_SECRET_KEY") as refused:
        config.load({**env, "WSGIAUTH_SECRET_KEY": key})
    assert key not in str(refused.value)
    assert "32" in str(refused.value)


# --- the host names production answers to ------------------------------------------------


def test_host_names_are_the_public_urls_and_the_allowed_ones() -> None:
    settings = config.load(
        {
            **PRODUCTION_ENV,
            "WSGIAUTH_PUBLIC_URL": "https://Auth.Example.com:8443/auth",
            "WSGIAUTH_ALLOWED_HOSTS": " auth.example.org , 10.0.0.5,[::1],login.example.com.,",
        }
    )
    assert settings.allowed_hosts == {"auth.example.org", "10.0.0.5", "[::1]", "login.example.com"}
    assert settings.host_names == settings.allowed_hosts | {"auth.example.com"}
    assert config.load(PRODUCTION_ENV).host_names == {"auth.example.com"}
    assert config.load({}).host_names == frozenset()


@pytest.mark.parametrize(
    "raw",
    [
        "auth.example.org:443",
        "https://auth.example.org",
        "a b",
        "*.example.org",
        "b\u00fccher.example",
    ],
)
def test_a_bad_allowed_host_is_refused_naming_the_variable(raw) -> None:
    with pytest.raises(ValueError, match="WSGIAUTH_ALLOWED_HOSTS"):
        config.load({"WSGIAUTH_ALLOWED_HOSTS": raw})


def test_a_public_url_with_an_international_name_needs_its_ascii_form() -> None:
    # The Host a browser sends is the xn-- form: the one the check compares.
    with pytest.raises(ValueError, match="xn--"):
        config.load({"WSGIAUTH_PUBLIC_URL": "https://b\u00fccher.example"})
    settings = config.load({"WSGIAUTH_PUBLIC_URL": "https://xn--bcher-kva.example"})
    assert settings.host_names == {"xn--bcher-kva.example"}
