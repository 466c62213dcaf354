"""The tables: ``users`` keeps exactly the seed's five columns, and one row per email."""

import pytest
import sqlalchemy
from helpers import rows
from sqlalchemy.exc import IntegrityError

from wsgiauth.db import DB
from wsgiauth.user import User

COLUMNS = [
    # name, type, nullable, primary key
    ("id", "INTEGER", False, 1),
    ("email", "VARCHAR(250)", False, 0),
    ("hashed_password", "VARCHAR(250)", False, 0),
    ("session_id", "VARCHAR(250)", True, 0),
    ("reset_token", "VARCHAR(250)", True, 0),
]


def test_the_model_has_exactly_the_five_seed_columns() -> None:
    assert User.__tablename__ == "users"
    found = [
        (column.name, str(column.type), column.nullable, int(column.primary_key))
        for column in User.__table__.columns
    ]
    assert found == COLUMNS


def test_the_database_table_has_exactly_the_five_seed_columns(
    raw: sqlalchemy.Connection,
) -> None:
    inspector = sqlalchemy.inspect(raw)
    primary_key = inspector.get_pk_constraint("users")["constrained_columns"]
    found = [
        (
            column["name"],
            str(column["type"]),
            column["nullable"],
            int(column["name"] in primary_key),
        )
        for column in inspector.get_columns("users")
    ]
    assert found == COLUMNS


def test_email_is_unique_in_the_database(db: DB, raw: sqlalchemy.Connection) -> None:
    first = db.add_user("bob@bob.com", "hash1")
    with pytest.raises(IntegrityError):
        db.add_user("bob@bob.com", "hash2")
    assert rows(raw) == [(first.id, "bob@bob.com", "hash1", None, None)]
    # The DB is still usable after the failed insert. (PostgreSQL does not
    # give back the id the failed insert drew from its sequence.)
    second = db.add_user("alice@bob.com", "hash3")
    assert second.id > first.id
    assert rows(raw)[-1] == (second.id, "alice@bob.com", "hash3", None, None)
