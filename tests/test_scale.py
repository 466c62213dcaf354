"""Scaling: index lookups, several server processes, and crash durability.

Three promises of running wsgiauth for real, each checked on SQLite and on
PostgreSQL:

1. Every lookup the service makes is an index lookup. The SQL that ``Auth``
   really emits is captured and each statement is EXPLAINed on a table of a
   few thousand rows, so that PostgreSQL's planner has a real choice.
2. Two ``serve.py`` processes on one database behave as one service: a
   session made or ended through one is seen by the other, and concurrent
   registrations across both neither lose nor duplicate a user.
3. A registration answered 200 survives a SIGKILL of the server.
"""

import re
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from conftest import Server
from sqlalchemy import Connection, Engine, create_engine, event, insert, inspect, text

from wsgiauth import totp
from wsgiauth.auth import Auth, CodeRequired, WrongPassword
from wsgiauth.db import DB
from wsgiauth.user import (
    Attempts,
    Device,
    EmailChange,
    PendingLogin,
    RecoveryCode,
    TokenTimes,
    TotpSecret,
    User,
)

TIMEOUT = 10  # seconds, for every HTTP request

# A bcrypt hash at cost 4 of nothing in particular: the bulk rows never log in.
SOME_HASH = "$2b$04$" + "a" * 53


def http_session() -> requests.Session:
    """A requests session that ignores any proxy the environment names."""
    session = requests.Session()
    session.trust_env = False
    return session


def call(method: str, url: str, **kwargs: Any) -> requests.Response:
    """Make one request on a fresh connection, with no cookie jar carried over."""
    with http_session() as http:
        return http.request(method, url, timeout=TIMEOUT, allow_redirects=False, **kwargs)


def payload_of(response: requests.Response) -> object:
    """Return the JSON body, or the text of a body that is not JSON (to show it)."""
    try:
        return response.json()
    except ValueError:
        return response.text


def count_rows(db_url: str, where: str = "", **params: Any) -> int:
    """Count rows of ``users`` straight from the database."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            query = text(f"SELECT COUNT(*) FROM users {where}")
            return int(connection.execute(query, params).scalar_one())
    finally:
        engine.dispose()


# --- 1. every lookup is an index lookup --------------------------------------------

BULK_USERS = 2000


def fill_tables(engine: Engine) -> None:
    """Insert a few thousand realistic rows in bulk, then ANALYZE.

    Half the users are logged in, one in ten has a reset token, each has a
    ``token_times`` row, two devices and a change of email waiting for its
    token, and there are as many throttle counters. One in two has
    two-factor login, with ten recovery codes and a login waiting for its
    code (tables that small would be scanned, not searched).
    """
    users = [
        {
            "id": number,
            "email": f"bulk{number}@example.com",
            "hashed_password": SOME_HASH,
            "session_id": uuid.uuid4().hex * 2 if number % 2 else None,
            "reset_token": uuid.uuid4().hex * 2 if number % 10 == 0 else None,
        }
        for number in range(1, BULK_USERS + 1)
    ]
    times = [
        {"user_id": number, "session_issued_at": time.time(), "reset_issued_at": None}
        for number in range(1, BULK_USERS + 1)
    ]
    attempts = [
        {
            "key": f"login:bulk{number}@example.com",
            "count": 1,
            "window_started_at": time.time(),
            "streak": 1,
            "expires_at": None,
        }
        for number in range(1, BULK_USERS + 1)
    ]
    devices = [
        {
            "user_id": number // 2,
            "digest": uuid.uuid4().hex * 2,
            "issued_at": time.time(),
            "count": 0,
            "window_started_at": time.time(),
            "streak": 0,
        }
        for number in range(2, 2 * BULK_USERS + 2)
    ]
    changes = [
        {
            "user_id": number,
            "digest": uuid.uuid4().hex * 2,
            "new_email": f"new{number}@example.com",
            "issued_at": time.time(),
        }
        for number in range(1, BULK_USERS + 1)
    ]
    two_factor = range(2, BULK_USERS + 1, 2)
    secrets = [
        {"user_id": number, "sealed_secret": "v1." + "A" * 64, "confirmed": True, "last_step": 1}
        for number in two_factor
    ]
    codes = [
        {"user_id": number, "digest": uuid.uuid4().hex * 2}
        for number in two_factor
        for _ in range(10)
    ]
    held = [
        {
            "user_id": number,
            "digest": uuid.uuid4().hex * 2,
            "issued_at": time.time(),
            "checked_hash": SOME_HASH,
        }
        for number in two_factor
    ]
    with engine.begin() as connection:
        connection.execute(insert(User), users)
        connection.execute(insert(TokenTimes), times)
        connection.execute(insert(Attempts), attempts)
        connection.execute(insert(Device), devices)
        connection.execute(insert(EmailChange), changes)
        connection.execute(insert(TotpSecret), secrets)
        connection.execute(insert(RecoveryCode), codes)
        connection.execute(insert(PendingLogin), held)
        if engine.dialect.name == "postgresql":
            # The explicit ids above did not move the sequence on.
            connection.execute(
                text("SELECT setval(pg_get_serial_sequence('users', 'id'), :last)"),
                {"last": BULK_USERS},
            )
    # ANALYZE outside a transaction block: the planner now knows the tables'
    # real sizes, as it would on a service that has been running a while.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("ANALYZE"))


def index_names(connection: Connection, table: str, column: str) -> set[str]:
    """Return the names of the indexes on ``table`` whose first column is ``column``."""
    if connection.dialect.name == "sqlite":
        names = set()
        for row in connection.exec_driver_sql(f"PRAGMA index_list({table})"):
            name = row[1]
            first = connection.exec_driver_sql(f"PRAGMA index_info('{name}')").first()
            if first is not None and first[2] == column:
                names.add(name)
        return names
    query = text(
        "SELECT i.relname FROM pg_index x"
        " JOIN pg_class i ON i.oid = x.indexrelid"
        " JOIN pg_class t ON t.oid = x.indrelid"
        " JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = x.indkey[0]"
        " WHERE t.relname = :table AND a.attname = :column"
    )
    return set(connection.execute(query, {"table": table, "column": column}).scalars())


def is_rowid_alias(connection: Connection, table: str, column: str) -> bool:
    """Tell whether ``column`` is SQLite's INTEGER PRIMARY KEY (the rowid) of ``table``."""
    if connection.dialect.name != "sqlite":
        return False
    for row in connection.exec_driver_sql(f"PRAGMA table_info({table})"):
        if row[1] == column:
            return bool(row[5]) and row[2].upper() == "INTEGER"
    return False


