"""`oversight backup` and `oversight restore` (issue 7, Reliability): an archive restores into
a fresh instance with the same rows, a verifying audit log and the evidence files; a backup
taken while complaints are being filed is one consistent snapshot; a damaged archive, a
database that holds cases and a tampered log are each refused or reported."""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from helpers import (
    PDF_BYTES,
    PG_URL,
    Upload,
    append_only_lifted,
    login,
    make_app,
    make_complaint,
    user,
)

from oversight import backup as backup_module
from oversight.cli import build_cli
from oversight.extensions import db
from oversight.models.append_only import PG_FUNCTION
from oversight.services import workflow
from oversight.services.attachments import storage_path
from oversight.services.uow import unit_of_work


def pdf(n: int) -> bytes:
    """A small PDF whose bytes (and so its content hash) differ with ``n``."""
    return PDF_BYTES + f"%{n}\n".encode()


def run(app, *args: str):
    """Invoke the CLI against ``app`` (its own app context, as the command would get)."""
    with app.app_context():
        result = app.test_cli_runner().invoke(build_cli(), list(args))
        db.session.remove()
    return result


def counts(app) -> dict[str, int]:
    with app.app_context(), db.engine.connect() as conn:
        return {name: conn.execute(sa.select(sa.func.count()).select_from(sa.table(name)))
                .scalar_one() for name in sa.inspect(conn).get_table_names()}


def take_backup(app, tmp_path) -> tuple[Path, dict]:
    result = run(app, "backup", "--to", str(tmp_path / "backups"))
    assert result.exit_code == 0, result.output
    (archive,) = (tmp_path / "backups").glob("*.tar")
    with tarfile.open(archive) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())
    return archive, manifest


def uploads(app) -> dict[str, bytes]:
    folder = Path(app.config["UPLOAD_FOLDER"])
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def referenced_files(app) -> list[str]:
    with app.app_context(), db.engine.connect() as conn:
        return sorted(conn.execute(sa.text("SELECT DISTINCT sha256 FROM attachment")).scalars())


@pytest.fixture
def cases(app, demo):
    """Three complaints with an evidence file each; the first accepted (a notice)."""
    made = [make_complaint(files=[Upload(f"evidence{i}.pdf", pdf(i))])[0] for i in range(3)]
    with unit_of_work():
        workflow.fire(made[0], "accept", user("intake"))
    ids = [c.id for c in made]
    db.session.remove()
    return ids


@pytest.fixture
def fresh(app, tmp_path):
    """Make a second instance to restore into: its own instance folder (no evidence files,
    no search index) and its own SQLite file; on PostgreSQL the same database, emptied
    (no tables, no trigger function), as a new server's would be."""
    made = []

    def make():
        db.session.remove()
        db.engine.dispose()  # the first instance's connections would block DROP TABLE
        other = make_app(tmp_path / "fresh")
        made.append(other)
        if PG_URL:
            with other.app_context():
                db.drop_all()
                with db.engine.begin() as conn:
                    conn.exec_driver_sql(f"DROP FUNCTION IF EXISTS {PG_FUNCTION}()")
                db.engine.dispose()
        return other

    yield make
    for other in made:
        with other.app_context():
            db.session.remove()
            if PG_URL:
                db.create_all()  # the session's schema, should a restore have failed
            db.engine.dispose()


def test_backup_restores_into_a_fresh_instance(app, demo, cases, fresh, tmp_path):
    before = counts(app)
    digests = referenced_files(app)
    archive, manifest = take_backup(app, tmp_path)

    assert oct(archive.stat().st_mode & 0o777) == "0o600"
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    database = backup_module.DATABASE_MEMBERS[manifest["dialect"]]
    assert set(names) == {database, "manifest.json",
                          *(f"attachments/{d[:2]}/{d}" for d in digests)}
    assert manifest["tables"] == before
    assert manifest["tables"]["complaint"] == 3 and len(digests) == 3
    assert manifest["audit_log"]["chains"] == 3 and manifest["audit_log"]["notices"] >= 1

    target = fresh()
    result = run(target, "restore", str(archive))
    assert result.exit_code == 0, result.output
    assert "FAILED" not in result.output and "oversight reindex" in result.output

    assert counts(target) == manifest["tables"]
    verified = run(target, "verify-log")
    assert verified.exit_code == 0 and "OK" in verified.output
    with target.app_context():
        for digest in digests:
            assert hashlib.sha256(storage_path(digest).read_bytes()).hexdigest() == digest
    login(target.test_client(), demo, "intake")


