"""Load benchmark (issue 8): the real server under a real load generator, every figure next
to a baseline taken in the same run on the same server configuration.

For each database (SQLite WAL in an instance folder, and PostgreSQL when ``--pg`` is given)
and each size (``--sizes``, cases seeded in bulk by ``bench/seed_scale.py``):

1. an instance is prepared through the migrations, the demo data is added and the cases
   are seeded; the search index is built (``oversight reindex``);
2. gunicorn serves it on loopback with 2 sync workers (``bench/server.py``);
3. ``wrk`` (the Debian package) drives each scenario for ``--seconds`` with
   ``--connections`` connections, through ``bench/wrk/report.lua``, which counts statuses
   and receipts and reports latency percentiles:

   - ``bare_flask``: a Flask app with one constant route, under the same gunicorn settings
     (the ceiling for any Flask endpoint on this machine);
   - ``bare_in_app``: a constant route inside the app (its request hooks included);
   - ``intake``: complaint submissions (CSRF, validation, case, identity, event, clock,
     outbox); "no submission lost" is checked by counting rows against receipts;
   - ``intake_floor``: the same rows written as plain INSERTs behind the same request
     hooks and CSRF check, without a form or a page (``bench_wsgi._floor_view``): the
     ceiling of any intake on this stack and machine;
   - ``track``: the public tracking page of a case, signed in with number and code;
   - ``queue``, ``queue_todo``, ``case``, ``dashboard``, ``deadlines``: staff pages for
     the leader of the city bureau (the widest scope of the demo accounts);
   - ``search``: a staff search;

   each staff page is first requested once by the staff client (its time is reported as
   ``first_request_ms``: a cold worker filling its caches; before the server starts,
   ``oversight refresh-stats`` counts again the statistics earlier runs read, as a
   deployment's would, ``refresh_stats``), then warmed on both workers
   for ``--warm-seconds`` at 2 connections, so the runs measure warm workers;

4. worker memory (RSS) is read after the runs, and access-code checks are timed for a
   right code, a wrong code and an unknown number (constant time: the same hashing).

Results go to ``bench/results/<date>-load.json`` (machine, versions, parameters).

    .venv/bin/python bench/load.py --sizes 10000,100000 --seconds 10
    .venv/bin/python bench/load.py --sizes 10000 --pg 'postgresql://postgres@/ov?host=…'
    .venv/bin/python bench/load.py --smoke      # a few seconds: the CI test runs this
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from urllib.parse import quote, urlencode
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import seed_scale  # noqa: E402
import server  # noqa: E402

WRK_SCRIPT = ROOT / "bench" / "wrk" / "report.lua"
STAFF_USER = "bj_leader"
NARRATIVE = ("2026年11月20日晚在三里屯路口，一名辅警态度蛮横，辱骂排队的群众并推搡，"
             "还抢走手机删除视频，希望严肃处理。")


def wrk(url: str, path: str, seconds: float, connections: int, *, method: str = "GET",
        paths: list[str] | None = None, body: str = "", cookie: str = "",
        mark: str = "", key: str = "") -> dict:
    """One wrk run; its report (statuses, marks, latency in ms, requests per second)."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is missing: apt-get install wrk")
    env = {**os.environ, "WRK_METHOD": method, "WRK_PATHS": " ".join(paths or []),
           "WRK_BODY": body, "WRK_COOKIE": cookie, "WRK_MARK": mark, "WRK_KEY": key}
    threads = min(2, connections)
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
         "--timeout", "10s", "-s", str(WRK_SCRIPT), url + path],
        env=env, capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    drain(url)
    line = next(x for x in out.splitlines() if x.startswith("WRKJSON "))
    raw = json.loads(line[len("WRKJSON "):])
    seconds_run = raw["duration_us"] / 1e6
    lat = {k: round(v / 1000, 2) for k, v in raw["latency_us"].items()}
    statuses = raw["statuses"]
    return {
        "requests": raw["requests"],
        "per_second": round(raw["requests"] / seconds_run, 1),
        "statuses": statuses,
        "non_2xx_3xx": sum(v for k, v in statuses.items() if not k.startswith(("2", "3"))),
        "socket_errors": raw["errors"],
        "marks": raw["marks"],
        "latency_ms": lat,
    }