# "users.email = ?" (SQLite) or "users.email = %(email_1)s" (psycopg), in a
# WHERE or a join's ON: the columns a statement looks rows up by. SQLite
# quotes a column named like a keyword: 'attempts."key" = ?'.
# The sweep of expired attempts looks up by "attempts.expires_at <= ?", in
# "attempts.key IN (SELECT ...)".
LOOKUP = re.compile(
    r"\b(users|token_times|attempts|email_changes|devices|totp_secrets|recovery_codes|"
    r'pending_logins)\."?(\w+)"? '
    r"(?:=|<=|IN) (?:\?|%\(\w+\)s|\w+\.\w+|\()"
)


def lookups(statement: str) -> dict[str, set[str]]:
    """Map each table a statement looks up rows in to the columns it looks them up by."""
    found: dict[str, set[str]] = {}
    # Only after WHERE or ON: "SET session_id=?" in an UPDATE is no lookup.
    for clause in re.split(r"\b(?:WHERE|ON)\b", statement)[1:]:
        for table, column in LOOKUP.findall(clause):
            found.setdefault(table, set()).add(column)
    return found


def explain(connection: Connection, statement: str, parameters: Any) -> list[str]:
    """Return the plan of one captured statement, one string per line or step."""
    if connection.dialect.name == "sqlite":
        rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
        return [row[-1] for row in rows]
    rows = connection.exec_driver_sql(f"EXPLAIN {statement}", parameters)
    return [row[0] for row in rows]


def uses_an_index(connection: Connection, plan: list[str], table: str, columns: set[str]) -> bool:
    """Tell whether ``plan`` reaches ``table`` through an index on one of ``columns``."""
    names = set().union(*(index_names(connection, table, column) for column in columns))
    if connection.dialect.name == "sqlite":
        for step in plan:
            searched = re.match(rf"SEARCH (?:TABLE )?{table}\b(.*)", step)
            if not searched:
                continue
            how = searched[1]
            if "INTEGER PRIMARY KEY" in how and any(
                is_rowid_alias(connection, table, column) for column in columns
            ):
                return True
            used = re.search(r"USING (?:COVERING )?INDEX (\w+)", how)
            if used and used[1] in names:
                return True
        return False
    text_plan = "\n".join(plan)
    for name in re.findall(rf"Index (?:Only )?Scan using (\w+) on {table}\b", text_plan):
        if name in names:
            return True
    if re.search(rf"Bitmap Heap Scan on {table}\b", text_plan):
        return any(name in names for name in re.findall(r"Bitmap Index Scan on (\w+)", text_plan))
    return False