def test_a_backup_taken_while_complaints_are_filed_is_one_snapshot(
        app, demo, fresh, tmp_path, monkeypatch):
    filed: list[int] = []
    errors: list[BaseException] = []
    stop = threading.Event()
    progress = threading.Condition()

    def file_complaints():
        with app.app_context():
            try:
                while not stop.is_set():
                    n = len(filed)
                    make_complaint(files=[Upload(f"w{n}.pdf", pdf(1000 + n))])
                    with progress:
                        filed.append(n)
                        progress.notify_all()
            except BaseException as exc:  # reported by the test below
                errors.append(exc)
                with progress:
                    progress.notify_all()
            finally:
                db.session.remove()

    def wait_for_more(n: int) -> None:
        with progress:
            target = len(filed) + n
            assert progress.wait_for(lambda: len(filed) >= target or errors, timeout=60)

    counted = backup_module._row_counts

    def count_after_more_commits(conn, tables):
        # The snapshot is taken (SQLite: copied; PostgreSQL: exported and handed to
        # pg_dump). Two more complaints commit before the counts are read: counts taken
        # outside the snapshot would then differ from the archived database.
        wait_for_more(2)
        return counted(conn, tables)

    writer = threading.Thread(target=file_complaints)
    writer.start()
    try:
        wait_for_more(3)
        at_start = len(filed)
        with monkeypatch.context() as patch:
            patch.setattr(backup_module, "_row_counts", count_after_more_commits)
            result = run(app, "backup", "--to", str(tmp_path / "backups"))
        wait_for_more(1)
    finally:
        stop.set()
        writer.join(timeout=60)
    assert not errors, errors
    assert result.exit_code == 0, result.output
    (archive,) = (tmp_path / "backups").glob("*.tar")
    with tarfile.open(archive) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())
    in_backup = manifest["tables"]["complaint"]
    # Writes went on before, during and after the snapshot.
    assert at_start <= in_backup <= len(filed) - 3

    target = fresh()
    restored = run(target, "restore", str(archive))
    assert restored.exit_code == 0, restored.output
    assert counts(target) == manifest["tables"]
    assert run(target, "verify-log").exit_code == 0
    with target.app_context(), db.engine.connect() as conn:
        def lacking(table: str, where: str) -> int:
            return conn.execute(sa.text(
                f"SELECT count(*) FROM complaint c WHERE NOT EXISTS (SELECT 1 FROM {table} x"
                f" WHERE {where})")).scalar_one()

        event = "x.case_type = 'complaint' AND x.case_id = c.id AND x.seq = 1"
        assert lacking("case_event", event) == 0
        assert lacking("case_clock", "x.case_type = 'complaint' AND x.case_id = c.id") == 0
        assert lacking("complainant_identity", "x.complaint_id = c.id") == 0
        assert lacking("attachment", "x.case_type = 'complaint' AND x.case_id = c.id") == 0
    for digest in referenced_files(target):
        with target.app_context():
            assert hashlib.sha256(storage_path(digest).read_bytes()).hexdigest() == digest


def _flip_byte(archive: Path, member: str) -> None:
    with tarfile.open(archive) as tar:
        offset = tar.getmember(member).offset_data + 10
    with open(archive, "r+b") as fh:
        fh.seek(offset)
        byte = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([byte[0] ^ 0xFF]))


@pytest.mark.parametrize("damage", ["database", "evidence", "truncated"])
def test_a_damaged_archive_is_refused_before_anything_changes(app, cases, tmp_path, damage):
    archive, manifest = take_backup(app, tmp_path)
    if damage == "database":
        _flip_byte(archive, backup_module.DATABASE_MEMBERS[manifest["dialect"]])
    elif damage == "evidence":
        _flip_byte(archive, next(n for n in manifest["members"] if n.startswith("attach")))
    else:
        os.truncate(archive, archive.stat().st_size * 2 // 3)
    make_complaint(files=[Upload("later.pdf", pdf(99))])  # the database moves on
    db.session.remove()
    before, files = counts(app), uploads(app)

    result = run(app, "restore", "--force", str(archive))

    assert result.exit_code == 1
    assert "damaged" in result.output and "nothing was restored" in result.output
    assert counts(app) == before and uploads(app) == files
    assert not list(Path(app.config["INSTANCE_PATH"]).glob(".restore-*"))


def test_restore_over_cases_needs_force_then_replaces_them(app, cases, tmp_path):
    from oversight import search

    archive, manifest = take_backup(app, tmp_path)
    make_complaint(files=[Upload("later.pdf", pdf(99))])
    search.rebuild()  # this host's index now shows the later complaint
    db.session.remove()
    with db.engine.begin() as conn:  # as a later migration might have added
        conn.execute(sa.text("CREATE TABLE leftover_from_later (id integer PRIMARY KEY)"))
    before, files = counts(app), uploads(app)

    refused = run(app, "restore", str(archive))
    assert refused.exit_code == 1
    assert "already holds" in refused.output and "--force" in refused.output
    assert counts(app) == before and uploads(app) == files

    forced = run(app, "restore", "--force", str(archive))
    assert forced.exit_code == 0, forced.output
    assert "index was retired" in forced.output
    assert counts(app) == manifest["tables"]  # the later complaint and table are gone
    # SQLite replaced the whole file; PostgreSQL's restore drops what the dump lacks.
    assert ("dropped: leftover_from_later" in forced.output) == bool(PG_URL)
    assert run(app, "verify-log").exit_code == 0
    assert not (Path(app.config["SEARCH_INDEX_DIR"]) / "CURRENT").exists()
    # The audit tables came back append-only.
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), db.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM case_event"))


def test_restore_reports_an_event_tampered_before_the_backup(app, cases, fresh, tmp_path):
    db.session.remove()
    with db.engine.begin() as conn, append_only_lifted(conn):
        conn.execute(sa.text("UPDATE case_event SET reason = 'forged' WHERE case_type = "
                             "'complaint' AND case_id = :id AND seq = 1"), {"id": cases[1]})
    archive, manifest = take_backup(app, tmp_path)

    target = fresh()
    result = run(target, "restore", str(archive))

    assert result.exit_code == 1
    assert "FAILED audit log" in result.output
    assert f"BROKEN complaint#{cases[1]} seq 1" in result.output
    assert "Restore FAILED: 1 check(s) failed (audit log)" in result.output
    assert counts(target) == manifest["tables"]  # restored all the same, for inspection


def test_backup_refuses_an_evidence_file_that_no_longer_matches_its_hash(app, cases, tmp_path):
    digest = referenced_files(app)[0]
    storage_path(digest).write_bytes(pdf(12345))

    result = run(app, "backup", "--to", str(tmp_path / "backups"))

    assert result.exit_code == 1
    assert f"content differs from its hash {digest}" in result.output
    assert list((tmp_path / "backups").iterdir()) == []  # no archive, no leftovers
