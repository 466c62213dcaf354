"""The seed's own examples, run as the seed runs them, and its other demands.

Each seed task that shows a ``main.py`` and its output is run here as a
script in a fresh working directory, with ``from wsgiauth.<module> import``
in place of ``from <module> import``, and must print exactly what the seed
shows. The scan garbled the docstring quotes of some scripts (``11 11 11``,
``\\Pi \\Pi \\Pi``); they are restored to ``\"\"\"`` and nothing else changed.
Tasks 12, 13, 16 and 18 have no example; they are tested in-process.
"""

import ast
import hashlib
import importlib
import importlib.util
import inspect
import os
import pkgutil
import re
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import FunctionType, ModuleType

import bcrypt
import pytest

import wsgiauth
from wsgiauth.auth import Auth
from wsgiauth.db import DB

ROOT = Path(__file__).resolve().parent.parent

TASK_0 = '''#!/usr/bin/env python3
"""
Main file
"""
from wsgiauth.user import User
print(User.__tablename__)
for column in User.__table__.columns:
    print("{}: {}".format(column, column.type))
'''
TASK_0_OUT = """users
users.id: INTEGER
users.email: VARCHAR(250)
users.hashed_password: VARCHAR(250)
users.session_id: VARCHAR(250)
users.reset_token: VARCHAR(250)
"""

TASK_1 = '''#!/usr/bin/env python3

"""

Main file
"""

from wsgiauth.db import DB
from wsgiauth.user import User

my_db = DB()

user_1 = my_db.add_user("test@test.com", "SuperHashedPwd")
print(user_1.id)

user_2 = my_db.add_user("test1@test.com", "SuperHashedPwd1")
print(user_2.id)
'''
TASK_1_OUT = "1\n2\n"

TASK_2 = '''#!/usr/bin/env python3
"""
Main file
"""
from wsgiauth.db import DB
from wsgiauth.user import User
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.orm.exc import NoResultFound
my_db = DB()
user = my_db.add_user("test@test.com", "PwdHashed")
print(user.id)
find_user = my_db.find_user_by(email="test@test.com")
print(find_user.id)
try:
    find_user = my_db.find_user_by(email="test2@test.com")
    print(find_user.id)
except NoResultFound:
    print("Not found")
try:
    find_user = my_db.find_user_by(no_email="test@test.com")
    print(find_user.id)
except InvalidRequestError:
    print("Invalid")
'''
TASK_2_OUT = "1\n1\nNot found\nInvalid\n"

TASK_3 = '''#!/usr/bin/env python3
"""
Main file
"""
from wsgiauth.db import DB
from wsgiauth.user import User
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.orm.exc import NoResultFound
my_db = DB()
email = 'test@test.com'
hashed_password = "hashedPwd"
user = my_db.add_user(email, hashed_password)
print(user.id)
try:
    my_db.update_user(user.id, hashed_password='NewPwd')
    print("Password updated")
except ValueError:
    print("Error")
'''
TASK_3_OUT = "1\nPassword updated\n"

TASK_4 = '''#!/usr/bin/env python3
"""
Main file
"""
from wsgiauth.auth import _hash_password

print(_hash_password("Hello Holberton"))
'''
# The seed shows b'$2b$12$eUDdeuBtrD41c8dXvzh95ehsWYCCAi4VH1JbESzgbgZT.eMMzi.G2':
# the salt is random, so only the shape can be compared.
TASK_4_OUT = re.compile(r"b'\$2b\$12\$[./A-Za-z0-9]{53}'\n")

TASK_5 = '''#!/usr/bin/env python3
"""
Main file
"""
from wsgiauth.auth import Auth
email = 'me@me.com'
password = 'mySecuredPwd'
auth = Auth()
try:
    user = auth.register_user(email, password)
    print("successfully created a new user!")
except ValueError as err:
    print("could not create a new user: {}".format(err))
try:
    user = auth.register_user(email, password)
    print("successfully created a new user!")
except ValueError as err:
    print("could not create a new user: {}".format(err))
'''
TASK_5_OUT = (
    "successfully created a new user!\ncould not create a new user: User me@me.com already exists\n"
)

TASK_8 = '''#!/usr/bin/env python3
"""
Main file
"""
from wsgiauth.auth import Auth
email = 'bob@bob.com'
password = 'MyPwdOfBob'
auth = Auth()
auth.register_user(email, password)
print(auth.valid_login(email, password))
print(auth.valid_login(email, "WrongPwd"))
print(auth.valid_login("unknown@email", password))
'''
TASK_8_OUT = "True\nFalse\nFalse\n"