def test_the_lookup_columns_are_indexed(db_url: str) -> None:
    database = DB(db_url)
    try:
        inspector = inspect(database.engine)  # private: fine in a test
        unique_on_email = [
            constraint
            for constraint in inspector.get_unique_constraints("users")
            if constraint["column_names"] == ["email"]
        ] + [
            index
            for index in inspector.get_indexes("users")
            if index["column_names"] == ["email"] and index["unique"]
        ]
        assert unique_on_email, "users.email has no unique constraint"
        indexed = {tuple(index["column_names"]) for index in inspector.get_indexes("users")}
        assert ("session_id",) in indexed
        assert ("reset_token",) in indexed
        assert inspector.get_pk_constraint("users")["constrained_columns"] == ["id"]
        assert inspector.get_pk_constraint("token_times")["constrained_columns"] == ["user_id"]
        assert inspector.get_pk_constraint("attempts")["constrained_columns"] == ["key"]
        indexed = {tuple(index["column_names"]) for index in inspector.get_indexes("devices")}
        assert ("user_id",) in indexed
        assert any(
            index["column_names"] == ["digest"] and index["unique"]
            for index in inspector.get_indexes("devices")
        ) or any(
            constraint["column_names"] == ["digest"]
            for constraint in inspector.get_unique_constraints("devices")
        )
    finally:
        database.dispose()


