"""The OpenAPI document: valid, complete, and true of a real server (schemathesis).

schemathesis reads ``wsgiauth/openapi.json`` and sends a real ``serve.py``
requests made from it, in all its phases: the document's examples, the
coverage of every keyword's edges, random fuzzing, and stateful sequences
that follow the document's links (register, log in, see the profile, log
out; ask for a reset token, use it). Every answer goes through all its
checks: no 5xx, statuses, content types, headers and bodies as documented,
valid data accepted, invalid data refused, ``Allow`` right, and the rest.
The operations that need a session get one of their own (``SessionCookie``).
The runs are deterministic: the same requests every time.
"""

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
import sqlalchemy
from conftest import Server
from openapi_spec_validator import validate
from schemathesis.config import SchemathesisConfig
from schemathesis.openapi.checks import RejectedPositiveData

from wsgiauth.api import OPENAPI_DOCUMENT, ROUTES
from wsgiauth.routing import Router
from wsgiauth.user import Base

DOCUMENT_PATH = Path(__file__).resolve().parent.parent / "wsgiauth" / "openapi.json"
DOCUMENT: dict[str, Any] = json.loads(DOCUMENT_PATH.read_text())

# Enough to find what is wrong in a few seconds per operation, and to keep
# the whole file near a minute on two busy cores: the coverage and examples
# phases are exhaustive anyway; max_examples bounds the random ones.
MAX_EXAMPLES = 25
STATEFUL_SCENARIOS = 20
STATEFUL_STEPS = 8
# Every run makes the same requests, in the same order (hypothesis's
# derandomize, schemathesis's deterministic generation and a fixed seed): the
# test passes or fails for what the service does, never for what chance drew.
SEED = 20250601

CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": SEED,
        "checks": {"enabled": True},
        "phases": {
            "examples": {"enabled": True},
            "coverage": {"enabled": True},
            "fuzzing": {"enabled": True},
            "stateful": {"enabled": True},
        },
        "generation": {
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            # No shared example database between runs: every run is fresh.
            "database": "none",
        },
    }
)
schema = schemathesis.openapi.from_path(DOCUMENT_PATH, config=CONFIG)


# A request the document calls valid must not be refused, with two
# exceptions, each for its reason. Any other 400 to a valid request fails.
ALLOWED_REFUSALS = {
    # The seed answers a taken email with 400, not 409 (POST /users, and
    # POST /profile/email as at registration): the request is well formed,
    # but the account exists already, which no schema can know.
    "email already registered",
    # JSON Schema's maxLength counts characters and bcrypt's limit is 72
    # bytes of UTF-8 (37 "é" are 37 characters and 74 bytes): no keyword
    # counts bytes, and the service cannot take more, since bcrypt reads 72.
    "password must be at most 72 bytes in UTF-8",
    # A one-time code of the right shape may still be wrong, or have nothing
    # to be checked against: which codes are right, no schema can know.
    "wrong code",
    "nothing to confirm: ask for a secret first",
    "two-factor login is not on",
}


@schema.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    """Keep every failure but a valid request refused for one of ``ALLOWED_REFUSALS``."""
    if isinstance(failure, RejectedPositiveData) and response.status_code == 400:
        return json.loads(response.content).get("message") not in ALLOWED_REFUSALS
    return True


# The account whose session cookie schemathesis sends where the document
# asks for one, so that a 200 is reachable and its `ignored_auth` check can
# see that the same request without the cookie, or with a forged one, is refused.
ACCOUNT = {"email": "schemathesis@example.com", "password": "a password of its own"}
SECURED = [
    "profile",
    "profileHead",
    "logOut",
    "changePassword",
    "requestEmailChange",
    "changeEmail",
    "deleteAccount",
    "beginTwoFactor",
    "confirmTwoFactor",
    "turnOffTwoFactor",
]
BASE_URL: list[str] = []  # set by the base_url fixture, read by SessionCookie
DATABASE_URL: list[str] = []  # the server's database, emptied before each stateful scenario


