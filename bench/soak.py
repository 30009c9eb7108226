"""Soak: the real server under steady mixed traffic for a while, on loopback.

gunicorn (2 workers by default) and ``oversight index --follow`` run on a fresh instance
made by ``bench/server.py`` (SQLite, or PostgreSQL with ``--database-url``). Six client
threads keep it busy for the whole run, each a person doing one job over and over:

- two members of the public file complaints (the form, then the post; one in four with a
  photo) and keep the receipts;
- two look cases up on the tracking page with a receipt's number and code (one in ten
  with a wrong code, which must answer 400);
- the intake clerk signs in and works the queue: opens the newest submitted complaint and
  accepts it (a real transition through the staff form), signing out and in again every
  so often;
- the inspector signs in and works the accepted complaints: records a note on one
  (another transition), and searches (case numbers from receipts, words, a badge, a
  phrase, OR).

Every response is counted by kind and status, with its latency. Each worker's resident
memory is read from /proc every second. The run passes when no response is a 5xx, no
request fails on the network, every kind of request succeeded at least once, no worker
was replaced, and no worker's memory rose by more than the bound after the warm-up.

Memory rise: the median RSS of the last tenth of the run minus the median of the tenth
right after the warm-up (the first 15 %). Medians, not the peak: a login (scrypt needs
32 MB for a moment) or a big upload lifts RSS for an instant and gives it back, a leak
does not. Bound: 25 MB. Measured on 2026-11-26 (bench/results/, 300 s on SQLite, 2
loaded cores): a worker holds about 157 MB after the warm-up (the similar-cases panel
loads rjieba's dictionary) and rose by 6-7 MB by the end, flattening out (caches filling
as the database and the index grow); before the search scope cache dropped older index
generations it rose 13 MB and kept climbing. 25 MB is about 3.5 times the normal drift,
and a worker serves about 4,000 requests in the window measured, so a leak of 5 KB a
request or more fails the five-minute run; smaller leaks need a longer one (``--seconds
3600``). The 60-second CI run (about 700 requests a worker) only catches gross leaks.

The tracking lockout (``OVERSIGHT_TRACK_MAX_FAILURES``) is lifted for the run: every
wrong code comes from 127.0.0.1 and would otherwise lock every tracker out after ten.

    .venv/bin/python bench/soak.py                    # 300 s on SQLite
    .venv/bin/python bench/soak.py --seconds 60 --database-url postgresql://…  --reset

Results go to ``bench/results/<date>-soak.json`` (``--out`` to write elsewhere).
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import platform
import random
import re
import secrets
import statistics
import sys
import threading
import time
from collections import Counter, defaultdict
from importlib import metadata
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent))

import server  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BOUND_MB = 25.0
WARMUP = 0.15
WINDOW = 0.10
#: The tracking lockout, lifted (see the module doc).
ENV = {"OVERSIGHT_TRACK_MAX_FAILURES": str(10**6)}

#: The statuses each kind of request answers when all is well.
EXPECTED = {
    "form": {200}, "submit": {200},
    "track_page": {200}, "track": {302}, "track_case": {200}, "track_wrong": {400},
    "login_page": {200}, "login": {302}, "logout": {302},
    "queue": {200}, "case": {200}, "action": {302}, "search": {200},
}

PHRASES = ["态度蛮横，辱骂群众并推搡", "执勤时玩手机，不理睬求助", "违规查扣电动车并索要罚款",
           "驾驶警用车辆闯红灯", "在三里屯路口对外卖骑手动手", "查验证件时言语侮辱",
           "未佩戴执法记录仪，拒绝出示证件", "处理交通事故时偏袒一方"]
SEARCH_WORDS = ["态度蛮横", "三里屯", "BJ10001", "\"执法记录仪\"", "推搡 OR 侮辱", "罚款 -电动车"]
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082")


class Recorder:
    """Counts by kind and status, latencies, network failures; thread-safe."""

    def __init__(self):
        self.lock = threading.Lock()
        self.statuses: dict[str, Counter] = defaultdict(Counter)
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.failures: dict[str, list[str]] = defaultdict(list)
        self.unexpected: dict[str, list[str]] = defaultdict(list)

    def record(self, kind: str, response: server.Response, path: str) -> server.Response:
        with self.lock:
            self.statuses[kind][response.status] += 1
            self.latencies[kind].append(response.seconds)
            if response.status not in EXPECTED[kind] and len(self.unexpected[kind]) < 20:
                self.unexpected[kind].append(f"{response.status} {path}")
        return response

    def failure(self, kind: str, exc: BaseException) -> None:
        with self.lock:
            self.statuses[kind]["network error"] += 1
            if len(self.failures[kind]) < 20:
                self.failures[kind].append(repr(exc))


class Person(threading.Thread):
    """One client thread: ``step()`` over and over until the run ends."""

    def __init__(self, name: str, url: str, rec: Recorder, stop: threading.Event, shared):
        super().__init__(name=name, daemon=True)
        self.url, self.rec, self.stop, self.shared = url, rec, stop, shared
        self.rng = random.Random(name)
        self.client = server.Client(url)
        self.i = 0

    def call(self, kind: str, method: str, path: str, fields=None, files=None):
        self.kind = kind
        response = self.client.request(method, path, fields, files)
        self.kind = "driver"
        return self.rec.record(kind, response, path)

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                self.i += 1
                self.kind = "driver"
                try:
                    self.step()
                except (OSError, http.client.HTTPException) as exc:
                    self.rec.failure(self.kind, exc)
                    self.client.close()
                    time.sleep(0.5)
                except Exception as exc:  # a page the driver cannot read: counted
                    self.rec.failure("driver", exc)
                    time.sleep(0.5)
        finally:
            self.client.close()

    def step(self) -> None:
        raise NotImplementedError


class Complainant(Person):
    def step(self) -> None:
        page = self.call("form", "GET", "/complaints/new")
        if page.status != 200:
            return
        phrase = self.rng.choice(PHRASES)
        fields = dict(server.complaint_form_fields(page.text),
                      narrative=f"浸泡测试{self.name}第{self.i}件：辅警{phrase}，请依法处理。")
        files = None
        if self.i % 4 == 0:
            files = [("files", "photo.png", PNG + secrets.token_bytes(2048))]
        response = self.call("submit", "POST", "/complaints/new", fields, files)
        got = server.receipt(response.text) if response.status == 200 else None
        if got is not None:
            with self.shared["lock"]:
                self.shared["receipts"].append(got)


class Tracker(Person):
    def step(self) -> None:
        with self.shared["lock"]:
            receipts = list(self.shared["receipts"][-500:])
        if not receipts:
            time.sleep(0.2)
            return
        number, code = self.rng.choice(receipts)
        self.client.close()
        self.client.cookies.clear()  # a new visitor each time
        page = self.call("track_page", "GET", "/track")
        if page.status != 200:
            return
        token = server.csrf_token(page.text)
        if self.i % 10 == 0:
            wrong = code[:-1] + ("A" if code[-1] != "A" else "B")
            self.call("track_wrong", "POST", "/track",
                      {"csrf_token": token, "number": number, "code": wrong})
            return
        response = self.call("track", "POST", "/track",
                             {"csrf_token": token, "number": number, "code": code})
        if response.status == 302:
            self.call("track_case", "GET", "/track/case")


#: The step at which each staff client first signs out and in again.
FIRST_RELOGIN = 8


class Staff(Person):
    """A signed-in staff member; signs out and in again at step ``FIRST_RELOGIN``, then
    every ``relogin`` steps."""

    username = ""
    relogin = 60

    def __init__(self, *args, password: str):
        super().__init__(*args)
        self.password = password
        self.signed_in = False

    def sign_in(self) -> None:
        page = self.call("login_page", "GET", "/staff/login")
        response = self.call("login", "POST", "/staff/login", {
            "csrf_token": server.csrf_token(page.text), "username": self.username,
            "password": self.password, "next": ""})
        self.signed_in = response.status == 302

    def sign_out(self, html: str) -> None:
        self.call("logout", "POST", "/staff/logout", {"csrf_token": server.csrf_token(html)})
        self.signed_in = False

    def step(self) -> None:
        if not self.signed_in:
            self.sign_in()
            return
        self.work()

    def open_case(self, state: str) -> tuple[int, str] | None:
        """The queue of complaints in ``state``; one of them opened: (id, page)."""
        queue = self.call("queue", "GET", f"/staff/?state={state}")
        if queue.status != 200:
            return None
        # The first sign-out comes early, so that even a short run on a slow machine
        # signs out and in again at least once; then every ``relogin`` steps.
        if self.i == FIRST_RELOGIN or self.i % self.relogin == 0:
            self.sign_out(queue.text)
            return None
        ids = re.findall(r'href="/staff/complaints/(\d+)"', queue.text)
        if not ids:
            time.sleep(0.2)
            return None
        case_id = int(self.choose(ids))
        page = self.call("case", "GET", f"/staff/complaints/{case_id}")
        return (case_id, page.text) if page.status == 200 else None

    def choose(self, ids: list[str]) -> str:
        return ids[0]

    def act(self, case_id: int, html: str, trigger: str, **fields: str) -> None:
        version = re.search(r'name="version" value="(\d+)"', html)
        if version is None or f"/{trigger}\"" not in html:
            return  # not offered on this page (the state moved on)
        self.call("action", "POST", f"/staff/complaints/{case_id}/{trigger}",
                  {"csrf_token": server.csrf_token(html), "version": version.group(1),
                   **fields})

    def work(self) -> None:
        raise NotImplementedError


class IntakeClerk(Staff):
    username = "intake"

    def work(self) -> None:
        opened = self.open_case("submitted")
        if opened:
            self.act(*opened, "accept")


class Inspector(Staff):
    username = "inspector"

    def choose(self, ids: list[str]) -> str:
        return self.rng.choice(ids)

    def work(self) -> None:
        if self.i % 2:
            opened = self.open_case("accepted")
            if opened:
                self.act(*opened, "add_note", note=f"浸泡测试第{self.i}次记录：已联系投诉人核实。")
            return
        with self.shared["lock"]:
            receipts = self.shared["receipts"][-500:]
            number = self.rng.choice(receipts)[0] if receipts else "TS"
        q = number if self.i % 4 == 0 else self.rng.choice(SEARCH_WORDS)
        self.call("search", "GET", f"/staff/search?q={quote(q)}")


# --------------------------------------------------------------------------- the run

def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered))) - 1))]


def memory_summary(samples: dict[int, list[list[float]]], seconds: float,
                   bound_mb: float) -> dict:
    """Per worker: the sustained rise after the warm-up (see the module doc)."""
    warm_end, window = seconds * WARMUP, seconds * WINDOW
    workers = {}
    for pid, rows in samples.items():
        first = [r[1] for r in rows if warm_end <= r[0] < warm_end + window]
        last = [r[1] for r in rows if r[0] >= seconds - window]
        after = [r[1] for r in rows if r[0] >= warm_end]
        entry = {"samples": rows}
        if first and last:
            base = statistics.median(first)
            entry.update(baseline_mb=round(base, 1), end_mb=round(statistics.median(last), 1),
                         rise_mb=round(statistics.median(last) - base, 1),
                         peak_above_baseline_mb=round(max(after) - base, 1))
        workers[str(pid)] = entry
    return {"bound_mb": bound_mb, "warmup_seconds": round(warm_end, 1),
            "window_seconds": round(window, 1), "sample_columns": ["t_s", "rss_mb", "anon_mb"],
            "workers": workers}


def errors_in_log(path: Path, limit: int = 5) -> list[str]:
    """The last few tracebacks and error lines of the server's log (for a failed run)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return []
    blocks = re.split(r"\n(?=\[\d{4}-\d\d-\d\d )", text)
    errors = [b for b in blocks if "Traceback" in b or "[ERROR]" in b or "[CRITICAL]" in b]
    return [b[-4000:] for b in errors[-limit:]]