def test_every_lookup_the_service_makes_uses_an_index(db_url: str) -> None:
    database = DB(db_url)
    auth = Auth(database)
    captured: list[tuple[str, Any]] = []

    def capture(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool
    ) -> None:
        if not many:
            captured.append((statement, parameters))

    try:
        fill_tables(database.engine)
        # The DB's own engine, private: the one place that sees every
        # statement exactly as the service sends it.
        event.listen(database.engine, "before_cursor_execute", capture)
        email, password = "scale@example.com", "s3cr3t-pw"
        # Every public path of Auth the app uses, and the DB's by-id ones.
        auth.register_user(email, password)
        with pytest.raises(ValueError):
            auth.register_user(email, password)
        with pytest.raises(WrongPassword):
            auth.log_in(email, "wrong password")  # a new throttle row
        with pytest.raises(WrongPassword):
            auth.log_in(email, "wrong again")  # the counter raised
        login = auth.log_in(email, password)  # and cleared; a device made
        with pytest.raises(WrongPassword):
            auth.log_in(email, "wrong", device=login.device)  # counted on the device
        again = auth.log_in(email, password, device=login.device)  # and replaced
        auth._devices.end(login.user.id, keep=again.device)
        session_id = again.session_id
        with pytest.raises(WrongPassword):
            auth.log_in("nobody@example.com", password)
        user = auth.get_user_from_session_id(session_id)
        assert user is not None and user.email == email
        assert auth.get_user_from_session_id(str(uuid.uuid4())) is None
        auth.throttle_reset_request(email)
        auth.throttle_reset_request(email)
        token = auth.get_reset_password_token(email)
        auth.update_password(token, "n3w-pw", email=email)
        with pytest.raises(ValueError):
            auth.update_password(token, "n3w-pw-again", email=email)
        assert auth.log_in(email, "n3w-pw").session_id
        # The account's changes, on an account of their own.
        other = auth.register_user("other@example.com", password)
        with pytest.raises(WrongPassword):
            auth.change_password(other, "wrong password", "n3w-pw")
        login = auth.change_password(other, password, "n3w-pw")
        change = auth.request_email_change(login.user, "moved@example.com", "n3w-pw")
        mover = auth.get_user_from_session_id(login.session_id)
        assert mover is not None
        with pytest.raises(ValueError):
            auth.change_email(mover, str(uuid.uuid4()))
        assert auth.change_email(mover, change.token) == "moved@example.com"
        assert auth.may_mail_notice("moved@example.com")
        mover = auth.get_user_from_session_id(login.session_id)
        assert mover is not None
        auth.delete_account(mover, "n3w-pw")
        # Two-factor login, on an account of its own: turned on, a login
        # held for its code and finished, a recovery code, turned off.
        third = auth.register_user("third@example.com", password)
        secret = totp.from_base32(auth.begin_two_factor(third, password).secret)
        step = totp.time_step(time.time())
        codes = auth.confirm_two_factor(third, totp.hotp(secret, step))
        with pytest.raises(CodeRequired) as held:
            auth.log_in("third@example.com", password, hold=True)
        assert auth.finish_login(held.value.pending, totp.hotp(secret, step + 1)).session_id
        assert auth.log_in("third@example.com", password, code=codes[0]).session_id
        auth.turn_off_two_factor(third, password, codes[1])
        auth.destroy_session(user.id)
        auth.destroy_session(10**9)
        assert database.find_user_by(id=user.id).email == email
        database.update_user(user.id, hashed_password=SOME_HASH)
        event.remove(database.engine, "before_cursor_execute", capture)

        statements = {
            (statement, repr(parameters)): parameters
            for statement, parameters in captured
            if statement.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE"))
        }
        looked_up: dict[str, set[str]] = {}
        for statement, _ in statements:
            for table, columns in lookups(statement).items():
                looked_up.setdefault(table, set()).update(columns)
        # Every kind of lookup the service makes (users by email, session
        # digest, reset digest and id; token times by user; attempts by key)
        # was made, so was checked.
        assert {"email", "session_id", "reset_token", "id"} <= looked_up.get("users", set())
        assert "user_id" in looked_up.get("token_times", set())
        assert "key" in looked_up.get("attempts", set())
        assert {"digest", "user_id"} <= looked_up.get("devices", set())
        assert "user_id" in looked_up.get("email_changes", set())
        assert "user_id" in looked_up.get("totp_secrets", set())
        assert {"digest", "user_id"} <= looked_up.get("recovery_codes", set())
        assert {"digest", "user_id"} <= looked_up.get("pending_logins", set())

        scans = []
        with database.engine.connect() as connection:
            for (statement, _), parameters in statements.items():
                found = lookups(statement)
                assert found, f"a statement that looks nothing up: {statement}"
                plan = explain(connection, statement, parameters)
                shown = f"{statement}\n  plan: " + "\n        ".join(plan)
                if any(re.search(r"\bSCAN (?:TABLE )?\w+|Seq Scan", step) for step in plan):
                    scans.append(shown)
                    continue
                for table, columns in found.items():
                    if not uses_an_index(connection, plan, table, columns):
                        scans.append(f"{table} not reached by an index on {columns}:\n{shown}")
            connection.rollback()
        assert not scans, "\n\n".join(scans)
    finally:
        database.dispose()


# --- 2. several server processes on one database -----------------------------------


def test_a_session_and_a_logout_are_seen_by_both_processes(db_url: str) -> None:
    form = {"email": "both@example.com", "password": "b0th-pw"}
    with Server(db_url) as first, Server(db_url) as second:
        assert call("POST", f"{first.url}/users", data=form).status_code == 200
        # Logged in through the second, known to the first.
        logged_in = call("POST", f"{second.url}/sessions", data=form)
        assert logged_in.status_code == 200, payload_of(logged_in)
        cookie = {"session_id": logged_in.cookies["session_id"]}
        for server in (first, second):
            profile = call("GET", f"{server.url}/profile", cookies=cookie)
            assert profile.status_code == 200, payload_of(profile)
            assert profile.json() == {"email": form["email"]}
        # Logged out through the first, gone on the second too.
        logged_out = call("DELETE", f"{first.url}/sessions", cookies=cookie)
        assert logged_out.status_code == 303
        for server in (second, first):
            assert call("GET", f"{server.url}/profile", cookies=cookie).status_code == 403
            assert call("DELETE", f"{server.url}/sessions", cookies=cookie).status_code == 403
        # A new login through the first replaces the session on both.
        again = call("POST", f"{first.url}/sessions", data=form)
        assert again.status_code == 200
        new_cookie = {"session_id": again.cookies["session_id"]}
        assert new_cookie != cookie
        assert call("GET", f"{second.url}/profile", cookies=new_cookie).status_code == 200
        logs = [first.stop(), second.stop()]
    for log in logs:
        assert "Traceback" not in log


RACERS = 24


