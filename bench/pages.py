"""Staff and tracking pages in-process, before and after a change (issue 8).

A page's own service time, without a server, a network or queueing: the Flask test
client signs in and fetches each page ``--rounds`` times; the median, p95 and the number
of SQL statements are recorded next to a constant route inside the same app (the
baseline, taken in the same run). ``--root`` imports the app from another checkout (a
``git worktree`` of an earlier commit), so one script measures the code before and after
on the same data:

    git worktree add /tmp/before 512280b
    .venv/bin/python bench/pages.py --instance /var/tmp/ovbench/sqlite-100000 \\
        --root /tmp/before --label before --out bench/results/2026-11-26-pages-before.json

``--instance`` is a kept instance of ``bench/load.py --keep`` (its database and logins);
it is only read (pages are GETs), except for the sign-in's session checks.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PAGES = {
    "queue": "/staff/?type=complaint&state=open&page=2",
    "queue_all": "/staff/?type=complaint&page=3",
    "queue_todo": "/staff/?state=todo",
    "dashboard": "/staff/stats",
    "deadlines": "/staff/deadlines",
    "search": "/staff/search?q=%E8%BE%85%E8%AD%A6%20%E6%8E%A8%E6%90%A1",
}
USERS = ("bj_leader", "leader", "yn_inspector")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instance", required=True, type=Path)
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout to import")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--users", default=",".join(USERS))
    parser.add_argument("--label", default="")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(args.root.resolve()))
    marker = json.loads((args.instance / "bench-instance.json").read_text())
    os.environ["OVERSIGHT_INSTANCE"] = str(args.instance)
    url = marker["database_url"]
    if url.startswith("sqlite:"):  # the instance's own file, also in a copied instance
        url = f"sqlite:///{args.instance.resolve() / 'oversight.db'}"
    os.environ["DATABASE_URL"] = url
    os.environ["OVERSIGHT_SEARCH_INLINE"] = "0"
    from sqlalchemy import event

    from oversight import create_app
    from oversight.extensions import db

    app = create_app()
    app.add_url_rule("/_bench/bare", "bench_bare", lambda: "ok")
    with app.app_context():
        engine = db.engine
        revision = db.session.execute(db.text("SELECT version_num FROM alembic_version")
                                      ).scalar()
        case_ids = db.session.execute(db.text(
            "SELECT c.id FROM complaint c JOIN organ o ON o.id = c.organ_id "
            "JOIN app_user u ON u.username = 'bj_leader' JOIN organ uo ON uo.id = u.organ_id "
            "WHERE o.path LIKE uo.path || '%' ORDER BY c.id")).scalars().all()
    step = max(1, len(case_ids) // 20)
    case_paths = [f"/staff/complaints/{i}" for i in case_ids[::step][:20]]
    statements = [0]
    event.listen(engine, "before_cursor_execute",
                 lambda *_a: statements.__setitem__(0, statements[0] + 1))

    def timed(client, paths: list[str]) -> dict:
        for path in paths[:3]:
            response = client.get(path)
            if response.status_code != 200:
                raise RuntimeError(f"{path} answered {response.status_code}")
        samples, counts = [], []
        for i in range(args.rounds):
            path = paths[i % len(paths)]
            statements[0] = 0
            started = time.perf_counter()
            client.get(path)
            samples.append(time.perf_counter() - started)
            counts.append(statements[0])
        samples.sort()
        return {"p50_ms": round(statistics.median(samples) * 1000, 2),
                "p95_ms": round(samples[max(0, round(len(samples) * 0.95) - 1)] * 1000, 2),
                "statements": max(counts)}

    results: dict = {"bare_in_app": timed(app.test_client(), ["/_bench/bare"] * 3)}
    for user in args.users.split(","):
        client = app.test_client()
        page = client.get("/staff/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        response = client.post("/staff/login", data={
            "csrf_token": token, "username": user, "password": marker["passwords"][user]})
        if response.status_code != 302:
            raise RuntimeError(f"{user} could not sign in")
        pages = dict(PAGES)
        if user == "bj_leader":
            pages["case"] = case_paths
        results[user] = {name: timed(client, paths if isinstance(paths, list) else [paths])
                         for name, paths in pages.items()}
    with app.app_context():
        db.engine.dispose()  # close the pooled connections (the smoke test runs in-process)
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=args.root,
                          capture_output=True, text=True).stdout.strip()
    report = {
        "benchmark": "pages", "label": args.label,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "load_average": [round(x, 2) for x in os.getloadavg()]},
        "code": {"root": str(args.root), "head": head}, "revision": revision,
        "instance": str(args.instance), "database": url.split("?")[0],
        "rounds": args.rounds, "results": results,
    }
    text = json.dumps(report, ensure_ascii=False, indent=1)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)
    return report


if __name__ == "__main__":
    main()