def drain(url: str) -> None:
    """Wait until the server has answered what wrk left queued. wrk stops at its deadline,
    but the connections waiting in the listen queue are still served (with 16 connections
    on 2 workers, up to 14 requests): the next run's first requests waited behind them,
    which put the 16-connection latency into the 2-connection runs' tails (a 1M search's
    p95 read 2.7 s for a 0.3 s page). Two plain requests go through the same queue."""
    for _ in range(2):
        with contextlib.suppress(OSError):
            urlopen(url + "/", timeout=120).read()


def cookie_header(client: server.Client) -> str:
    return "; ".join(f"{k}={v}" for k, v in client.cookies.items())


@contextlib.contextmanager
def _connection(instance: server.Instance):
    """A short-lived connection to the instance's database (the app's URL rules)."""
    import sqlalchemy as sa

    from oversight.config import engine_url

    engine = sa.create_engine(engine_url(instance.database_url))
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def count_complaints(instance: server.Instance) -> int:
    import sqlalchemy as sa

    with _connection(instance) as conn:
        return conn.execute(sa.text("SELECT count(*) FROM complaint")).scalar_one()


def sample_case_paths(instance: server.Instance, n: int = 50) -> list[str]:
    """Complaint pages in the staff user's scope, spread over the table."""
    import sqlalchemy as sa

    with _connection(instance) as conn:
        path = conn.execute(sa.text(
            "SELECT o.path FROM app_user u JOIN organ o ON o.id = u.organ_id "
            "WHERE u.username = :u"), {"u": STAFF_USER}).scalar_one()
        ids = conn.execute(sa.text(
            "SELECT c.id FROM complaint c JOIN organ o ON o.id = c.organ_id "
            "WHERE o.path LIKE :p ORDER BY c.id"), {"p": path + "%"}).scalars().all()
    step = max(1, len(ids) // n)
    return [f"/staff/complaints/{i}" for i in ids[::step][:n]]


def time_access_codes(srv: server.Server, number: str, code: str, rounds: int) -> dict:
    """Median seconds of POST /track for a right code, a wrong code and an unknown number:
    the three must cost the same (the same hashing work either way)."""
    samples: dict[str, list[float]] = {"right": [], "wrong": [], "unknown": []}
    client = server.Client(srv.url)
    token = server.csrf_token(client.get("/track").text)
    tries = {"right": (number, code), "wrong": (number, "ABCD-EFGH"),
             "unknown": (number[:-3] + "999", code)}
    for _i in range(rounds):
        for kind, (num, cod) in tries.items():
            response = client.post("/track", {"csrf_token": token, "number": num,
                                              "code": cod})
            samples[kind].append(response.seconds)
    client.close()
    return {kind: round(statistics.median(values) * 1000, 2)
            for kind, values in samples.items()}


def seeded_instance(dialect: str, pg_url: str | None, size: int, keep: str | None,
                    report: dict, revision: str | None = None) -> server.Instance:
    """An instance holding ``size`` seeded cases and its search index.

    Without ``keep`` it is made afresh in a temporary folder (and removed after the run).
    With ``keep``, the folder ``<keep>/<dialect>-<size>`` is made once and reused by later
    runs: the database is brought to the newest migration (``upgrade_seconds``: the
    cost of a new migration on this data, e.g. an index), so one seeding serves the
    measurements before and after a change. The submissions earlier runs added stay.
    ``revision`` (with ``keep``) takes the schema back to that migration after the upgrade:
    the same data measured without a later migration's indexes."""
    if pg_url and "{size}" in pg_url:
        pg_url = pg_url.format(size=size)
    root = Path(keep) / f"{dialect}-{size}" if keep else None
    marker = root / "bench-instance.json" if root else None
    if marker is not None and marker.exists():
        saved = json.loads(marker.read_text())
        if saved["database_url"] != (pg_url or saved["database_url"]):
            raise RuntimeError(f"{root} was seeded on another database")
        instance = server.Instance(path=root.resolve(), database_url=saved["database_url"],
                                   passwords=saved["passwords"])
        started = time.perf_counter()
        instance.oversight("db", "upgrade", timeout=7200)
        report["upgrade_seconds"] = round(time.perf_counter() - started, 1)
        if revision:
            started = time.perf_counter()
            instance.oversight("db", "downgrade", revision, timeout=7200)
            report["downgrade_seconds"] = round(time.perf_counter() - started, 1)
        report["revision"] = instance.oversight("db", "current").stdout.split()[0]
        report["reused"] = {k: saved[k] for k in ("seeded_on", "seed_seconds",
                                                  "reindex_seconds")}
        vacuum(instance, report)
        return instance
    if root is not None and root.exists():
        shutil.rmtree(root)  # an interrupted seeding: start again
    instance = server.prepare(pg_url, reset=bool(pg_url), root=root)
    seeding = seed_scale.seed(instance.database_url, size) if size else {}
    report["seed_seconds"] = seeding.get("seconds_with_analyze", 0.0)
    started = time.perf_counter()
    instance.oversight("reindex", timeout=7200)
    report["reindex_seconds"] = round(time.perf_counter() - started, 1)
    if marker is not None:
        marker.write_text(json.dumps({
            "database_url": instance.database_url, "passwords": instance.passwords,
            "seeded_on": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "seed_seconds": report["seed_seconds"],
            "reindex_seconds": report["reindex_seconds"]}, indent=1))
    return instance


def vacuum(instance: server.Instance, report: dict) -> None:
    """PostgreSQL: VACUUM ANALYZE a reused database before it is measured, as autovacuum
    would have done on a live server by then. The submissions earlier runs added (thousands
    of open complaints in the city bureau's scope) were otherwise never vacuumed: their
    pages were not marked all-visible, so counting the open complaints from the index
    still read 4,300 of its 5,300 rows from the table (12 ms of a 74 ms queue page)."""
    if not instance.database_url.startswith("postgresql"):
        return
    import psycopg

    started = time.perf_counter()
    with psycopg.connect(instance.database_url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
    report["vacuum_seconds"] = round(time.perf_counter() - started, 1)


def run_size(dialect: str, pg_url: str | None, size: int, args) -> dict:
    report: dict = {"dialect": dialect, "cases": size,
                    "load_average_before": [round(x, 2) for x in os.getloadavg()]}
    started = time.perf_counter()
    instance = seeded_instance(dialect, pg_url, size, args.keep, report, args.revision)
    # A kept instance also holds the submissions of earlier runs' intake.
    report["complaints_at_start"] = count_complaints(instance)
    if args.prepare_only:
        return report
    try:
        # As a deployment's `refresh-stats` would have: the statistics a kept instance's
        # earlier runs read are counted again before the server starts, so a cold
        # worker's first dashboard is drawn from them (a new instance has none: its first
        # dashboard is counted in the request).
        refreshing = time.perf_counter()
        refreshed = instance.oversight("refresh-stats", timeout=3600)
        report["refresh_stats"] = {
            "seconds": round(time.perf_counter() - refreshing, 1),
            "said": refreshed.stdout.strip().splitlines()[-1:]}
        env = {"OVERSIGHT_TRACK_MAX_FAILURES": str(10**9)}
        runs: dict[str, dict] = {}
        with server.Server(instance, workers=2, app="bench.bench_wsgi:bare_app()",
                           env=env) as bare:
            wrk(bare.url, "/", 2, args.connections)  # warm-up
            runs["bare_flask"] = wrk(bare.url, "/", args.seconds, args.connections)
        with server.Server(instance, workers=2, app="bench.bench_wsgi:oversight_app()",
                           env=env) as srv:
            runs.update(drive_app(srv, instance, args))
            report["access_code_ms"] = runs.pop("_access_code_ms")
            report["first_request_ms"] = runs.pop("_first_ms")
            # rss: all resident pages; anon: the worker's own (heap, the dictionary);
            # file: mapped files, such as the search index (shared, and reclaimable)
            report["worker_memory_mb"] = {
                str(pid): {k: round(v / 2**20, 1) for k, v in server.memory(pid).items()}
                for pid in srv.worker_pids()}
            # what the mapped part is: libraries, or pages of the search index
            report["worker_mapped_files_mb"] = {
                str(pid): {k: round(v / 2**20, 1) for k, v in server.mapped_files(pid).items()}
                for pid in srv.worker_pids()}
        report["runs"] = runs
        ceiling = runs["bare_flask"]["per_second"]
        report["ratios_to_bare_flask"] = {
            name: round(run["per_second"] / ceiling, 3) for name, run in runs.items()}
    finally:
        instance.remove()
    report["seconds"] = round(time.perf_counter() - started, 1)
    report["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    return report


def drive_app(srv: server.Server, instance: server.Instance, args) -> dict:
    runs: dict[str, dict] = {}
    seconds, conns = args.seconds, args.connections
    wrk(srv.url, "/_bench/bare", 2, conns)  # warm-up: both workers import everything
    runs["bare_in_app"] = wrk(srv.url, "/_bench/bare", seconds, conns)

    # Intake: one browser's session and token; each post carries its own one-time key, as
    # a browser filling the form again would, so each is checked and files a new case.
    public = server.Client(srv.url)
    form = server.complaint_form_fields(public.get("/complaints/new").text)
    key = form.pop("submission_key")
    form["narrative"] = NARRATIVE
    body = urlencode(form)
    before = count_complaints(instance)
    runs["intake"] = wrk(srv.url, "/complaints/new", seconds, conns, method="POST",
                         body=body, cookie=cookie_header(public), mark='id="access-code"',
                         key="submission_key")
    after = count_complaints(instance)
    runs["intake"]["rows_added"] = after - before
    runs["intake"]["lost"] = max(0, runs["intake"]["marks"] - (after - before))
    # The intake's floor (bench_wsgi._floor_view): the same rows as plain INSERTs behind
    # the same hooks and CSRF check, no form and no page. What a rewrite could reach.
    before = count_complaints(instance)
    runs["intake_floor"] = wrk(srv.url, "/_bench/floor", seconds, conns, method="POST",
                               body=body, cookie=cookie_header(public), mark="ok TS")
    after = count_complaints(instance)
    runs["intake_floor"]["rows_added"] = after - before
    runs["intake_floor"]["lost"] = max(0, runs["intake_floor"]["marks"] - (after - before))

    # Tracking: a case filed through the form, opened with its number and code.
    form["narrative"] = NARRATIVE + "（跟踪）"
    form["submission_key"] = key
    number, code = server.receipt(public.post("/complaints/new", form).text)
    tracker = server.Client(srv.url)
    assert server.track(tracker, number, code).status == 200
    runs["track"] = wrk(srv.url, "/track/case", seconds, conns, cookie=cookie_header(tracker))
    if args.latency_connections:
        runs[f"track@{args.latency_connections}"] = wrk(
            srv.url, "/track/case", seconds, args.latency_connections,
            cookie=cookie_header(tracker))
    runs["_access_code_ms"] = time_access_codes(srv, number, code, args.code_rounds)

    staff = server.Client(srv.url)
    assert server.login(staff, STAFF_USER, instance.passwords[STAFF_USER]).status == 302
    cookie = cookie_header(staff)
    pages = {
        "queue": ["/staff/?type=complaint&state=open&page=2"],
        "queue_todo": ["/staff/?state=todo"],
        "case": sample_case_paths(instance),
        "dashboard": ["/staff/stats"],
        "deadlines": ["/staff/deadlines"],
        "search": ["/staff/search?q=" + quote("辅警 推搡")],
    }
    first_ms = {}
    for name, paths in pages.items():
        for i, path in enumerate(paths[:3]):  # each page answers before it is measured
            started = time.perf_counter()
            status = staff.get(path).status
            if not i:  # a cold worker's first request: its caches are filled here
                first_ms[name] = round((time.perf_counter() - started) * 1000, 1)
            if status != 200:
                raise RuntimeError(f"{name}: {path} answered {status}")
        # One client's requests go to one worker: warm the other one too, so the runs
        # measure warm workers (the first request is reported on its own, above).
        wrk(srv.url, paths[0], args.warm_seconds, 2, paths=paths, cookie=cookie)
        runs[name] = wrk(srv.url, paths[0], seconds, conns, paths=paths, cookie=cookie)
        if args.latency_connections:
            # With 16 connections on 2 workers a request mostly waits for a worker (p95
            # is about 8 service times): with as many connections as workers, the
            # latency is the page's own.
            runs[f"{name}@{args.latency_connections}"] = wrk(
                srv.url, paths[0], seconds, args.latency_connections, paths=paths,
                cookie=cookie)
    for client in (public, tracker, staff):
        client.close()
    runs["_first_ms"] = first_ms
    return runs


def machine() -> dict:
    load = os.getloadavg()
    return {"python": platform.python_version(), "platform": platform.platform(),
            "cpus": os.cpu_count(), "load_average_at_start": [round(x, 2) for x in load],
            "wrk": subprocess.run(["wrk", "--version"], capture_output=True,
                                  text=True).stdout.splitlines()[0:1],
            "versions": {p: metadata.version(p) for p in
                         ("flask", "sqlalchemy", "gunicorn", "psycopg", "whoosh-reloaded")}}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000", help="comma-separated case counts")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--latency-connections", type=int, default=2,
                        help="also run the tracking and staff pages with this many "
                             "connections (0: not), for their latency without queueing")
    parser.add_argument("--code-rounds", type=int, default=30)
    parser.add_argument("--pg", help="a PostgreSQL URL (its public schema is replaced); "
                        "{size} in it is replaced by the size, one database per size")
    parser.add_argument("--keep", metavar="DIR",
                        help="keep the seeded instances in DIR/<dialect>-<size> and reuse "
                             "them in later runs (migrated to the newest revision)")
    parser.add_argument("--revision",
                        help="with --keep: measure the data at this migration (downgraded "
                             "after the upgrade), e.g. the one before an index migration")
    parser.add_argument("--prepare-only", action="store_true",
                        help="with --keep: seed the instances, measure nothing")
    parser.add_argument("--label", default="",
                        help="what this run measures (e.g. before-indexes), kept in the results")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--warm-seconds", type=float, default=3,
                        help="each staff page's warm-up, 2 connections (both workers)")
    parser.add_argument("--smoke", action="store_true",
                        help="a few seconds at 200 cases, results not written")
    parser.add_argument("--out", help="results file (default bench/results/<date>-load.json)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if args.smoke:
        sizes, args.seconds, args.code_rounds, args.warm_seconds = [200], 1, 3, 1
        args.latency_connections = 0
    targets = ([] if args.no_sqlite else [("sqlite", None)]) + (
        [("postgresql", args.pg)] if args.pg else [])
    results = {"benchmark": "load", "date": dt.date.today().isoformat(),
               "machine": machine(),
               "parameters": {"sizes": sizes, "seconds": args.seconds,
                              "connections": args.connections, "workers": 2,
                              "latency_connections": args.latency_connections,
                              "warm_seconds": args.warm_seconds,
                              "staff_user": STAFF_USER, "label": args.label},
               "results": []}
    for dialect, url in targets:
        for size in sizes:
            print(f"== {dialect} {size} cases", flush=True)
            result = run_size(dialect, url, size, args)
            results["results"].append(result)
            print(json.dumps({k: v for k, v in result.items() if k != "runs"},
                             ensure_ascii=False), flush=True)
            for name, run in result.get("runs", {}).items():
                if "latency_ms" in run:
                    print(f"  {name:12} {run['per_second']:8.1f}/s  p50 "
                          f"{run['latency_ms']['p50']:7.2f}  p95 {run['latency_ms']['p95']:7.2f}"
                          f"  p99 {run['latency_ms']['p99']:7.2f} ms  non-2xx "
                          f"{run['non_2xx_3xx']}", flush=True)
    if not args.smoke and not args.prepare_only:
        name = f"{results['date']}-load{'-' + args.label if args.label else ''}.json"
        out = Path(args.out or ROOT / "bench" / "results" / name)
        out.write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n")
        print(f"results: {out}")
    return results


if __name__ == "__main__":
    main()
