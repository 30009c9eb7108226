"""Test helpers shared by every test folder (imported as ``helpers``: tests/ is on the
pytest pythonpath). Fixtures live in conftest.py files; plain functions live here."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
import re
from collections.abc import Iterator

import sqlalchemy as sa

from oversight import create_app
from oversight.extensions import db
from oversight.models import Organ, User
from oversight.models.base import utcnow
from oversight.services import complaints
from oversight.services.attachments import Upload
from oversight.services.uow import unit_of_work

PG_URL = os.environ.get("TEST_DATABASE_URL", "")

# A valid 1x1 PNG and a minimal PDF, for upload tests.
PNG_BYTES = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
)
PDF_BYTES = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def reset_postgres() -> None:
    tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
    db.session.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    db.session.commit()


@contextlib.contextmanager
def append_only_lifted(conn, table: str = "case_event"):
    """Tamper as an attacker with DDL rights would: drop the append-only trigger, do the
    damage, put the trigger back. (The hash chain must still catch it.)"""
    from oversight.models.append_only import install_statements, remove_statements

    dialect = conn.dialect.name
    for statement in remove_statements(dialect, table):
        conn.exec_driver_sql(statement)
    yield conn
    for statement in install_statements(dialect, table):
        conn.exec_driver_sql(statement)


@contextlib.contextmanager
def sql_statements(engine=None) -> Iterator[list[str]]:
    """The SQL statements run inside the block (on ``engine``, by default the current
    app's), each with its whitespace collapsed and in lower case."""
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        seen.append(" ".join(statement.split()).lower())

    engine = engine if engine is not None else db.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def prepare_database() -> None:
    """An empty schema for one test: truncate PostgreSQL, create tables on SQLite."""
    if PG_URL:
        reset_postgres()
    else:
        db.create_all()


def make_app(tmp_path, **overrides):
    cfg = {
        "TESTING": True,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SQLALCHEMY_DATABASE_URI": PG_URL or f"sqlite:///{tmp_path / 'test.db'}",
        "WTF_CSRF_ENABLED": False,  # test config only; CSRF has its own tests
        "UPLOAD_MAX_BYTES": 200 * 1024,
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",  # speed only; production uses scrypt
    }
    cfg.update(overrides)
    return create_app(cfg)


def organ(code: str) -> Organ:
    return db.session.execute(sa.select(Organ).where(Organ.code == code)).scalar_one()


def user(username: str) -> User:
    return db.session.execute(sa.select(User).where(User.username == username)).scalar_one()


def login(client, demo, username: str):
    response = client.post("/staff/login", data={"username": username,
                                                 "password": demo[username]})
    assert response.status_code == 302, response.get_data(as_text=True)
    return response


def make_complaint(**overrides):
    """File a complaint through the real service; return (complaint, access code)."""
    now = overrides.pop("now", None) or utcnow()
    data = dict(
        kind="complaint",
        organ_id=organ("BJ-CY").id,
        category_code=organ("BJ-CY").pack.categories[0].code,
        narrative="2026年11月20日晚在三里屯路口，辅警态度蛮横，辱骂群众并推搡。",
        anonymous=False,
        name="王小明",
        phone="13800138000",
        email="wang@example.com",
        officer_badge="BJ10001",
        incident_place="三里屯路口",
    )
    data.update(overrides)
    with unit_of_work():
        return complaints.submit(complaints.ComplaintInput(**data), now)


def file_field(content: bytes, name: str):
    return (io.BytesIO(content), name)


def errors_in(html: str) -> list[str]:
    return re.findall(r'class="error"[^>]*>([^<]*)<', html)


def days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


__all__ = ["PDF_BYTES", "PG_URL", "PNG_BYTES", "Upload", "days", "errors_in", "file_field",
           "login", "make_app", "make_complaint", "organ", "prepare_database",
           "reset_postgres", "user"]