TASK_10 = '''#!/usr/bin/env python3
"""
Main file
"""
from wsgiauth.auth import Auth
email = 'bob@bob.com'
password = 'MyPwdOfBob'
auth = Auth()
auth.register_user(email, password)
print(auth.create_session(email))
print(auth.create_session("unknown@email.com"))
'''
# The seed shows 5a006849-343e-4a48-ba4e-bbd523fcca58: a random UUID4.
UUID4 = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
TASK_10_OUT = re.compile(UUID4 + r"\nNone\n")


# Each example: (script, expected stdout, WSGIAUTH_BCRYPT_ROUNDS or None for
# the default, whether it opens the default database).
EXAMPLES = {
    "task0-user-model": (TASK_0, TASK_0_OUT, "4", False),
    "task1-add-user": (TASK_1, TASK_1_OUT, "4", True),
    "task2-find-user": (TASK_2, TASK_2_OUT, "4", True),
    "task3-update-user": (TASK_3, TASK_3_OUT, "4", True),
    "task4-hash-password": (TASK_4, TASK_4_OUT, None, False),
    "task5-register-user": (TASK_5, TASK_5_OUT, "4", True),
    "task8-valid-login": (TASK_8, TASK_8_OUT, "4", True),
    "task10-create-session": (TASK_10, TASK_10_OUT, "4", True),
}


@dataclass
class Run:
    """What one example script did."""

    cwd: Path
    returncode: int
    stdout: str
    stderr: str


def _seed_env(bcrypt_rounds: str | None) -> dict[str, str]:
    """The environment of a seed run: no database URL, so the default file."""
    env = dict(os.environ)
    env.pop("WSGIAUTH_DATABASE_URL", None)
    env.pop("WSGIAUTH_BCRYPT_ROUNDS", None)
    if bcrypt_rounds is not None:
        env["WSGIAUTH_BCRYPT_ROUNDS"] = bcrypt_rounds
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


