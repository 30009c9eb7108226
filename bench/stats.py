"""Statistics benchmark (issue: the staff dashboard took 6-10 s at 1M cases): the staff
dashboard and the public transparency figures on seeded instances, before and after, in
the same run and process.

For each ``--db`` (a copy of an instance seeded by ``bench/seed_scale.py``; it is only
read) it measures, round by round so that a busy machine weighs on all alike:

- the baseline: ``SELECT count(*) FROM case_event``, the cheapest full answer the
  database gives, so that figures from different runs and machines can be compared;
- ``dashboard()`` as it was at ``--before-ref`` (that commit's
  ``oversight/services/stats.py``, loaded from git beside the current one) and as it is
  now, for a city bureau (``bj_leader``), a branch (``leader``), a station the city
  bureau chose and the city bureau with a date range; the figures of both must be
  identical, or the run fails;
- ``transparency()`` before and after, the same way;
- the pages through the app (a signed-in session, no login written): ``/staff/stats``
  computed on every request (``STATS_CACHE_SECONDS=0``) and kept (60: the first request
  computes, the others are served the kept figures; then each request as a worker that
  did not count them, drawn from the shared ``stats_snapshot``), and ``/transparency``;
- one ``refresh()`` pass counting those figures again (``oversight refresh-stats``);
- which of the indexes the statistics use are present, and each statement's time for one
  call before and after (what dominates).

    .venv/bin/python bench/stats.py --db sqlite:////var/tmp/h2-100k/oversight.db
    .venv/bin/python bench/stats.py --db sqlite:///A.db --db sqlite:///B.db --rounds 5

Results go to ``bench/results/<date>-stats.json`` (``--out`` to write elsewhere), with the
command that made them. The shared seeded instances under /var/tmp/ovbench are refused:
copy one first (and create or drop indexes on the copy to compare index sets).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from oversight import create_app  # noqa: E402
from oversight.extensions import db  # noqa: E402

#: a commit with the statistics as they were before they were reworked
BEFORE_REF = "2a27200"
SHARED = "/var/tmp/ovbench"
TARGET = {"p95_ms": 150, "cases": 100_000}
CASE_TABLES = {"complaint": "complaint", "recusal": "recusal",
               "investigation": "investigation", "suspension": "suspension",
               "discipline": "discipline_decision", "appeal": "appeal",
               "recovery": "recovery"}
#: (name, user, filters): the city bureau is the widest staff scope of the seed
SCENARIOS = [("city bureau", "bj_leader", {}),
             ("branch", "leader", {}),
             ("a station, chosen by the city bureau", "bj_leader", {"organ": "BJ-CY-SLT"}),
             ("city bureau, one quarter", "bj_leader",
              {"date_from": "2026-07-01", "date_to": "2026-09-30"})]


# --------------------------------------------------------------------------- measuring

def percentile(sorted_samples: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    k = max(0, min(len(sorted_samples) - 1, int(round(q * len(sorted_samples) + 0.5)) - 1))
    return sorted_samples[k]


def summary(samples: list[tuple[float, float]], baseline: float | None = None) -> dict:
    """Wall and CPU (this process) times of (wall, cpu) samples in seconds, in ms; with
    the baseline's median, the median as a multiple of it."""
    wall = sorted(w for w, _c in samples)
    out = {"n": len(wall), "p50_ms": round(statistics.median(wall) * 1000, 2),
           "p95_ms": round(percentile(wall, 0.95) * 1000, 2),
           "max_ms": round(wall[-1] * 1000, 2),
           "cpu_p50_ms": round(statistics.median(c for _w, c in samples) * 1000, 2)}
    if baseline:
        out["p50_x_baseline"] = round(statistics.median(wall) / baseline, 1)
    return out


