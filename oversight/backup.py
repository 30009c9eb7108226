"""Backups and restores (``oversight backup``, ``oversight restore``).

A backup is ONE tar file, written under a temporary name (mode 0600: it holds personal
data) and linked into place only when complete, so a file with the final name is always a
whole archive. One file rather than a directory: one thing to copy off the host, one mode,
never half there. Not compressed: evidence (JPEG, MP4) and the custom-format dump already
are, and ``tar tvf`` lists it at once. It holds:

- ``database/oversight.sqlite3``: a copy made with SQLite's online backup API in one step,
  i.e. one read transaction, consistent while other processes write under WAL (copying
  the file itself gave broken copies, see DESIGN.md §6); or ``database/oversight.pgdump``:
  ``pg_dump --format=custom`` of the whole database;
- ``attachments/<2 hex>/<sha256>``: every evidence file the snapshot's ``attachment`` rows
  refer to, each checked against its content hash while it is copied;
- ``manifest.json`` (last, because it records the other members' hashes): when, the
  dialect, the schema's Alembic revision, the row count of every table, the audit log's
  head (a digest of every chain's last hash and of every notice hash), and the sha256 and
  size of each member.

The counts describe exactly the snapshot in the archive, even while requests write: on
SQLite they are counted in the copy; on PostgreSQL one REPEATABLE READ transaction exports
its snapshot, ``pg_dump --snapshot`` dumps that snapshot, and the same transaction counts.

The search index is not backed up: it is derived from the database, and its cursor into
the search outbox would be wrong for a restored database. A restore retires this host's
index (searches find nothing until ``oversight reindex`` rebuilds it).

A restore (with the app stopped) checks the whole archive against the manifest before it
touches anything, refuses to replace a database that holds cases unless forced, restores
the database (SQLite: backup API into the target, one transaction, so the append-only
triggers never fire; PostgreSQL: ``pg_restore --clean --single-transaction``, all or
nothing: dropping a table drops its trigger, and the dump recreates both) and then the
evidence files, and finally checks the result: the database's integrity, the hash chains
exactly as ``oversight verify-log`` does, the row counts and audit-log head against the
manifest, and the evidence files. It exits non-zero when any check fails, but leaves the
restored data in place for inspection.

A manifest hash detects damage (a bad disk, a partial copy), not a forger who rewrites the
manifest too: keep archives where only operators can write, and sign them if needed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import glob
import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from oversight.extensions import MIGRATIONS, db
from oversight.services.attachments import fsync_dir

FORMAT = 1
MANIFEST = "manifest.json"
DATABASE_MEMBERS = {"sqlite": "database/oversight.sqlite3",
                    "postgresql": "database/oversight.pgdump"}
ATTACHMENT_MEMBER = re.compile(r"attachments/([0-9a-f]{2})/([0-9a-f]{64})")
SHA256 = re.compile(r"[0-9a-f]{64}")
CHUNK = 1024 * 1024
#: How long a restore waits for a lock held by another session before giving up.
LOCK_TIMEOUT_SECONDS = 30
REINDEX_HINT = ("the search index is not in the backup (it is derived from the database): "
                "after a restore, rebuild it with `oversight reindex`")


class BackupError(Exception):
    """A backup or restore refused or failed; the message is for the operator."""


# --- what a snapshot holds, read through one connection (one transaction) -----------------


@dataclass
class Snapshot:
    tables: dict[str, int]
    audit_log: dict
    revision: str | None
    attachments: list[str]


def _table_names(conn: sa.Connection) -> list[str]:
    """The tables of the database (SQLite) or of the connection's schema (PostgreSQL)."""
    return sorted(sa.inspect(conn).get_table_names())


def _row_counts(conn: sa.Connection, tables: list[str]) -> dict[str, int]:
    return {name: conn.execute(sa.select(sa.func.count()).select_from(sa.table(name)))
            .scalar_one() for name in tables}