@pytest.fixture(scope="module")
def seed_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """Run every example at once (importing SQLAlchemy is most of their time)."""
    started = {}
    for name, (script, _, rounds, _) in EXAMPLES.items():
        cwd = tmp_path_factory.mktemp(name)
        process = subprocess.Popen(
            [sys.executable, "-c", script],
            cwd=cwd,
            env=_seed_env(rounds),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started[name] = (cwd, process)
    runs = {}
    try:
        for name, (cwd, process) in started.items():
            stdout, stderr = process.communicate(timeout=60)
            runs[name] = Run(cwd, process.returncode, stdout, stderr)
    finally:
        for _, process in started.values():
            if process.poll() is None:
                process.kill()
                process.wait()
    return runs


@pytest.mark.parametrize(
    "name", [name for name, example in EXAMPLES.items() if isinstance(example[1], str)]
)
def test_seed_example_prints_the_seed_output(name: str, seed_runs: dict[str, Run]) -> None:
    run = seed_runs[name]
    assert run.returncode == 0, run.stderr
    assert run.stdout == EXAMPLES[name][1]


@pytest.mark.parametrize("name", [name for name, example in EXAMPLES.items() if example[3]])
def test_seed_example_uses_the_default_sqlite_file_in_the_working_directory(
    name: str, seed_runs: dict[str, Run]
) -> None:
    run = seed_runs[name]
    assert run.returncode == 0, run.stderr
    names = {path.name for path in run.cwd.iterdir()}
    assert "wsgiauth.sqlite" in names
    assert names <= {"wsgiauth.sqlite", "wsgiauth.sqlite-wal", "wsgiauth.sqlite-shm"}


def test_seed_task4_hash_password_prints_a_bcrypt_hash_with_12_rounds(
    seed_runs: dict[str, Run],
) -> None:
    run = seed_runs["task4-hash-password"]
    assert run.returncode == 0, run.stderr
    assert TASK_4_OUT.fullmatch(run.stdout), run.stdout
    hashed = ast.literal_eval(run.stdout)
    assert bcrypt.checkpw(b"Hello Holberton", hashed)


def test_seed_task10_create_session_prints_a_uuid4_then_none(seed_runs: dict[str, Run]) -> None:
    run = seed_runs["task10-create-session"]
    assert run.returncode == 0, run.stderr
    assert TASK_10_OUT.fullmatch(run.stdout), run.stdout
    assert uuid.UUID(run.stdout.splitlines()[0]).version == 4


def digest(token: str) -> str:
    """The SHA-256 hex digest that Auth stores in place of a session id or reset token."""
    return hashlib.sha256(token.encode()).hexdigest()


# Task 12: Auth.get_user_from_session_id.


def test_task12_session_id_none_is_none_even_with_logged_out_users(auth: Auth) -> None:
    # A logged-out user has session_id NULL: a None lookup must not find them.
    auth.register_user("out@example.com", "pw")
    assert auth.get_user_from_session_id(None) is None


def test_task12_unknown_session_id_is_none(auth: Auth) -> None:
    auth.register_user("bob@bob.com", "pw")
    auth.create_session("bob@bob.com")
    assert auth.get_user_from_session_id(str(uuid.uuid4())) is None


def test_task12_valid_session_id_returns_its_user(auth: Auth) -> None:
    auth.register_user("other@example.com", "pw")
    other_session = auth.create_session("other@example.com")
    bob = auth.register_user("bob@bob.com", "pw")
    session_id = auth.create_session("bob@bob.com")
    assert session_id is not None
    found = auth.get_user_from_session_id(session_id)
    assert found is not None
    # The column holds the id's SHA-256 digest, never the id itself.
    assert (found.id, found.email, found.session_id) == (bob.id, "bob@bob.com", digest(session_id))
    assert session_id != other_session


# Task 13: Auth.destroy_session.


def test_task13_destroy_session_sets_session_to_none(auth: Auth, db: DB) -> None:
    bob = auth.register_user("bob@bob.com", "pw")
    auth.register_user("alice@example.com", "pw")
    bob_session = auth.create_session("bob@bob.com")
    alice_session = auth.create_session("alice@example.com")
    assert auth.destroy_session(bob.id) is None
    assert db.find_user_by(id=bob.id).session_id is None
    assert auth.get_user_from_session_id(bob_session) is None
    # Only Bob's session ends.
    alice = auth.get_user_from_session_id(alice_session)
    assert alice is not None
    assert alice.email == "alice@example.com"


def test_task13_destroy_session_of_unknown_id_does_nothing(auth: Auth, db: DB) -> None:
    bob = auth.register_user("bob@bob.com", "pw")
    session_id = auth.create_session("bob@bob.com")
    assert session_id is not None
    assert auth.destroy_session(bob.id + 1000) is None
    assert db.find_user_by(id=bob.id).session_id == digest(session_id)
    found = auth.get_user_from_session_id(session_id)
    assert found is not None
    assert found.id == bob.id


# Task 16: Auth.get_reset_password_token.


def test_task16_reset_token_for_unknown_email_raises_value_error(auth: Auth) -> None:
    auth.register_user("bob@bob.com", "pw")
    with pytest.raises(ValueError):
        auth.get_reset_password_token("nobody@bob.com")


def test_task16_reset_token_is_a_uuid4_stored_on_the_user(auth: Auth, db: DB) -> None:
    bob = auth.register_user("bob@bob.com", "pw")
    token = auth.get_reset_password_token("bob@bob.com")
    assert isinstance(token, str)
    assert re.fullmatch(UUID4, token), token
    assert str(uuid.UUID(token)) == token
    # The column holds the token's SHA-256 digest, never the token itself.
    assert db.find_user_by(id=bob.id).reset_token == digest(token)
    # A second request gives a new token, which replaces the first.
    second = auth.get_reset_password_token("bob@bob.com")
    assert second != token
    assert db.find_user_by(id=bob.id).reset_token == digest(second)


# Task 18: Auth.update_password.


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(str(uuid.uuid4()), id="unknown-uuid4"),
        pytest.param("not-a-token", id="not-a-uuid"),
        pytest.param("", id="empty"),
    ],
)
def test_task18_update_password_with_unknown_token_raises_value_error(
    auth: Auth, db: DB, token: str
) -> None:
    bob = auth.register_user("bob@bob.com", "old password")
    auth.get_reset_password_token("bob@bob.com")
    before = db.find_user_by(id=bob.id).hashed_password
    with pytest.raises(ValueError):
        auth.update_password(token, "new password")
    assert db.find_user_by(id=bob.id).hashed_password == before