def test_concurrent_registrations_across_two_processes(db_url: str) -> None:
    email = "race@example.com"

    def register_all(urls: list[str], emails: list[str]) -> list[tuple[int, object]]:
        barrier = threading.Barrier(len(emails))

        def racer(number: int) -> tuple[int, object]:
            form = {"email": emails[number], "password": f"pw-{number}"}
            with http_session() as http:
                barrier.wait(timeout=TIMEOUT)
                response = http.post(f"{urls[number % 2]}/users", data=form, timeout=TIMEOUT)
                return response.status_code, payload_of(response)

        with ThreadPoolExecutor(max_workers=len(emails)) as pool:
            return list(pool.map(racer, range(len(emails))))

    with Server(db_url) as first, Server(db_url) as second:
        urls = [first.url, second.url]
        # One email from every racer, alternately through each process.
        same = register_all(urls, [email] * RACERS)
        # Distinct emails, all at once through both: every one a user.
        distinct_emails = [f"racer{number}@example.com" for number in range(RACERS)]
        distinct = register_all(urls, distinct_emails)
        logs = [first.stop(), second.stop()]

    assert Counter(status for status, _ in same) == {200: 1, 400: RACERS - 1}, same
    assert [payload for status, payload in same if status == 200] == [
        {"email": email, "message": "user created"}
    ]
    assert all(
        payload == {"message": "email already registered"}
        for status, payload in same
        if status == 400
    )
    assert count_rows(db_url, "WHERE email = :email", email=email) == 1

    assert distinct == [
        (200, {"email": address, "message": "user created"}) for address in distinct_emails
    ]
    assert count_rows(db_url) == 1 + RACERS
    for log in logs:
        assert "Traceback" not in log
        assert "database is locked" not in log


# --- 3. durability: SIGKILL in the middle of a stream of registrations ---------------

WRITERS = 4
# Kill after this many answered registrations, or this many seconds.
KILL_AFTER_SUCCESSES = 60
KILL_AFTER_SECONDS = 1.5


def test_every_answered_registration_survives_a_sigkill(db_url: str) -> None:
    answered: list[tuple[str, str]] = []  # (email, password) answered 200
    other_answers: list[tuple[int, object]] = []
    stop = threading.Event()
    lock = threading.Lock()

    def writer(url: str, number: int) -> None:
        with http_session() as http:
            attempt = 0
            while not stop.is_set():
                email = f"durable{number}-{attempt}@example.com"
                password = f"pw-{number}-{attempt}"
                attempt += 1
                try:
                    response = http.post(
                        f"{url}/users",
                        data={"email": email, "password": password},
                        timeout=TIMEOUT,
                    )
                except requests.RequestException:
                    # The kill cuts requests off: unanswered, so promised nothing.
                    continue
                with lock:
                    if response.status_code == 200:
                        answered.append((email, password))
                    else:
                        other_answers.append((response.status_code, payload_of(response)))

    with Server(db_url, "--threads", "4") as doomed:
        threads = [
            threading.Thread(target=writer, args=(doomed.url, number), daemon=True)
            for number in range(WRITERS)
        ]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + KILL_AFTER_SECONDS
        while time.monotonic() < deadline and len(answered) < KILL_AFTER_SUCCESSES:
            time.sleep(0.02)
        doomed.kill()  # SIGKILL, with requests in flight
        time.sleep(0.2)  # let the writers meet the dead server
        stop.set()
        for thread in threads:
            thread.join(timeout=2 * TIMEOUT)
        assert not any(thread.is_alive() for thread in threads)
        killed_log = doomed.log()

    assert answered, "no registration was answered before the kill:\n" + killed_log
    assert not other_answers, other_answers
    assert "Traceback" not in killed_log

    # Straight from the database: at least every answered registration.
    assert count_rows(db_url) >= len(answered)

    with Server(db_url) as restarted:

        def logs_in(credentials: tuple[str, str]) -> tuple[str, int]:
            email, password = credentials
            with http_session() as http:
                response = http.post(
                    f"{restarted.url}/sessions",
                    data={"email": email, "password": password},
                    timeout=TIMEOUT,
                )
            return email, response.status_code

        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(logs_in, answered))
        log = restarted.stop()
    lost = [email for email, status in results if status != 200]
    assert not lost, f"{len(lost)} of {len(answered)} answered registrations lost: {lost[:10]}"
    assert "Traceback" not in log
