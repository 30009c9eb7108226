"""Intake benchmark: complaint submissions through the full web path (CSRF, validation,
case row, identity, event, clock, outbox) against a bare constant route, in the same run,
same process, same machine. The Flask test client is used on purpose: it measures the
application's own cost without a server or a network; issue-level load tests with
gunicorn and wrk belong to the performance work (bench/load.py).

Two ways of indexing are measured: as under gunicorn (the outbox row is written with the
case and the one indexer applies it later, in batches), and as one process runs it
(``SEARCH_INLINE``: a Whoosh commit after each submission, in the request).

    .venv/bin/python bench/intake.py [--n 300]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import re
import statistics
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from oversight import create_app  # noqa: E402
from oversight.extensions import db  # noqa: E402
from oversight.services.uow import unit_of_work  # noqa: E402


def timed(fn, n):
    samples = []
    for i in range(n):
        start = time.perf_counter()
        fn(i)
        samples.append(time.perf_counter() - start)
    samples.sort()
    return {
        "n": n,
        "per_second": round(n / sum(samples), 1),
        "p50_ms": round(statistics.median(samples) * 1000, 3),
        "p99_ms": round(samples[int(n * 0.99) - 1] * 1000, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=300)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="oversight-bench-"))
    app = create_app({"INSTANCE_PATH": str(tmp / "instance"),
                      # one client posts every submission: lift the per-client flood limit
                      "SUBMIT_MAX_PER_CLIENT": 10**9,
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'bench.db'}"})
    app.add_url_rule("/_bare", "bare", lambda: "ok")
    with app.app_context():
        db.create_all()
        from oversight.models import Organ
        from oversight.seed import seed_demo

        with unit_of_work():
            seed_demo()
        organ = db.session.execute(db.select(Organ).where(Organ.code == "BJ-CY")).scalar_one()
        category = f"{organ.pack_id}:{organ.pack.categories[0].code}"
        organ_id = organ.id
    client = app.test_client()
    page = client.get("/complaints/new").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)

    def submit(i):
        r = client.post("/complaints/new", data={
            "csrf_token": token, "kind": "complaint", "anonymous": "y",
            "organ_id": str(organ_id), "category_code": category,
            "officer_badge": "BJ10001", "incident_place": "三里屯路口",
            "narrative": f"第{i}号基准投诉：辅警在路口执勤时态度蛮横，辱骂群众并推搡，" * 3,
        })
        assert r.status_code == 200 and b'id="access-code"' in r.data, r.status_code

    def bare(_i):
        assert client.get("/_bare").status_code == 200

    for i in range(20):  # warm up both paths
        bare(i)
        submit(i)
    baseline = timed(bare, args.n * 5)
    # As deployed under gunicorn: the outbox row is written with the case, and the one
    # indexer (`oversight index --follow`) applies it, in batches, outside the request.
    app.config["SEARCH_INLINE"] = False
    intake = timed(submit, args.n)
    # As `./dev serve` runs (one process): the index is updated after each commit, one
    # Whoosh commit per submission, in the request.
    app.config["SEARCH_INLINE"] = True
    inline = timed(lambda i: submit(args.n + 20 + i), args.n)
    with app.app_context():
        from oversight.models import Complaint

        stored = db.session.execute(db.select(db.func.count(Complaint.id))).scalar()
    result = {
        "name": "intake",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "processor": platform.machine()},
        "versions": {p: metadata.version(p) for p in ("flask", "sqlalchemy", "werkzeug")},
        "parameters": {"n": args.n, "database": "sqlite (WAL)", "client": "flask test client"},
        "bare_route": baseline,
        "intake": intake,
        "ratio_to_bare": round(intake["per_second"] / baseline["per_second"], 3),
        "intake_indexing_inline": inline,
        "submissions_stored": stored,
        "submissions_sent": 2 * args.n + 20,
    }
    out = ROOT / "bench" / "results" / f"{dt.date.today().isoformat()}-intake.json"
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
