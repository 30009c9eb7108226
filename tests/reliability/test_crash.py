"""Crash: the real server (gunicorn, two workers, and the search indexer) is killed with
SIGKILL in the middle of a burst of complaint submissions, three times, and restarted the way an
operator does (``oversight sweep-attachments``, then gunicorn).

After the restart every submission that got a receipt is there whole: the complaint, its
identity row, its first event and clock, its search outbox row and its files (on disk,
with the hash recorded); its access code opens it on the public tracking page; nothing is
half-written (no complaint without an event, clock or identity, no row about a complaint
that does not exist, no attachment row without its file, no file without its row, no
temporary file); SQLite's ``integrity_check`` and ``oversight verify-log`` pass; and after
``oversight index`` search finds every receipted case.

Runs on SQLite (instance made with the migrations, as in production) and, when
TEST_DATABASE_URL is set, on PostgreSQL (the suite's schema, truncated per test): the
``instance`` fixture, tests/reliability/conftest.py.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import random
import secrets
import sqlite3
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from helpers import PDF_BYTES, PNG_BYTES

from oversight import create_app
from oversight.extensions import db
from oversight.models import (
    Attachment,
    CaseClock,
    CaseEvent,
    ComplainantIdentity,
    Complaint,
    SearchOutbox,
    User,
)

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
try:
    import server
finally:
    sys.path.remove(str(ROOT / "bench"))

CLIENTS = 8
ROUNDS = 3
#: receipts collected in a round before the kill (the burst goes on until it lands)
RECEIPTS_BEFORE_KILL = 25
#: the evidence files are big enough that writing them takes a noticeable part of a request
FILE_PADDING = 96 * 1024
#: one file every submission of that kind shares: the path that finds the file already there
SHARED_PNG = PNG_BYTES + b"shared evidence " * 64


@dataclass
class Sent:
    number: str
    code: str
    narrative: str
    files: list[bytes] = field(default_factory=list)


@dataclass
class Burst:
    """What the clients of every round saw."""

    receipts: list[Sent] = field(default_factory=list)
    #: a failure before the kill started: never expected
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def evidence(client: int, i: int) -> list[tuple[str, bytes]]:
    """The files of submission ``i`` of one client: none, one or two, each unique except
    the shared one."""
    tag = f"{client}-{i}-{secrets.token_hex(4)}".encode()
    files = []
    if i % 3 == 0:
        files.append(("photo.png", PNG_BYTES + tag + os.urandom(FILE_PADDING)))
    if i % 4 == 1:
        files.append(("record.pdf", PDF_BYTES.replace(b"%%EOF", b"%" + tag + b"\n"
                                                      + b"%" * FILE_PADDING + b"\n%%EOF")))
    if i % 5 == 2:
        files.append(("same.png", SHARED_PNG))
    return files


def run_clients(url: str, burst: Burst, stop: threading.Event,
                kill_started: threading.Event, round_no: int) -> list[threading.Thread]:
    def client_loop(idx: int) -> None:
        def fail(message: str) -> None:
            if not kill_started.is_set():
                with burst.lock:
                    burst.errors.append(message)

        with server.Client(url, timeout=60) as client:
            try:
                form = server.complaint_form_fields(client.get("/complaints/new").text)
            except (OSError, http.client.HTTPException, ValueError) as exc:
                fail(f"client {idx}: form: {exc!r}")
                return
            i = 0
            while not stop.is_set():
                i += 1
                files = evidence(idx, i)
                narrative = (f"崩溃测试第{round_no}轮{idx}号{i}：辅警在路口执勤时态度蛮横，"
                             f"辱骂群众并推搡。")
                fields = dict(form, narrative=narrative,
                              submission_key=secrets.token_urlsafe(24))
                try:
                    response = client.post("/complaints/new", fields,
                                           [("files", n, c) for n, c in files])
                except (OSError, http.client.HTTPException) as exc:
                    fail(f"client {idx}: {exc!r}")
                    return
                got = server.receipt(response.text) if response.status == 200 else None
                if got is None:
                    fail(f"client {idx}: {response.status} without a receipt")
                    return
                with burst.lock:
                    burst.receipts.append(Sent(got[0], got[1], narrative,
                                               [c for _n, c in files]))

    threads = [threading.Thread(target=client_loop, args=(i,), daemon=True)
               for i in range(CLIENTS)]
    for t in threads:
        t.start()
    return threads


def crash_round(srv: server.Server, burst: Burst, round_no: int) -> None:
    """Start the server, burst, and SIGKILL its process group once enough receipts are in."""
    srv.start()
    stop, kill_started = threading.Event(), threading.Event()
    before = len(burst.receipts)
    threads = run_clients(srv.url, burst, stop, kill_started, round_no)
    deadline = time.monotonic() + 300
    while len(burst.receipts) - before < RECEIPTS_BEFORE_KILL and not burst.errors \
            and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(random.uniform(0, 0.2))  # land anywhere inside the requests in flight
    kill_started.set()
    srv.kill()
    stop.set()
    for t in threads:
        t.join(timeout=90)
    assert not any(t.is_alive() for t in threads)
    assert burst.errors == [], burst.errors[:5]
    assert len(burst.receipts) - before >= RECEIPTS_BEFORE_KILL


def files_in(folder: Path) -> list[Path]:
    """Every file under the upload folder's hash directories."""
    if not folder.is_dir():
        return []
    return sorted(p for sub in folder.iterdir() if sub.is_dir() for p in sub.iterdir())