def _audit_log_head(conn: sa.Connection, tables: list[str]) -> dict:
    """A digest of the last hash of every event chain and of every notice's text hash.

    Each event's hash covers its predecessor, so the last hashes stand for whole chains:
    equal heads mean the restored log is the one that was backed up (verify-log then
    checks that each chain holds). Case types are sorted here and cases by their integer
    id, so the digest does not depend on a server's collation."""
    chains, head = 0, hashlib.sha256()
    if "case_event" in tables:
        types = sorted(conn.execute(sa.text("SELECT DISTINCT case_type FROM case_event"))
                       .scalars())
        last = sa.text(
            "SELECT e.case_id, e.seq, e.hash FROM case_event e JOIN ("
            " SELECT case_id, max(seq) AS seq FROM case_event WHERE case_type = :t"
            " GROUP BY case_id) m ON e.case_id = m.case_id AND e.seq = m.seq"
            " WHERE e.case_type = :t ORDER BY e.case_id"
        ).execution_options(yield_per=5000)
        for case_type in types:
            for case_id, seq, digest in conn.execute(last, {"t": case_type}):
                head.update(f"{case_type}:{case_id}:{seq}:{digest}\n".encode())
                chains += 1
    notices, notices_head = 0, hashlib.sha256()
    if "notice" in tables:
        rows = conn.execute(sa.text("SELECT number, sha256 FROM notice ORDER BY id")
                            .execution_options(yield_per=5000))
        for number, digest in rows:
            notices_head.update(f"{number}:{digest}\n".encode())
            notices += 1
    return {"chains": chains, "head": head.hexdigest(),
            "notices": notices, "notices_head": notices_head.hexdigest()}


def _alembic_revision(conn: sa.Connection, tables: list[str]) -> str | None:
    """The schema's revision; None for a schema made without Alembic (tests)."""
    if "alembic_version" not in tables:
        return None
    revisions = sorted(conn.execute(sa.text("SELECT version_num FROM alembic_version"))
                       .scalars())
    return ",".join(revisions) or None


def _referenced_files(conn: sa.Connection, tables: list[str]) -> list[str]:
    if "attachment" not in tables:
        return []
    digests = sorted(conn.execute(sa.text("SELECT DISTINCT sha256 FROM attachment")).scalars())
    bad = [d for d in digests if not SHA256.fullmatch(d or "")]
    if bad:
        raise BackupError(f"attachment rows hold {len(bad)} malformed sha256 value(s), "
                          f"e.g. {bad[0]!r}")
    return digests


def _describe(conn: sa.Connection) -> Snapshot:
    tables = _table_names(conn)
    return Snapshot(tables=_row_counts(conn, tables), audit_log=_audit_log_head(conn, tables),
                    revision=_alembic_revision(conn, tables),
                    attachments=_referenced_files(conn, tables))


# --- tools and paths ----------------------------------------------------------------------


def _dialect() -> str:
    name = db.engine.dialect.name
    if name not in DATABASE_MEMBERS:
        raise BackupError(f"backups support SQLite and PostgreSQL, not {name}")
    return name


def _sqlite_path() -> Path:
    path = db.engine.url.database
    if not path or path == ":memory:" or path.startswith("file:"):
        raise BackupError(f"cannot back up the SQLite database {path!r}: not a plain file")
    return Path(path).resolve()


def pg_tool(name: str) -> str:
    """pg_dump or pg_restore: the newest of /usr/lib/postgresql/*/bin (Debian installs
    several side by side; a newer one reads an older server), else the one on PATH."""
    def major(path: str) -> int:
        part = Path(path).parent.parent.name
        return int(part) if part.isdigit() else -1

    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=major)
    tool = found[-1] if found else shutil.which(name)
    if not tool:
        raise BackupError(f"{name} not found: install the PostgreSQL client tools, of the "
                          f"server's major version or newer")
    return tool


def _libpq_target() -> tuple[str, dict[str, str]]:
    """The database URL as libpq reads it, with the password moved to the environment
    (never on a command line that ``ps`` shows)."""
    url = db.engine.url
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _migration_scripts():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(cfg)


def _code_heads() -> list[str]:
    return sorted(_migration_scripts().get_heads())


