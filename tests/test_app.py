"""The app factory, configuration and the command line."""

import os

import sqlalchemy as sa
from helpers import append_only_lifted, make_app, make_complaint

import oversight
from oversight.cli import build_cli
from oversight.extensions import db


def test_no_app_at_import_time():
    assert not any(type(v).__name__ == "Flask" for v in vars(oversight).values())


def test_secret_key_is_generated_into_instance_and_reused(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    a = make_app(tmp_path)
    key_file = tmp_path / "instance" / "secret_key"
    assert key_file.exists() and oct(key_file.stat().st_mode & 0o777) == "0o600"
    b = make_app(tmp_path)
    assert a.config["SECRET_KEY"] == b.config["SECRET_KEY"] == key_file.read_text()
    assert len(a.config["SECRET_KEY"]) >= 32
    other = make_app(tmp_path / "other")
    assert other.config["SECRET_KEY"] != a.config["SECRET_KEY"]


def test_database_url_switches_to_postgresql(tmp_path, monkeypatch):
    from oversight.config import build_config

    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db.example/oversight")
    cfg = build_config({"INSTANCE_PATH": str(tmp_path)})
    assert cfg["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u:p@db.example/oversight"


def test_sqlite_pragmas_and_immediate_writes(app):
    statements = []
    sa.event.listen(db.engine, "before_cursor_execute",
                    lambda *a: statements.append(a[2]))
    client = app.test_client()
    client.post("/track", data={"number": "TS1", "code": "x"})
    if db.engine.dialect.name != "sqlite":
        # PostgreSQL needs none of it: row locks and MVCC do the work.
        assert "BEGIN IMMEDIATE" not in statements
        return
    assert "BEGIN IMMEDIATE" in statements
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_cli_seed_verify_and_create_user(tmp_path, app):
    runner = app.test_cli_runner()
    cli = build_cli()
    result = runner.invoke(cli, ["seed-demo"])
    assert result.exit_code == 0, result.output
    assert "intake" in result.output and "leader" in result.output
    again = runner.invoke(cli, ["seed-demo"])
    assert again.exit_code != 0 and "已有数据" in again.output
    make_complaint()
    ok = runner.invoke(cli, ["verify-log"])
    assert ok.exit_code == 0 and "OK" in ok.output
    db.session.remove()  # end this test's read snapshot before another connection writes
    with db.engine.begin() as conn, append_only_lifted(conn):
        conn.execute(sa.text("UPDATE case_event SET reason = 'forged'"))
    bad = runner.invoke(cli, ["verify-log"])
    assert bad.exit_code == 1 and "BROKEN" in bad.output
    db.session.remove()
    created = runner.invoke(cli, ["create-user", "--username", "new", "--name", "新人",
                                  "--role", "inspector", "--organ", "BJ-HD",
                                  "--password", "a-long-password"])
    assert created.exit_code == 0, created.output
    short = runner.invoke(cli, ["create-user", "--username", "x", "--name", "x", "--role",
                                "intake", "--organ", "BJ", "--password", "short"])
    assert short.exit_code != 0 and "10" in short.output


def test_verify_log_detects_an_altered_notice(app, demo):
    from helpers import user

    from oversight.services import workflow
    from oversight.services.uow import unit_of_work

    case, _ = make_complaint()
    with unit_of_work():
        workflow.fire(case, "accept", user("intake"))
    runner, cli = app.test_cli_runner(), build_cli()
    assert runner.invoke(cli, ["verify-log"]).exit_code == 0
    db.session.remove()
    with db.engine.begin() as conn, append_only_lifted(conn, "notice"):
        conn.execute(sa.text("UPDATE notice SET body = body || '（已修改）'"))
    bad = runner.invoke(cli, ["verify-log"])
    assert bad.exit_code == 1 and "BROKEN notice GZ" in bad.output


def test_demo_passwords_are_random(app):
    from oversight.seed import seed_demo

    first = seed_demo()
    db.session.rollback()
    second = seed_demo()
    db.session.rollback()
    assert set(first) == {"intake", "inspector", "leader", "admin", "bj_leader", "officer",
                          "yn_inspector", "yn_leader"}
    assert all(first[k] != second[k] and len(first[k]) >= 12 for k in first)


def test_run_migrates_seeds_once_and_serves(tmp_path, monkeypatch):
    """`oversight run` on an empty database: migrations, demo data, logins printed, serve."""
    import werkzeug.serving
    from flask.testing import FlaskCliRunner

    from oversight.models import Organ

    served = []
    monkeypatch.setattr(werkzeug.serving, "run_simple",
                        lambda host, port, app, **kw: served.append((host, port)))
    # Always a fresh SQLite file: the shared PostgreSQL test schema is built by create_all,
    # and migrations against it are covered by test_migrations.py.
    app = make_app(tmp_path, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'run.db'}")
    runner = FlaskCliRunner(app)
    cli = build_cli()
    first = runner.invoke(cli, ["run", "--port", "5099"])
    assert first.exit_code == 0, first.output
    assert "intake" in first.output and "http://127.0.0.1:5099/" in first.output
    assert served == [("127.0.0.1", 5099)]
    second = runner.invoke(cli, ["run", "--port", "5099"])
    assert second.exit_code == 0 and "intake" not in second.output  # seeded only once
    with app.app_context():
        assert db.session.execute(sa.select(sa.func.count(Organ.id))).scalar() > 5
        db.session.remove()
        db.engine.dispose()


def test_unit_of_work_begins_immediate_outside_requests(app):
    """CLI commands write through unit_of_work, so they take SQLite's write lock up front."""
    from oversight.services.uow import unit_of_work

    sqlite = db.engine.dialect.name == "sqlite"
    db.session.remove()
    statements = []
    sa.event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    with unit_of_work():
        db.session.execute(sa.select(1))
    assert ("BEGIN IMMEDIATE" in statements) is sqlite
    db.session.remove()
    statements.clear()
    db.session.execute(sa.select(1))
    assert "BEGIN IMMEDIATE" not in statements  # plain reads stay deferred
    if sqlite:
        assert statements[0] == "BEGIN"


def test_a_write_after_reads_takes_the_write_lock_only_for_the_writing(app, demo):
    """A request reads first (a plain transaction) and writes in a unit of work. Another
    worker commits in between: the unit of work must still write, which on SQLite means
    ending the reading transaction and beginning an IMMEDIATE one (upgrading the old
    snapshot would fail at once with "database is locked"). The write lock is not held
    while the request only reads."""
    from oversight.models import Organ, Throttle
    from oversight.models.base import utcnow
    from oversight.services import throttle
    from oversight.services.uow import unit_of_work

    db.session.remove()
    statements = []
    sa.event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    chaoyang = db.session.execute(sa.select(Organ).where(Organ.code == "BJ-CY")).scalar_one()
    with db.engine.begin() as other_worker:
        other_worker.execute(sa.update(Organ).where(Organ.code == "BJ").values(name="北京市公安局"))
    with unit_of_work():
        throttle.submission_allowed("192.0.2.7", utcnow())
        assert chaoyang.code == "BJ-CY"  # what was read is still there, read again
    assert db.session.execute(sa.select(sa.func.count(Throttle.key))).scalar() == 1
    if db.engine.dialect.name == "sqlite":
        # read in a plain transaction; the lock taken after the other worker's commit
        assert statements[0] == "BEGIN" and statements[1].startswith("SELECT")
        other = next(i for i, s in enumerate(statements) if s.startswith("UPDATE organ"))
        assert statements.index("BEGIN IMMEDIATE") > other


def test_web_workers_do_not_load_the_migration_tools(tmp_path):
    """flask-migrate, Alembic and Mako (11 MB) load only where migrations run."""
    import subprocess
    import sys

    from oversight.config import REPO_ROOT

    code = ("import sys; from oversight import create_app; "
            f"create_app({{'INSTANCE_PATH': {str(tmp_path)!r}}}); "
            "print(sorted(m for m in ('flask_migrate', 'alembic', 'mako') if m in sys.modules))")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",)}
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, check=True,
                         capture_output=True, text=True).stdout
    assert out.strip() == "[]"


def test_the_db_commands_load_them_when_run(app):
    app.extensions.pop("migrate", None)
    runner = app.test_cli_runner()
    # (what Alembic prints goes to the stdout of its first import: check the effect)
    result = runner.invoke(build_cli(), ["db", "stamp", "head"])
    assert result.exit_code == 0, result.output
    assert "migrate" in app.extensions
    from oversight.backup import _code_heads

    db.session.remove()
    assert db.session.execute(sa.text("SELECT version_num FROM alembic_version")
                              ).scalars().all() == _code_heads()


def test_sqlite_writers_wait_for_their_turn_in_line(app):
    """On SQLite a unit of work waits for the one before it in the kernel's queue (a lock
    on a file beside the database), not in SQLite's busy handler: the second one starts
    only when the first has ended, even before either has sent a statement. A unit of
    work within another takes no second turn (it would wait for itself)."""
    import threading

    from oversight.services.uow import unit_of_work
    from oversight.storage import _turn_file

    db.session.remove()
    path = _turn_file(db.session())
    if db.engine.dialect.name != "sqlite":
        assert path is None  # PostgreSQL's own locks queue its writers
        return
    assert path == db.engine.url.database + "-turn"
    order: list[str] = []
    first_in, release = threading.Event(), threading.Event()

    def first():
        with app.app_context(), unit_of_work():
            order.append("first in")
            first_in.set()
            release.wait(10)
            order.append("first out")

    def second():
        with app.app_context(), unit_of_work():
            order.append("second in")

    one = threading.Thread(target=first)
    one.start()
    assert first_in.wait(10)
    two = threading.Thread(target=second)
    two.start()
    two.join(0.3)
    assert two.is_alive() and order == ["first in"]  # waiting for its turn
    release.set()
    one.join(10)
    two.join(10)
    assert order == ["first in", "first out", "second in"]

    with unit_of_work():
        with unit_of_work():  # nested, before any statement: no second turn
            db.session.execute(sa.select(1))


def test_a_turn_file_that_cannot_be_opened_leaves_the_waiting_to_sqlite(app, caplog):
    """The turn is an optimisation: when its file cannot be opened (here a folder is in
    its place; in a deployment, say, a file another user made), units of work still
    write, waiting in SQLite's busy handler, and the log says so once."""
    from oversight import storage
    from oversight.models import Throttle
    from oversight.models.base import utcnow
    from oversight.services import throttle
    from oversight.services.uow import unit_of_work

    db.session.remove()
    path = storage._turn_file(db.session())
    if db.engine.dialect.name != "sqlite":
        assert path is None  # PostgreSQL queues its writers itself
        return
    if os.path.exists(path):
        os.remove(path)
    os.mkdir(path)
    storage._turn_unavailable.clear()
    for attempt in range(2):
        with unit_of_work():
            throttle.submission_allowed(f"192.0.2.{attempt}", utcnow())
    assert db.session.execute(sa.select(sa.func.count(Throttle.key))).scalar() == 2
    warnings = [r for r in caplog.records if "busy handler" in r.getMessage()]
    assert len(warnings) == 1 and path in warnings[0].getMessage()


def test_a_scope_is_one_array_on_postgresql_and_a_list_on_sqlite(app, demo):
    """``storage.any_of``: PostgreSQL gets the subtree's ids as one array parameter (a
    short statement, parsed once) and plans each execution for its own values; SQLite
    gets a parameter per id. Either way the condition selects the same rows."""
    from helpers import organ, sql_statements

    from oversight.models import Complaint
    from oversight.services import organs

    mine = make_complaint()[0]
    other = make_complaint(organ_id=organ("BJ-HD").id)[0]  # beside 朝阳, not under it
    condition = organs.in_subtree(Complaint.organ_id, organ("BJ-CY").path)
    assert condition is organs.in_subtree(Complaint.organ_id, organ("BJ-CY").path)  # kept
    with sql_statements() as statements:
        found = db.session.execute(sa.select(Complaint.id).where(condition)).scalars().all()
    assert found == [mine.id] and other.id not in found
    [statement] = statements
    if db.engine.dialect.name == "postgresql":
        assert "complaint.organ_id = any (" in statement
        mode = db.session.execute(sa.text("SHOW plan_cache_mode")).scalar()
        assert mode == "force_custom_plan"
    else:
        ids = organs.subtree_ids(organ("BJ-CY").path)
        assert len(ids) > 1
        assert f"complaint.organ_id in ({', '.join('?' * len(ids))})" in statement