def timed(fn):
    """(result, (wall seconds, CPU seconds of this process))."""
    w, c = time.perf_counter(), time.process_time()
    result = fn()
    return result, (time.perf_counter() - w, time.process_time() - c)


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def machine() -> dict:
    model = ""
    try:
        model = next((line.split(":", 1)[1].strip() for line in
                      Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), "")
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu_model": model, "python": platform.python_version(),
            "platform": platform.platform(), "sqlite": __import__("sqlite3").sqlite_version,
            "sqlalchemy": metadata.version("sqlalchemy"), "flask": metadata.version("flask")}


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout


def load_before(ref: str, scratch: Path):
    """``oversight/services/stats.py`` as it was at ``ref``, as module ``stats_before``."""
    source = git("show", f"{ref}:oversight/services/stats.py")
    path = scratch / "stats_before.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("stats_before", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["stats_before"] = module
    spec.loader.exec_module(module)
    return module


def figures(board) -> tuple:
    """Everything a dashboard shows, as plain values (the two modules' classes differ)."""
    return ([dataclasses.astuple(t) for t in board.tables], board.complaint_days,
            board.investigation_days, board.overdue, board.substantiated,
            board.recusals_granted, board.recusals_refused, board.suspensions_active)


def public_figures(rows) -> list[tuple]:
    return [(r.organ.full_name, r.quarter, r.received, r.concluded, r.substantiated,
             r.median) for r in rows]


class Statements:
    """Each statement's time while active, for the statement breakdown."""

    def __init__(self, engine):
        self.engine, self.seen = engine, []

    def __enter__(self):
        sa.event.listen(self.engine, "before_cursor_execute", self._before)
        sa.event.listen(self.engine, "after_cursor_execute", self._after)
        return self

    def __exit__(self, *_exc):
        sa.event.remove(self.engine, "before_cursor_execute", self._before)
        sa.event.remove(self.engine, "after_cursor_execute", self._after)

    def _before(self, conn, *_args):
        conn.info["bench_t0"] = time.perf_counter()

    def _after(self, conn, _cursor, statement, *_args):
        ms = (time.perf_counter() - conn.info.pop("bench_t0")) * 1000
        self.seen.append({"ms": round(ms, 1), "sql": " ".join(statement.split())[:110]})


# --------------------------------------------------------------------------- one database