def _revision_known(revision: str) -> bool:
    from alembic.util import CommandError

    scripts = _migration_scripts()
    try:
        return all(scripts.get_revision(r) is not None for r in revision.split(","))
    except CommandError:
        return False


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class _HashingReader:
    """Hands a file to tarfile while hashing what tarfile reads."""

    def __init__(self, fh):
        self._fh = fh
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self._fh.read(size)
        self.digest.update(data)
        return data


# --- backup -------------------------------------------------------------------------------


@dataclass
class BackupResult:
    path: Path
    size: int
    manifest: dict

    def lines(self) -> list[str]:
        from oversight.services.attachments import filesize

        m = self.manifest
        counts = m["tables"]
        files = sum(1 for name in m["members"] if name.startswith("attachments/"))
        log = m["audit_log"]
        return [
            f"Backup written: {self.path} ({filesize(self.size)}, mode 0600)",
            f"  database: {m['dialect']} snapshot at {m['created_at']}, schema revision "
            f"{m['alembic_revision'] or 'none (created without Alembic)'}, "
            f"{len(counts)} tables, {sum(counts.values())} rows "
            f"({counts.get('complaint', 0)} complaints, {counts.get('case_event', 0)} events)",
            f"  evidence files: {files}, each checked against its sha256",
            f"  audit log: {log['chains']} chains and {log['notices']} notices, "
            f"head {log['head'][:16]}",
            f"Note: {REINDEX_HINT}.",
        ]


def _output_path(dest: Path | None, stamp: str) -> Path:
    """``dest`` is an existing directory, a directory to create, or a new ``.tar`` file."""
    if dest is None:
        dest = Path(current_app.config["INSTANCE_PATH"]) / "backups"
    dest = Path(dest)
    if dest.is_dir() or (not dest.exists() and dest.suffix != ".tar"):
        dest.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = dest / f"oversight-backup-{stamp}.tar"
        n = 1
        while path.exists():
            n += 1
            path = dest / f"oversight-backup-{stamp}-{n}.tar"
        return path
    if dest.exists():
        raise BackupError(f"{dest} exists: refusing to overwrite it")
    if not dest.parent.is_dir():
        raise BackupError(f"{dest.parent} is not a directory")
    return dest