def test_task18_update_password_sets_a_new_hash_and_clears_the_token(auth: Auth, db: DB) -> None:
    bob = auth.register_user("bob@bob.com", "old password")
    old_hash = db.find_user_by(id=bob.id).hashed_password
    token = auth.get_reset_password_token("bob@bob.com")
    assert auth.update_password(token, "new password") is None
    user = db.find_user_by(id=bob.id)
    assert user.hashed_password != old_hash
    assert isinstance(user.hashed_password, str)
    assert user.hashed_password.startswith("$2b$")
    assert bcrypt.checkpw(b"new password", user.hashed_password.encode())
    assert user.reset_token is None
    assert auth.valid_login("bob@bob.com", "new password") is True
    assert auth.valid_login("bob@bob.com", "old password") is False


def test_task18_a_reset_token_works_once(auth: Auth) -> None:
    auth.register_user("bob@bob.com", "old password")
    token = auth.get_reset_password_token("bob@bob.com")
    auth.update_password(token, "new password")
    with pytest.raises(ValueError):
        auth.update_password(token, "third password")
    assert auth.valid_login("bob@bob.com", "new password") is True
    assert auth.valid_login("bob@bob.com", "third password") is False


# The seed's requirements on every module, class and function.


def _load_serve() -> ModuleType:
    """Import ``serve.py`` from the repository root without running it."""
    spec = importlib.util.spec_from_file_location("serve", ROOT / "serve.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _modules() -> list[ModuleType]:
    """Every module of the wsgiauth package, then serve.py."""
    names = [info.name for info in pkgutil.walk_packages(wsgiauth.__path__, "wsgiauth.")]
    return [wsgiauth, *(importlib.import_module(name) for name in sorted(names)), _load_serve()]


def _functions_of(owner: object, qualname: str, filename: str) -> list[tuple[str, FunctionType]]:
    """The functions written in ``filename`` that ``owner`` defines itself."""
    found = []
    for name, value in vars(owner).items():
        if isinstance(value, staticmethod | classmethod):
            value = value.__func__
        elif isinstance(value, property):
            value = value.fget
        if not isinstance(value, FunctionType):
            continue
        # Skip what is only imported here, and what a decorator such as
        # @dataclass generated (its code has no file of ours).
        if value.__code__.co_filename != filename:
            continue
        if not value.__qualname__.startswith(qualname):
            continue
        found.append((f"{qualname}{name}", value))
    return found


def _documented_objects() -> list[tuple[str, object]]:
    """Every module, class and function (method) that must be documented."""
    objects: list[tuple[str, object]] = []
    for module in _modules():
        filename = module.__file__
        assert filename is not None
        objects.append((module.__name__, module))
        objects.extend(
            (f"{module.__name__}.{name}", function)
            for name, function in _functions_of(module, "", filename)
        )
        for name, cls in vars(module).items():
            if inspect.isclass(cls) and cls.__module__ == module.__name__:
                objects.append((f"{module.__name__}.{name}", cls))
                objects.extend(
                    (f"{module.__name__}.{qual}", function)
                    for qual, function in _functions_of(cls, f"{cls.__qualname__}.", filename)
                )
    return objects


def test_the_walk_finds_what_it_should() -> None:
    # If the walk found nothing, the two tests below would pass vacuously.
    names = {name for name, _ in _documented_objects()}
    expected = {
        "wsgiauth",
        "wsgiauth.user",
        "wsgiauth.user.User",
        "wsgiauth.user.User.__repr__",
        "wsgiauth.db.DB.find_user_by",
        "wsgiauth.auth._hash_password",
        "wsgiauth.auth.Auth.register_user",
        "wsgiauth.app.create_app",
        "serve",
        "serve.main",
    }
    assert expected <= names, expected - names


def test_every_module_class_and_function_has_a_sentence_for_docstring() -> None:
    missing = []
    for name, obj in _documented_objects():
        # obj.__doc__, not inspect.getdoc, which would inherit a parent's.
        doc = obj.__doc__
        if not doc or len(doc.split()) < 2:
            missing.append(name)
    assert missing == []


def test_every_function_is_fully_type_annotated() -> None:
    unannotated = []
    for name, obj in _documented_objects():
        if not isinstance(obj, FunctionType):
            continue
        signature = inspect.signature(obj)
        for parameter in signature.parameters.values():
            if parameter.name in ("self", "cls"):
                continue
            if parameter.annotation is inspect.Parameter.empty:
                unannotated.append(f"{name}({parameter.name})")
        if signature.return_annotation is inspect.Signature.empty:
            unannotated.append(f"{name} -> ?")
    assert unannotated == []