def bench_database(url: str, before, rounds: int, page_requests: int, instance: Path
                   ) -> dict:
    from oversight.models import Organ, User
    from oversight.models.base import utcnow
    from oversight.services import stats

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(instance),
                      "SEARCH_INLINE": False, "STATS_CACHE_SECONDS": 0,
                      "WTF_CSRF_ENABLED": False})
    out: dict = {"database": url}
    with app.app_context():
        conn = db.session.connection()
        # The indexes the statements can use: the seed's, those the brief named
        # (ix_case_event_type_trigger, ix_<table>_organ_state) or the migration's
        # (ix_<table>_organ_state_created, ix_<table>_created_at).
        inspector = sa.inspect(conn)
        out["indexes_present"] = {t: sorted(i["name"] for i in inspector.get_indexes(t))
                                  for t in ("case_event", "case_clock", "complaint")}
        out["cases"] = {name: conn.execute(sa.text(f"SELECT count(*) FROM {table}"))
                        .scalar_one() for name, table in CASE_TABLES.items()}
        out["cases_total"] = sum(out["cases"].values())
        for table in ("case_event", "case_clock", "organ"):
            out[f"{table}_rows"] = conn.execute(sa.text(f"SELECT count(*) FROM {table}")
                                                ).scalar_one()
        users = {u.username: u for u in db.session.execute(sa.select(User).where(
            User.username.in_({user for _n, user, _f in SCENARIOS}))).scalars()}

        def scope(module, user, filters):
            chosen = {"organ": db.session.execute(sa.select(Organ).where(
                Organ.code == filters["organ"])).scalar_one()} if "organ" in filters else {}
            dates = {k: dt.date.fromisoformat(v) for k, v in filters.items() if k != "organ"}
            # Scope.of_user since the figures were kept in stats_snapshot; before, the
            # scope held the user.
            make = getattr(module.Scope, "of_user", module.Scope)
            return make(users[user], **chosen, **dates)

        now = utcnow()
        baseline, results = [], {name: {"before": [], "after": []} for name, *_r in SCENARIOS}
        public = {"before": [], "after": []}
        for _round in range(rounds):
            # The baseline, then each scenario before and after, in turns.
            baseline.append(timed(lambda: conn.execute(
                sa.text("SELECT count(*) FROM case_event")).scalar_one())[1])
            for name, user, filters in SCENARIOS:
                old, t_old = timed(lambda u=user, f=filters: before.dashboard(
                    scope(before, u, f), now))
                new, t_new = timed(lambda u=user, f=filters: stats.dashboard(
                    scope(stats, u, f), now))
                if figures(old) != figures(new):
                    raise SystemExit(f"{url}: {name}: the figures differ before and after")
                results[name]["before"].append(t_old)
                results[name]["after"].append(t_new)
            old, t_old = timed(before.transparency)
            new, t_new = timed(stats.transparency)
            if public_figures(old) != public_figures(new):
                raise SystemExit(f"{url}: transparency figures differ before and after")
            public["before"].append(t_old)
            public["after"].append(t_new)
        base = statistics.median(w for w, _c in baseline)
        out["baseline_count_case_event"] = summary(baseline)
        out["dashboard"] = {}
        for name, user, filters in SCENARIOS:
            s = scope(stats, user, filters)
            in_scope = sum(conn.execute(sa.select(sa.func.count()).select_from(
                registry_model(t)).where(*s.cases(registry_model(t)))).scalar_one()
                for t in CASE_TABLES)
            b, a = summary(results[name]["before"], base), summary(results[name]["after"], base)
            out["dashboard"][name] = {
                "user": user, "filters": filters, "cases_in_scope": in_scope,
                "same_figures": True, "before": b, "after": a,
                "speedup_p50": round(b["p50_ms"] / a["p50_ms"], 2)}
        b, a = summary(public["before"], base), summary(public["after"], base)
        out["transparency"] = {"same_figures": True, "before": b, "after": a,
                               "speedup_p50": round(b["p50_ms"] / a["p50_ms"], 2)}
        # Which statements dominate: one call each, city bureau.
        _name, user, filters = SCENARIOS[0]
        with Statements(db.engine) as old_statements:
            before.dashboard(scope(before, user, filters), now)
        with Statements(db.engine) as new_statements:
            stats.dashboard(scope(stats, user, filters), now)
        out["statements_city_bureau"] = {"before": old_statements.seen,
                                         "after": new_statements.seen}
        session_of = {name: (u.id, u.session_nonce) for name, u in users.items()}
        db.session.remove()

    out["pages"] = bench_pages(app, session_of, base, rounds, page_requests)
    return out


def registry_model(case_type: str):
    from oversight.services import registry

    return registry.binding_for(case_type).model