def _snapshot_sqlite(staged: Path) -> Snapshot:
    """Copy the live database in one step of the backup API (one read transaction: a
    consistent state while writers go on under WAL), then describe the copy."""
    source_path = _sqlite_path()
    if not source_path.is_file():
        raise BackupError(f"no database at {source_path}")
    source = sqlite3.connect(source_path, timeout=10)
    try:
        copy = sqlite3.connect(staged)
        try:
            source.backup(copy, pages=-1)
            # One self-contained file: no -wal beside it in the archive.
            copy.execute("PRAGMA journal_mode=DELETE")
        finally:
            copy.close()
    finally:
        source.close()
    engine = sa.create_engine(f"sqlite:///{staged}", poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return _describe(conn)
    finally:
        engine.dispose()


def _snapshot_postgres(staged: Path) -> tuple[Snapshot, str]:
    """Dump and count one snapshot: this transaction exports it, pg_dump imports it, and
    the counts are read in it while pg_dump runs."""
    tool = pg_tool("pg_dump")
    version = subprocess.run([tool, "--version"], capture_output=True, text=True,
                             check=False).stdout.strip()
    target, env = _libpq_target()
    conn = db.engine.connect().execution_options(isolation_level="REPEATABLE READ",
                                                 postgresql_readonly=True)
    try:
        with conn.begin():
            snapshot_id = conn.execute(sa.text("SELECT pg_export_snapshot()")).scalar_one()
            with tempfile.TemporaryFile() as errors:
                dump = subprocess.Popen(
                    [tool, "--format=custom", f"--snapshot={snapshot_id}",
                     "--lock-wait-timeout=60s", "--no-password", f"--file={staged}",
                     f"--dbname={target}"],
                    env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                    stderr=errors)
                try:
                    described = _describe(conn)  # while pg_dump runs, in the same snapshot
                except BaseException:
                    dump.kill()
                    dump.wait()
                    raise
                code = dump.wait()
                errors.seek(0)
                message = errors.read().decode(errors="replace").strip()
            if code != 0:
                raise BackupError(f"pg_dump failed (exit {code}): {message[-2000:]}")
    finally:
        conn.close()
    return described, version


def take_backup(dest: Path | None = None) -> BackupResult:
    """Write one archive of the database and the evidence files; see the module doc."""
    dialect = _dialect()
    created = dt.datetime.now(dt.UTC)
    path = _output_path(dest, created.strftime("%Y%m%dT%H%M%SZ"))
    staging = Path(tempfile.mkdtemp(prefix=".oversight-backup-", dir=path.parent))
    try:
        staged_db = staging / "database"
        tools = {}
        db.session.remove()
        if dialect == "sqlite":
            snap = _snapshot_sqlite(staged_db)
        else:
            snap, tools["pg_dump"] = _snapshot_postgres(staged_db)
        manifest = {
            "format": FORMAT,
            "app": "oversight",
            "created_at": created.isoformat(timespec="seconds"),
            "dialect": dialect,
            "alembic_revision": snap.revision,
            "code_revisions": _code_heads(),
            "tables": snap.tables,
            "audit_log": snap.audit_log,
            "search_index": REINDEX_HINT,
            "tools": tools,
            "members": {},
        }
        fd, tmp_name = tempfile.mkstemp(prefix=".oversight-backup-", suffix=".part",
                                        dir=path.parent)  # mkstemp: mode 0600
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as raw:
                with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
                    _add(tar, DATABASE_MEMBERS[dialect], staged_db, manifest)
                    _add_attachments(tar, snap.attachments, manifest)
                    body = json.dumps(manifest, indent=2, sort_keys=True).encode()
                    info = _member_info(MANIFEST, len(body))
                    tar.addfile(info, io.BytesIO(body))
                raw.flush()
                os.fsync(raw.fileno())
            os.link(tmp, path)  # never replaces: a name that exists is never overwritten
        finally:
            tmp.unlink(missing_ok=True)
        fsync_dir(path.parent)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return BackupResult(path=path, size=path.stat().st_size, manifest=manifest)


def _member_info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, 0o600, int(time.time())
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _add(tar: tarfile.TarFile, name: str, path: Path, manifest: dict) -> str:
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        reader = _HashingReader(fh)
        tar.addfile(_member_info(name, size), reader)
    digest = reader.digest.hexdigest()
    manifest["members"][name] = {"sha256": digest, "size": size}
    return digest


def _add_attachments(tar: tarfile.TarFile, digests: list[str], manifest: dict) -> None:
    folder = Path(current_app.config["UPLOAD_FOLDER"])
    missing, altered = [], []
    for digest in digests:
        source = folder / digest[:2] / digest
        if not source.is_file():
            missing.append(digest)
            continue
        if _add(tar, f"attachments/{digest[:2]}/{digest}", source, manifest) != digest:
            altered.append(digest)
    if missing or altered:
        problems = ([f"missing {d}" for d in missing] + [f"content differs from its hash {d}"
                                                          for d in altered])
        raise BackupError(
            f"{len(problems)} evidence file(s) under {folder} cannot be backed up as the "
            "database records them; no archive was written:\n  " + "\n  ".join(problems[:20]))


# --- restore ------------------------------------------------------------------------------


@dataclass
class Check:
    name: str
    ok: bool
    summary: str
    details: list[str] = field(default_factory=list)


@dataclass
class RestoreReport:
    archive: Path
    manifest: dict
    target: str
    restored_files: int
    dropped_tables: list[str]
    checks: list[Check]
    notes: list[str]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def lines(self) -> list[str]:
        m = self.manifest
        out = [f"Restored {self.archive.name} ({m['dialect']} backup taken {m['created_at']}) "
               f"into {self.target}",
               f"  evidence files restored: {self.restored_files}"]
        if self.dropped_tables:
            out.append(f"  tables not in the backup, dropped: {', '.join(self.dropped_tables)}")
        for check in self.checks:
            out.append(f"  {'OK    ' if check.ok else 'FAILED'} {check.name}: {check.summary}")
            out.extend(f"         {line}" for line in check.details[:20])
            if len(check.details) > 20:
                out.append(f"         ... and {len(check.details) - 20} more")
        failed = [c.name for c in self.checks if not c.ok]
        if failed:
            out.append(f"Restore FAILED: {len(failed)} check(s) failed ({', '.join(failed)})")
        else:
            out.append("Restore complete: every check passed.")
        out.extend(self.notes)
        return out


def _read_manifest(tar: tarfile.TarFile) -> dict:
    try:
        member = tar.getmember(MANIFEST)
        fh = tar.extractfile(member) if member.isreg() else None
        manifest = json.loads(fh.read()) if fh else None
    except KeyError:
        raise BackupError(f"no {MANIFEST} in the archive: not an Oversight backup") from None
    except (tarfile.TarError, EOFError) as exc:
        raise BackupError(f"the archive is damaged ({exc}); nothing was restored") from None
    except (ValueError, UnicodeDecodeError):
        raise BackupError(f"{MANIFEST} is not valid JSON: the archive is damaged") from None
    try:
        ok = (manifest["format"] == FORMAT and manifest["app"] == "oversight"
              and manifest["dialect"] in DATABASE_MEMBERS
              and all(isinstance(k, str) and isinstance(v, int)
                      for k, v in manifest["tables"].items())
              and DATABASE_MEMBERS[manifest["dialect"]] in manifest["members"]
              and all((name == DATABASE_MEMBERS[manifest["dialect"]]
                       or ATTACHMENT_MEMBER.fullmatch(name))
                      and SHA256.fullmatch(meta["sha256"]) and isinstance(meta["size"], int)
                      for name, meta in manifest["members"].items())
              and {"chains", "head", "notices", "notices_head"} <= set(manifest["audit_log"]))
    except (KeyError, TypeError, AttributeError):
        ok = False
    if not ok:
        raise BackupError(f"{MANIFEST} is not a format-{FORMAT} Oversight manifest")
    return manifest


def _cases_in_target() -> tuple[int, int]:
    """How many cases of every type, and events, the configured database holds."""
    from oversight.services import registry

    if db.engine.dialect.name == "sqlite" and not _sqlite_path().exists():
        return 0, 0
    with db.engine.connect() as conn:
        tables = set(_table_names(conn))
        case_tables = {registry.binding_for(t).model.__tablename__
                       for t in registry.case_types()}
        found = _row_counts(conn, sorted(tables & (case_tables | {"case_event"})))
    return (sum(n for t, n in found.items() if t != "case_event"), found.get("case_event", 0))


def _stage(tar: tarfile.TarFile, manifest: dict, staging: Path) -> dict[str, Path]:
    """Copy every member into ``staging``, hashing as it goes; refuse on any difference
    from the manifest. Nothing outside ``staging`` is touched."""
    expected = manifest["members"]
    staged: dict[str, Path] = {}
    (staging / "attachments").mkdir()
    try:
        for info in tar:
            if info.name == MANIFEST and MANIFEST not in staged:
                staged[MANIFEST] = Path()
                continue
            if info.name not in expected or info.name in staged:
                raise BackupError(f"unexpected or repeated member {info.name!r}: refused")
            if not info.isreg():
                raise BackupError(f"member {info.name!r} is not a regular file: refused")
            match = ATTACHMENT_MEMBER.fullmatch(info.name)
            dest = staging / "attachments" / match.group(2) if match else staging / "database"
            digest = hashlib.sha256()
            size = 0
            with tar.extractfile(info) as src, open(dest, "wb") as out:
                while chunk := src.read(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
            meta = expected[info.name]
            if digest.hexdigest() != meta["sha256"] or size != meta["size"] or (
                    match and digest.hexdigest() != match.group(2)):
                raise BackupError(f"member {info.name} does not match its sha256 in the "
                                  "manifest: the archive is damaged; nothing was restored")
            staged[info.name] = dest
    except (tarfile.TarError, EOFError) as exc:
        raise BackupError(f"the archive is damaged ({exc}); nothing was restored") from None
    missing = sorted(set(expected) - set(staged))
    if missing:
        raise BackupError(f"{len(missing)} member(s) missing from the archive, e.g. "
                          f"{missing[0]}: nothing was restored")
    return staged


def _place_files(staged: dict[str, Path]) -> set[str]:
    """Move the staged evidence files into the upload folder; return the digests placed
    (one that could not be is then reported missing by the checks)."""
    from oversight.services.attachments import storage_path

    placed = set()
    for name, source in staged.items():
        match = ATTACHMENT_MEMBER.fullmatch(name)
        if not match:
            continue
        dest = storage_path(match.group(2))
        with contextlib.suppress(OSError):
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.replace(source, dest)
            except OSError:  # another file system: copy beside the target, then rename
                tmp = dest.with_name(f"{dest.name}.tmp-restore{os.getpid()}")
                shutil.copyfile(source, tmp)
                os.replace(tmp, dest)
            placed.add(match.group(2))
    return placed


def _restore_sqlite(staged: Path) -> None:
    """Write the copy into the target with the backup API: one transaction on the target,
    so a crash leaves the old database; it fails at once while another process has the
    database open (the journal mode cannot change then)."""
    target = _sqlite_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(staged)
    try:
        dest = sqlite3.connect(target, timeout=LOCK_TIMEOUT_SECONDS)
        try:
            try:
                mode = dest.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
            except sqlite3.OperationalError as exc:
                mode = str(exc)
            if mode != "delete":
                raise BackupError(f"{target} is in use ({mode}): stop the application and "
                                  "`oversight index --follow`, then restore again; the "
                                  "database was not changed")
            source.backup(dest, pages=-1)
        finally:
            dest.close()
    finally:
        source.close()


def _restore_postgres(staged: Path, manifest: dict) -> list[str]:
    """pg_restore in one transaction (all or nothing), then drop the tables the backup does
    not have (a newer schema's), so the database is the backup's. Returns those tables."""
    target, env = _libpq_target()
    env["PGOPTIONS"] = (env.get("PGOPTIONS", "")
                        + f" -c lock_timeout={LOCK_TIMEOUT_SECONDS * 1000}").strip()
    result = subprocess.run(
        [pg_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges",
         "--single-transaction", "--exit-on-error", "--no-password", f"--dbname={target}",
         str(staged)],
        env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BackupError(f"pg_restore failed (exit {result.returncode}); the database was "
                          f"not changed: {result.stderr.strip()[-2000:]}")
    with db.engine.begin() as conn:
        extra = sorted(set(_table_names(conn)) - set(manifest["tables"]))
        quote = conn.dialect.identifier_preparer.quote
        for name in extra:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {quote(name)} CASCADE"))
    return extra


def _retire_search_index() -> Check:
    """Take this host's index out of service: it describes another database, and its
    cursor would skip the restored outbox's new rows. The next index pass or ``oversight
    reindex`` builds a fresh one."""
    from oversight.search import store

    root = store.index_root()
    if store.current_name(root) is None:
        return Check("search index", True, "not in the backup; this host has none to retire")
    with store.writer_lock(root, timeout=LOCK_TIMEOUT_SECONDS) as held:
        if not held:
            return Check("search index", False, "an indexer holds the index lock: stop "
                         "`oversight index --follow`, then run `oversight reindex`")
        (root / store.CURRENT).unlink(missing_ok=True)
    return Check("search index", True, "not in the backup; this host's index was retired")


@contextlib.contextmanager
def _checking(checks: list[Check], name: str) -> Iterator[None]:
    """Run one check; a database error becomes its failure instead of ending the report."""
    try:
        yield
    except sa.exc.SQLAlchemyError as exc:
        first = str(exc.orig if getattr(exc, "orig", None) else exc).splitlines()[0]
        checks.append(Check(name, False, f"could not run: {first}"))


def _integrity(conn: sa.Connection, tables: list[str]) -> Check:
    """SQLite's own check; on PostgreSQL, that every table was read (the counts). On both,
    that the append-only triggers came back with their tables."""
    from oversight.models.append_only import APPEND_ONLY_TABLES

    problems: list[str] = []
    audited = [t for t in APPEND_ONLY_TABLES if t in tables]
    if conn.dialect.name == "sqlite":
        result = [r[0] for r in conn.exec_driver_sql("PRAGMA integrity_check")]
        if result != ["ok"]:
            problems += result
        problems += [f"foreign key violation in {r[0]} row {r[1]} (refers to {r[2]})"
                     for r in conn.exec_driver_sql("PRAGMA foreign_key_check")]
        present = set(conn.execute(sa.text(
            "SELECT name FROM sqlite_master WHERE type = 'trigger'")).scalars())
        wanted = [f"{t}_no_{verb}" for t in audited for verb in ("update", "delete")]
        summary = "PRAGMA integrity_check ok, no foreign-key violations"
    else:
        present = set(conn.execute(sa.text(
            "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")).scalars())
        wanted = [f"{t}_append_only" for t in audited]
        summary = f"all {len(tables)} tables read"
    problems += [f"append-only trigger {name} missing" for name in wanted
                 if name not in present]
    if problems:
        return Check("integrity", False, f"{len(problems)} problem(s)", problems)
    return Check("integrity", True, summary + ", append-only triggers present")


def _compare_database(conn: sa.Connection, manifest: dict) -> tuple[list[Check], dict, list]:
    """Integrity, schema, row counts and audit-log head of the restored database."""
    tables = _table_names(conn)
    counts = _row_counts(conn, tables)  # reads every row of every table
    expected = manifest["tables"]
    checks = [_integrity(conn, tables)]

    revision, backup_revision = _alembic_revision(conn, tables), manifest["alembic_revision"]
    differ = sorted(set(tables) ^ set(expected))
    schema_ok = revision == backup_revision and not differ
    checks.append(Check("schema", schema_ok,
                        f"revision {revision or 'none'}, {len(tables)} tables" if schema_ok
                        else f"revision {revision or 'none'} (backup: "
                             f"{backup_revision or 'none'}), tables not in both: {differ}"))

    wrong = [f"{name}: {counts.get(name, 'no table')} restored, "
             f"{expected.get(name, 'no table')} in the backup"
             for name in sorted(set(counts) | set(expected))
             if counts.get(name) != expected.get(name)]
    checks.append(Check("row counts", not wrong,
                        f"{len(wrong)} table(s) differ" if wrong else
                        f"{len(counts)} tables, {sum(counts.values())} rows as in the manifest",
                        wrong))

    head, backup_head = _audit_log_head(conn, tables), manifest["audit_log"]
    checks.append(Check("audit log head", head == backup_head,
                        f"{head['chains']} chains and {head['notices']} notices match the "
                        "manifest" if head == backup_head else
                        f"differs from the manifest: {head['chains']} chains and "
                        f"{head['notices']} notices (backup: {backup_head['chains']} and "
                        f"{backup_head['notices']})"))
    return checks, counts, _referenced_files(conn, tables)


def _verify(manifest: dict, restored: set[str]) -> list[Check]:
    from oversight.services.attachments import storage_path
    from oversight.services.events import verify_chains
    from oversight.services.notices import verify_notices

    checks: list[Check] = []
    db.session.remove()
    db.engine.dispose()  # new connections: they open what was just restored
    with _checking(checks, "database"), db.engine.connect() as conn:
        found, counts, referenced = _compare_database(conn, manifest)
        checks += found
    if checks[0].name == "database":
        return checks

    with _checking(checks, "audit log"):
        # The very checks of `oversight verify-log`.
        breaks = list(verify_chains())
        altered = list(verify_notices())
        details = ([f"BROKEN {b.case_type}#{b.case_id} seq {b.seq}: {b.problem}"
                    for b in breaks]
                   + [f"BROKEN notice {n}: text differs from the hash taken at issue"
                      for n in altered])
        checks.append(Check("audit log", not details,
                            f"{len(details)} problem(s), as `oversight verify-log` reports"
                            if details else f"{counts.get('case_event', 0)} events and "
                            f"{counts.get('notice', 0)} notices verify", details))
    db.session.remove()

    bad = []
    for digest in referenced:
        if digest in restored:
            continue  # hashed on its way out of the archive
        path = storage_path(digest)
        if not path.is_file():
            bad.append(f"missing {digest}")
        elif _sha256_file(path) != digest:
            bad.append(f"content differs from its hash {digest}")
    checks.append(Check("evidence files", not bad,
                        f"{len(bad)} problem(s)" if bad else
                        f"{len(referenced)} referenced, all present with their sha256", bad))
    return checks


def restore_archive(archive: Path, *, force: bool = False) -> RestoreReport:
    """Restore a backup into the configured database and upload folder, then check it.

    Raises BackupError, having changed nothing, when the archive is damaged or does not
    fit, or when the database holds cases and ``force`` is not given."""
    archive = Path(archive)
    dialect = _dialect()
    try:
        tar = tarfile.open(archive, mode="r:")
    except (tarfile.TarError, OSError) as exc:
        raise BackupError(f"{archive} is not a readable backup archive ({exc})") from None
    with tar:
        manifest = _read_manifest(tar)
        if manifest["dialect"] != dialect:
            raise BackupError(f"this is a {manifest['dialect']} backup and the configured "
                              f"database is {dialect}: nothing was restored")
        revision = manifest["alembic_revision"]
        if revision and not _revision_known(revision):
            raise BackupError(f"the backup's schema revision {revision} is unknown to this "
                              "version of Oversight (a newer one took it): upgrade the "
                              "application first; nothing was restored")
        db.session.remove()
        cases, events = _cases_in_target()
        db.engine.dispose()
        if (cases or events) and not force:
            raise BackupError(f"the database already holds {cases} cases and {events} events:"
                              " a restore replaces them. Run again with --force to replace "
                              "it; nothing was restored")
        staging = Path(tempfile.mkdtemp(prefix=".restore-",
                                        dir=current_app.config["INSTANCE_PATH"]))
        try:
            staged = _stage(tar, manifest, staging)
            db.session.remove()
            db.engine.dispose()
            staged_db = staged.pop(DATABASE_MEMBERS[dialect])
            dropped: list[str] = []
            if dialect == "sqlite":
                _restore_sqlite(staged_db)
            else:
                dropped = _restore_postgres(staged_db, manifest)
            # The files after the database that refers to them: an orphan sweep
            # (`oversight sweep-attachments`) running meanwhile never sees them unreferenced.
            restored = _place_files(staged)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    checks = _verify(manifest, restored)
    checks.append(_retire_search_index())
    return RestoreReport(archive=archive, manifest=manifest,
                         target=db.engine.url.render_as_string(hide_password=True),
                         restored_files=len(restored), dropped_tables=dropped,
                         checks=checks, notes=_notes(manifest))


def _notes(manifest: dict) -> list[str]:
    notes = ["Next: run `oversight reindex` before serving, here and on every other host that "
             "keeps a search index (searches find nothing until then)."]
    heads = _code_heads()
    revision = manifest["alembic_revision"]
    if revision and revision.split(",") != heads:
        notes.append(f"The backup's schema revision {revision} is older than this code's "
                     f"{','.join(heads)}: run `oversight db upgrade` first.")
    queued = 0
    with contextlib.suppress(sa.exc.SQLAlchemyError), db.engine.connect() as conn:
        if "mail_outbox" in _table_names(conn):
            queued = conn.execute(sa.text(
                "SELECT count(*) FROM mail_outbox WHERE status = 'queued'")).scalar_one()
    if queued:
        notes.append(f"{queued} mail(s) wait in the restored outbox; those sent after the "
                     "backup was taken will be sent again (see /admin/outbox).")
    return notes