def machine() -> dict:
    mem_total = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_total = int(line.split()[1]) // 1024
    return {"python": platform.python_version(), "platform": platform.platform(),
            "processor": platform.machine(), "cpus": os.cpu_count(), "mem_total_mb": mem_total}


def versions() -> dict:
    names = ("flask", "sqlalchemy", "werkzeug", "gunicorn", "whoosh-reloaded", "psycopg")
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def run(seconds: float = 300, *, instance: server.Instance | None = None,
        database_url: str | None = None, reset: bool = False, workers: int = 2,
        bound_mb: float = BOUND_MB, sample_every: float = 1.0, keep: bool = False) -> dict:
    """Soak a server for ``seconds``; return the result (see ``main`` for the file).

    ``instance``: an already seeded one (the test suite's PostgreSQL); otherwise one is
    prepared (``database_url``, ``reset`` as in ``server.prepare``) and removed after,
    unless ``keep``."""
    owned = instance is None
    if instance is None:
        instance = server.prepare(database_url, reset=reset)
    srv = server.Server(instance, workers=workers, indexer=True, env=ENV)
    rec, stop = Recorder(), threading.Event()
    shared = {"lock": threading.Lock(), "receipts": []}
    samples: dict[int, list[list[float]]] = defaultdict(list)
    seen_workers: set[int] = set()
    load_start = os.getloadavg()
    try:
        srv.start()
        url = srv.url
        people = [Complainant("c1", url, rec, stop, shared),
                  Complainant("c2", url, rec, stop, shared),
                  Tracker("t1", url, rec, stop, shared), Tracker("t2", url, rec, stop, shared),
                  IntakeClerk("intake", url, rec, stop, shared,
                              password=instance.passwords["intake"]),
                  Inspector("inspector", url, rec, stop, shared,
                            password=instance.passwords["inspector"])]
        start = time.monotonic()
        for person in people:
            person.start()
        while (elapsed := time.monotonic() - start) < seconds:
            for pid in srv.worker_pids():
                mem = server.memory(pid)
                if mem:
                    seen_workers.add(pid)
                    samples[pid].append([round(elapsed, 1), round(mem["rss"] / 2**20, 1),
                                         round(mem["anon"] / 2**20, 1)])
            time.sleep(min(sample_every, max(0.0, seconds - elapsed)))
        stop.set()
        for person in people:
            person.join(timeout=120)
        stuck = [p.name for p in people if p.is_alive()]
        srv.stop()
    finally:
        stop.set()
        srv.kill()
        log = errors_in_log(srv.log_path)
        if owned and not keep:
            instance.remove()
    load_end = os.getloadavg()

    requests = {kind: {str(k): v for k, v in sorted(c.items(), key=lambda kv: str(kv[0]))}
                for kind, c in sorted(rec.statuses.items())}
    latency = {kind: {"n": len(v), "p50_ms": round(percentile(v, 0.5) * 1000, 1),
                      "p99_ms": round(percentile(v, 0.99) * 1000, 1)}
               for kind, v in sorted(rec.latencies.items())}
    mem = memory_summary(samples, seconds, bound_mb)
    server_errors = sum(n for c in rec.statuses.values() for s, n in c.items()
                        if isinstance(s, int) and s >= 500)
    network = sum(c["network error"] for c in rec.statuses.values())
    succeeded = {kind: sum(rec.statuses[kind][s] for s in ok) for kind, ok in EXPECTED.items()}
    reasons = []
    if server_errors:
        reasons.append(f"{server_errors} responses were 5xx")
    if network or rec.failures:
        reasons.append(f"{network} requests failed on the network or in the driver")
    if missing := [k for k, n in succeeded.items() if n == 0]:
        reasons.append(f"no successful request of kind {', '.join(missing)}")
    if len(seen_workers) != workers:
        reasons.append(f"{len(seen_workers) - workers} worker(s) were replaced")
    over = {pid: w["rise_mb"] for pid, w in mem["workers"].items()
            if w.get("rise_mb") is None or w["rise_mb"] > bound_mb}
    if over:
        reasons.append(f"memory rose above {bound_mb} MB (or was not measured): {over}")
    if stuck:
        reasons.append(f"client threads did not stop: {stuck}")
    unexpected = {k: v for k, v in rec.unexpected.items() if v}
    return {
        "name": "soak",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {**machine(), "load_average_start": [round(x, 2) for x in load_start],
                    "load_average_end": [round(x, 2) for x in load_end]},
        "versions": versions(),
        "parameters": {
            "seconds": seconds, "workers": workers, "worker_class": "sync",
            "database": "postgresql" if instance.database_url.startswith("postgres")
            else "sqlite (WAL)",
            "clients": {"complainants": 2, "trackers": 2, "intake": 1, "inspector": 1},
            "think_time": "none (each client sends its next request as soon as it can)",
            "indexer": "oversight index --follow --poll 0.5",
            "environment": {**server.BASE_ENV, **ENV},
            "warmup_fraction": WARMUP, "window_fraction": WINDOW,
            "sample_every_seconds": sample_every},
        "requests": requests,
        "success_by_kind": succeeded,
        "server_errors": server_errors,
        "network_errors": network,
        "failures": {k: v for k, v in rec.failures.items() if v},
        "unexpected_statuses": unexpected,
        "receipts": len(shared["receipts"]),
        "latency_ms": latency,
        "memory": mem,
        "server_log_errors": log,
        "instance": str(instance.path) if keep or not owned else None,
        "verdict": {"ok": not reasons, "reasons": reasons},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", default=None,
                        help="postgresql://… (default: SQLite in a temporary instance)")
    parser.add_argument("--reset", action="store_true",
                        help="drop and recreate the PostgreSQL database's public schema first")
    parser.add_argument("--bound-mb", type=float, default=BOUND_MB)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the instance folder")
    args = parser.parse_args()
    result = run(args.seconds, database_url=args.database_url, reset=args.reset,
                 workers=args.workers, bound_mb=args.bound_mb, keep=args.keep)
    out = args.out or ROOT / "bench" / "results" / f"{dt.date.today().isoformat()}-soak.json"
    out.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n")
    summary = {k: result[k] for k in ("requests", "latency_ms", "verdict")}
    summary["memory_rise_mb"] = {pid: w.get("rise_mb")
                                 for pid, w in result["memory"]["workers"].items()}
    print(json.dumps(summary, ensure_ascii=False, indent=1))
    print(f"written to {out}")
    sys.exit(0 if result["verdict"]["ok"] else 1)


if __name__ == "__main__":
    main()