def bench_pages(app, session_of: dict, base: float, rounds: int, page_requests: int
                ) -> dict:
    """The pages through the app, signed in by a session cookie made here (a login would
    write to the database)."""

    def client_for(username: str | None):
        client = app.test_client()
        if username:
            user_id, nonce = session_of[username]
            with client.session_transaction() as session:
                session["_user_id"] = f"{user_id}:{nonce}"
                session["auth_at"] = session["seen_at"] = int(time.time())
        return client

    def get(client, url: str):
        def request():
            response = client.get(url)
            if response.status_code != 200:
                raise SystemExit(f"{url}: HTTP {response.status_code}")
            return response
        return timed(request)[1]

    out = {}
    pages = [("/staff/stats (city bureau)", "bj_leader", "/staff/stats"),
             ("/staff/stats (branch)", "leader", "/staff/stats"),
             ("/transparency", None, "/transparency")]
    for name, user, url in pages:
        client = client_for(user)
        app.config["STATS_CACHE_SECONDS"] = 0
        computed = [get(client, url) for _i in range(rounds)]
        app.config["STATS_CACHE_SECONDS"] = 60
        app.extensions.pop("oversight.stats", None)
        first = get(client, url)  # computes and keeps
        kept = [get(client, url) for _i in range(page_requests)]
        # A worker that did not count them (another one, or this one restarted): drawn
        # from the shared snapshot (stats_snapshot), counting nothing.
        shared = []
        for _i in range(page_requests):
            app.extensions.pop("oversight.stats", None)
            shared.append(get(client, url))
        out[name] = {"computed_each_request": summary(computed, base),
                     "kept_first_request": summary([first], base),
                     "kept": summary(kept, base),
                     "another_worker_from_snapshot": summary(shared, base)}
        out[name]["kept_p95_within_target"] = out[name]["kept"]["p95_ms"] <= TARGET["p95_ms"]
    # What ``oversight refresh-stats`` does for the figures just read, all counted again.
    from oversight.models.base import utcnow
    from oversight.services.stats import refresh

    with app.app_context():
        started = time.perf_counter()
        done = refresh(utcnow(), older_than=dt.timedelta(0))
        out["refresh_pass"] = {"seconds": round(time.perf_counter() - started, 3),
                               "counted": done.counted}
        db.session.remove()
    app.config["STATS_CACHE_SECONDS"] = 0
    return out


# --------------------------------------------------------------------------- main

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", action="append", required=True,
                        help="SQLAlchemy URL of a seeded instance's database (repeatable)")
    parser.add_argument("--rounds", type=int, default=7,
                        help="calls per measurement of the computed figures")
    parser.add_argument("--page-requests", type=int, default=100,
                        help="requests served from the kept figures per page")
    parser.add_argument("--before-ref", default=BEFORE_REF,
                        help="the git commit whose stats.py is measured as 'before'")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    for url in args.db:
        if SHARED in url:
            raise SystemExit(f"{url}: a shared benchmark instance; copy it and pass the copy")

    scratch = tempfile.TemporaryDirectory(prefix="bench-stats-")
    before = load_before(args.before_ref, Path(scratch.name))
    started = dt.datetime.now(dt.UTC)
    result = {"name": "stats", "date": started.isoformat(timespec="seconds"),
              "command": " ".join([".venv/bin/python", "bench/stats.py", *sys.argv[1:]]),
              "machine": machine(), "load_before": load(),
              "git_head": git("rev-parse", "--short", "HEAD").strip(),
              # uncommitted changes measured with (other work in progress shows here)
              "working_tree_changes": sorted(line[3:] for line in
                                             git("status", "--porcelain").splitlines()),
              "before_ref": args.before_ref, "target": TARGET,
              "parameters": {"rounds": args.rounds, "page_requests": args.page_requests,
                             "scenarios": [{"name": n, "user": u, "filters": f}
                                           for n, u, f in SCENARIOS],
                             "baseline": "SELECT count(*) FROM case_event, same run"},
              "databases": []}
    for url in args.db:
        print(f"{url} ...", file=sys.stderr, flush=True)
        entry = bench_database(url, before, args.rounds, args.page_requests,
                               Path(scratch.name) / f"instance-{len(result['databases'])}")
        result["databases"].append(entry)
        print(json.dumps({k: entry[k] for k in ("indexes_present", "cases_total",
                                                 "baseline_count_case_event", "dashboard",
                                                 "transparency", "pages")},
                         ensure_ascii=False, indent=1), file=sys.stderr, flush=True)
    result["load_after"] = load()
    result["seconds"] = round((dt.datetime.now(dt.UTC) - started).total_seconds(), 1)
    out = Path(args.out or ROOT / "bench" / "results" / f"{started:%Y-%m-%d}-stats.json")
    out.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    scratch.cleanup()
    print(out, file=sys.stderr)


if __name__ == "__main__":
    main()
