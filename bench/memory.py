"""A worker's resident memory through a walk of the staff pages, before and after a change
(issue 8: each worker ≤ 150 MB).

Each checkout (``--root``, repeatable; this one by default) is measured in a fresh
process, one after the other on the same kept instance: the app is created and warmed
as gunicorn's hook warms a worker (``oversight.warm``, when the checkout has it), the
city bureau's leader signs in, and the pages the load benchmark drives are fetched in
turn: the queue's first five pages, the to-do queue, 50 case pages, the dashboard, the
deadlines and seven searches; then the whole walk again; then every organ's scope is read
through the search engine (what case pages across the province would read, which one
user's walk cannot show). After each group the process's
memory is read from ``/proc/self/status`` as ``bench/load.py`` reads a worker's: RSS, of
which the process's own (``RssAnon``) and mapped files (``RssFile``: libraries and the
search index's pages). The test client stands in for gunicorn (a few MB of its own).

    git worktree add /tmp/before 600e1e5
    .venv/bin/python bench/memory.py --instance /var/tmp/ovbench/sqlite-1000000 \\
        --root /tmp/before --root . --out bench/results/2026-11-26-memory-1m.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import server  # the standard library only: it imports no checkout's app

ROOT = Path(__file__).resolve().parent.parent
USER = "bj_leader"
SEARCHES = ("辅警 推搡", "态度 蛮横", "删除 视频", "殴打", "收受 财物", "酒后", "辱骂 群众")


def memory_mb() -> dict[str, float]:
    """This process's memory, as ``bench/load.py`` reads a worker's, in MB."""
    return {k: round(v / 2**20, 1) for k, v in server.memory(os.getpid()).items()}


def database_url(instance: Path) -> str:
    url = json.loads((instance / "bench-instance.json").read_text())["database_url"]
    if url.startswith("sqlite:"):  # the instance's own file, also in a copied instance
        url = f"sqlite:///{instance.resolve() / 'oversight.db'}"
    return url


def sample_cases(instance: Path, n: int = 50) -> list[int]:
    """Complaints in the user's scope, spread over the table: chosen by the parent, so
    that the walking process never holds the scope's 300,000 ids (at 1M) itself."""
    import sqlalchemy as sa

    engine = sa.create_engine(database_url(instance))
    try:
        with engine.connect() as conn:
            ids = conn.execute(sa.text(
                "SELECT c.id FROM complaint c JOIN organ o ON o.id = c.organ_id "
                "JOIN app_user u ON u.username = :u JOIN organ uo ON uo.id = u.organ_id "
                "WHERE o.path LIKE uo.path || '%' ORDER BY c.id"), {"u": USER}).scalars().all()
    finally:
        engine.dispose()
    return ids[::max(1, len(ids) // n)][:n]


def walk(instance: Path, rounds: int, case_ids: list[int]) -> dict:
    """In this process: the app of the checkout first on ``sys.path``, warmed, walked."""
    marker = json.loads((instance / "bench-instance.json").read_text())
    os.environ["OVERSIGHT_INSTANCE"] = str(instance)
    os.environ["DATABASE_URL"] = database_url(instance)
    steps = [{"step": "started", **memory_mb()}]
    from oversight import create_app

    app = create_app()
    steps.append({"step": "app created", **memory_mb()})
    try:
        from oversight.warm import warm
    except ImportError:  # a checkout from before the warm-up
        warm = None
    if warm is not None:
        warm(app)
        steps.append({"step": "warmed", **memory_mb()})
    groups = {
        "queue": [f"/staff/?type=complaint&state=open&page={p}" for p in range(1, 6)],
        "to-do": ["/staff/?state=todo"],
        "case pages": [f"/staff/complaints/{i}" for i in case_ids],
        "dashboard": ["/staff/stats"],
        "deadlines": ["/staff/deadlines"],
        "searches": [f"/staff/search?q={quote(q)}" for q in SEARCHES],
    }
    client = app.test_client()
    token = server.csrf_token(client.get("/staff/login").get_data(as_text=True))
    if client.post("/staff/login", data={"csrf_token": token, "username": USER,
                                         "password": marker["passwords"][USER]}
                   ).status_code != 302:
        raise RuntimeError(f"{USER} could not sign in")
    for walk_round in range(1, rounds + 1):
        for name, paths in groups.items():
            started = time.perf_counter()
            for path in paths:
                status = client.get(path).status_code
                if status != 200:
                    raise RuntimeError(f"{path} answered {status}")
            steps.append({"step": f"{name} ({walk_round})", "pages": len(paths),
                          "seconds": round(time.perf_counter() - started, 2), **memory_mb()})
    # What case pages across the whole province would add, which one user's walk cannot
    # show: every organ's scope read through the search engine, as a similar-cases list
    # reads its case organ's.
    from oversight.extensions import db
    from oversight.models import Organ
    from oversight.search.service import _pool, engine_for

    started = time.perf_counter()
    with app.app_context():
        organ_ids = db.session.execute(db.select(Organ.id)).scalars().all()
        with _pool().searcher() as (_ident, searcher):
            if searcher is not None:
                engine = engine_for(searcher)
                for organ_id in organ_ids:
                    engine.scope(organ_id)
        db.session.remove()
    steps.append({"step": "every organ's scope", "pages": len(organ_ids),
                  "seconds": round(time.perf_counter() - started, 2), **memory_mb()})
    return {"steps": steps, "peak": {k: max(s[k] for s in steps) for k in ("rss", "anon")}}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instance", required=True, type=Path)
    parser.add_argument("--root", type=Path, action="append",
                        help="a checkout to measure (repeat for before and after)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--walk", help=argparse.SUPPRESS)  # the cases, in a child
    args = parser.parse_args(argv)
    if args.walk:  # the child process of one checkout
        sys.path.insert(0, str(args.root[0].resolve()))
        print(json.dumps(walk(args.instance, args.rounds,
                              [int(i) for i in args.walk.split(",")])))
        return {}
    cases = ",".join(map(str, sample_cases(args.instance)))
    results = []
    for root in args.root or [ROOT]:
        env = {**os.environ, "OVERSIGHT_SEARCH_INLINE": "0"}
        done = subprocess.run(
            [sys.executable, __file__, "--walk", cases, "--root", str(root), "--instance",
             str(args.instance), "--rounds", str(args.rounds)],
            env=env, capture_output=True, text=True, check=True)
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root,
                              capture_output=True, text=True).stdout.strip()
        result = {"root": str(root), "head": head, **json.loads(done.stdout)}
        results.append(result)
        print(f"{head}: peak RSS {result['peak']['rss']} MB, own {result['peak']['anon']} MB",
              file=sys.stderr)
    report = {"benchmark": "memory", "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
              "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                          "platform": platform.platform(),
                          "load_average": [round(x, 2) for x in os.getloadavg()]},
              "instance": str(args.instance), "user": USER, "rounds": args.rounds,
              "results": results}
    text = json.dumps(report, ensure_ascii=False, indent=1)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)
    return report


if __name__ == "__main__":
    main()