@contextmanager
def app_for(instance: server.Instance):
    """The app, in this process, on the server's instance and database (for checks)."""
    app = create_app({"INSTANCE_PATH": str(instance.path), "TESTING": True,
                      "SQLALCHEMY_DATABASE_URI": instance.database_url,
                      "SEARCH_INLINE": False})
    with app.app_context():
        try:
            yield app
        finally:
            db.session.remove()
            db.engine.dispose()


def referenced_hashes() -> set[str]:
    return set(db.session.execute(sa.select(Attachment.sha256)).scalars())


def test_sigkill_mid_burst_loses_nothing_receipted(instance):
    srv = server.Server(instance, workers=2, indexer=True)
    burst = Burst()
    orphans_before_sweep = 0
    try:
        for round_no in range(1, ROUNDS + 1):
            crash_round(srv, burst, round_no)
            # What the kill left: files the dead workers wrote for transactions that never
            # committed (depends on where the kill landed; zero is possible).
            with app_for(instance):
                referenced = referenced_hashes()
            orphans_before_sweep += sum(1 for p in files_in(instance.upload_folder)
                                        if p.name not in referenced)
            # The restart, as the README's service does it: sweep, then serve. Nobody is
            # writing, so the sweep needs no grace period: every orphan goes now.
            sweep = instance.oversight("sweep-attachments")
            assert "有进程" not in sweep.stdout, sweep.stdout
            assert {p.name for p in files_in(instance.upload_folder)} == referenced
        srv.start()

        # The server works after the restarts, and every access code opens its case.
        with server.Client(srv.url) as client:
            form = server.complaint_form_fields(client.get("/complaints/new").text)
            after = client.post("/complaints/new", dict(
                form, narrative="重启后的投诉：辅警在路口执勤时态度蛮横，辱骂群众。"),
                [("files", "after.png", PNG_BYTES + b"after restart")])
            assert server.receipt(after.text) is not None
            for sent in burst.receipts:
                page = server.track(client, sent.number, sent.code)
                assert page.status == 200 and sent.number in page.text, sent.number
        srv.stop()

        verify = instance.oversight("verify-log", check=False)
        assert verify.returncode == 0, verify.stdout
        # the kept counts were written with the cases, or not at all, like them
        kept = instance.oversight("counts", check=False)
        assert kept.returncode == 0, kept.stdout
        instance.oversight("index")

        with app_for(instance) as app:
            check_receipted(burst.receipts)
            check_nothing_partial()
            check_files(Path(app.config["UPLOAD_FOLDER"]))
            check_search(burst.receipts)
        if instance.sqlite_file is not None:
            with sqlite3.connect(instance.sqlite_file) as conn:
                assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            conn.close()
    finally:
        srv.kill()
    print(f"{len(burst.receipts)} receipts in {ROUNDS} crashes; "
          f"{orphans_before_sweep} orphan file(s) swept")