# refresh_interval=None: a new session each time, since a logOut ends the last one.
@schema.auth(refresh_interval=None).apply_to(operation_id=SECURED)
class SessionCookie:
    """Log the account in and put its session cookie on the case."""

    def get(self, case: Any, context: Any) -> str | None:
        if not BASE_URL:
            # Asked at collection too, before the server runs: no cookie then.
            return None
        answer = requests.post(f"{BASE_URL[0]}/sessions", data=ACCOUNT, timeout=30)
        assert answer.status_code == 200, answer.text
        return str(answer.cookies["session_id"])

    def set(self, case: Any, data: str, context: Any) -> None:
        case.cookies = {**(case.cookies or {}), "session_id": data}


# --- the document itself ---------------------------------------------------------------


def test_the_document_is_valid_openapi_3_1() -> None:
    assert DOCUMENT["openapi"].startswith("3.1.")
    validate(DOCUMENT)  # raises on the first error


def route_path(pattern: str) -> str:
    """Turn a route's regex into the path it matches (``/openapi\\.json``)."""
    return re.sub(r"\\(.)", r"\1", pattern)


def test_every_route_and_method_is_in_the_document_and_nothing_else() -> None:
    # The methods the router answers on each path, HEAD and OPTIONS included.
    router = Router(ROUTES)
    served = {
        (path, method)
        for path in (route_path(route.pattern.pattern) for route in ROUTES)
        for method in router.allowed_methods(path)
    }
    documented = {
        (path, method.upper())
        for path, item in DOCUMENT["paths"].items()
        for method in item
        if method in {"get", "head", "post", "put", "delete", "options", "patch", "trace"}
    }
    assert served == documented


def test_every_operation_has_an_id_and_every_answer_a_documented_shape() -> None:
    ids = []
    for item in DOCUMENT["paths"].values():
        for method, operation in item.items():
            ids.append(operation["operationId"])
            assert operation["responses"], method
    assert len(ids) == len(set(ids))


def test_get_openapi_json_serves_the_document(app: Any) -> None:
    answer = app.get("/openapi.json")
    assert answer.content_type == "application/json"
    assert answer.body == OPENAPI_DOCUMENT == DOCUMENT_PATH.read_bytes()
    assert answer.json == DOCUMENT


# --- schemathesis against a real serve.py ------------------------------------------------


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One ``serve.py`` on a fresh SQLite file for every schemathesis test here."""
    directory = tmp_path_factory.mktemp("schemathesis")
    DATABASE_URL[:] = [f"sqlite:///{directory / 'test.sqlite'}"]
    with Server(DATABASE_URL[0]) as server:
        assert requests.post(f"{server.url}/users", data=ACCOUNT, timeout=30).status_code == 200
        BASE_URL[:] = [server.url]
        yield server.url
        log = server.stop()
    assert "Traceback" not in log, log


SETTINGS = hypothesis.settings(
    deadline=None,  # a loaded machine is not a failure
    suppress_health_check=list(hypothesis.HealthCheck),
    database=None,
    derandomize=True,
)


@schema.parametrize()
@hypothesis.settings(SETTINGS)
def test_every_operation_answers_as_documented(case: Any, base_url: str) -> None:
    case.call_and_validate(base_url=base_url)


def test_stateful_sequences_answer_as_documented(base_url: str) -> None:
    class Machine(schema.as_state_machine()):  # type: ignore[misc]
        """Scenarios that follow the document's links, against the real server."""

        def setup(self) -> None:
            # Each scenario starts from the same database: one account and
            # nothing else. Otherwise what an earlier scenario left (a taken
            # email, a throttle) changes which links can be followed, and
            # hypothesis, replaying a scenario, finds it flaky.
            engine = sqlalchemy.create_engine(DATABASE_URL[0])
            with engine.begin() as connection:
                for table in reversed(Base.metadata.sorted_tables):  # every table, users last
                    connection.execute(table.delete())
            engine.dispose()
            registered = requests.post(f"{base_url}/users", data=ACCOUNT, timeout=30)
            assert registered.status_code == 200, registered.text

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": base_url}

    Machine.run(
        settings=hypothesis.settings(
            SETTINGS, max_examples=STATEFUL_SCENARIOS, stateful_step_count=STATEFUL_STEPS
        )
    )