def check_receipted(receipts: list[Sent]) -> None:
    numbers = [s.number for s in receipts]
    assert len(set(numbers)) == len(numbers)
    rows = {c.number: c for c in db.session.execute(
        sa.select(Complaint).where(Complaint.number.in_(numbers))).scalars()}
    for sent in receipts:
        case = rows.get(sent.number)
        assert case is not None, f"{sent.number} had a receipt but is gone"
        assert case.narrative == sent.narrative
        assert db.session.get(ComplainantIdentity, case.id) is not None
        first = db.session.execute(
            sa.select(CaseEvent).where(CaseEvent.case_type == "complaint",
                                       CaseEvent.case_id == case.id)
            .order_by(CaseEvent.seq)).scalars().first()
        assert first is not None and first.trigger == "submit", sent.number
        assert first.payload.get("files") == len(sent.files)
        clocks = db.session.execute(sa.select(CaseClock.kind).where(
            CaseClock.case_type == "complaint", CaseClock.case_id == case.id)).scalars().all()
        assert "acknowledge" in clocks, sent.number
        stored = sorted(db.session.execute(sa.select(Attachment.sha256).where(
            Attachment.case_type == "complaint", Attachment.case_id == case.id)).scalars())
        assert stored == sorted(hashlib.sha256(c).hexdigest() for c in sent.files)


def check_nothing_partial() -> None:
    ids = set(db.session.execute(sa.select(Complaint.id)).scalars())
    for model, column in ((ComplainantIdentity, ComplainantIdentity.complaint_id),
                          (CaseEvent, CaseEvent.case_id), (CaseClock, CaseClock.case_id),
                          (SearchOutbox, SearchOutbox.case_id)):
        q = sa.select(column)
        if model is not ComplainantIdentity:
            q = q.where(model.case_type == "complaint")
        having = set(db.session.execute(q).scalars())
        assert having == ids, (model.__name__, sorted(ids - having)[:5],
                               sorted(having - ids)[:5])
    attached_to = set(db.session.execute(
        sa.select(Attachment.case_id).where(Attachment.case_type == "complaint")).scalars())
    assert attached_to <= ids


def check_files(folder: Path) -> None:
    rows = db.session.execute(sa.select(Attachment.sha256, Attachment.size)).all()
    for digest, size in rows:
        path = folder / digest[:2] / digest
        assert path.is_file(), f"attachment row without its file: {digest}"
        content = path.read_bytes()
        assert len(content) == size and hashlib.sha256(content).hexdigest() == digest
    on_disk = files_in(folder)
    assert {p.name for p in on_disk} == {digest for digest, _size in rows}, \
        [p.name for p in on_disk if p.name not in {d for d, _s in rows}][:5]


def check_search(receipts: list[Sent]) -> None:
    from oversight.search import search

    intake = db.session.execute(sa.select(User).where(User.username == "intake")).scalar_one()
    for sent in receipts:
        result = search(intake, sent.number)
        assert sent.number in [h.number for h in result.hits], sent.number


def test_sweep_while_serving_spares_what_may_be_in_flight(instance):
    """While workers that have written files are alive, a sweep (from cron) removes only
    leftovers older than the grace period; once the server has stopped it removes all."""
    folder = instance.upload_folder
    hour = 3600

    def plant(content: bytes, age: float, suffix: str = "") -> Path:
        digest = hashlib.sha256(content).hexdigest()
        path = folder / digest[:2] / (digest + suffix)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        os.utime(path, (time.time() - age, time.time() - age))
        return path

    srv = server.Server(instance, workers=2)
    try:
        srv.start()
        with server.Client(srv.url) as client:
            form = server.complaint_form_fields(client.get("/complaints/new").text)
            sent = client.post("/complaints/new", dict(
                form, narrative="清理测试：辅警在路口执勤时态度蛮横，辱骂群众。"),
                [("files", "kept.png", PNG_BYTES + b"kept")])
            assert server.receipt(sent.text) is not None
        digest = hashlib.sha256(PNG_BYTES + b"kept").hexdigest()
        kept = folder / digest[:2] / digest
        os.utime(kept, (time.time() - 2 * hour, time.time() - 2 * hour))  # old, but used
        old = plant(PNG_BYTES + b"left by a crash", 2 * hour)
        young = plant(PNG_BYTES + b"maybe in flight", 0)
        old_tmp = plant(PDF_BYTES + b"cut short", 2 * hour, ".tmp4242-1")

        serving = instance.oversight("sweep-attachments")
        assert "有进程" in serving.stdout  # a worker holds the writers lock
        assert not old.exists() and not old_tmp.exists()
        assert young.exists() and kept.exists()

        srv.stop()
        stopped = instance.oversight("sweep-attachments")
        assert "有进程" not in stopped.stdout
        assert not young.exists() and kept.exists()
        assert [p.name for p in files_in(folder)] == [kept.name]
    finally:
        srv.kill()
