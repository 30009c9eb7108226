"""Two threads, then two processes, fire transitions on one case at the same moment:
exactly one succeeds and exactly one event is written (SQLite file database here;
PostgreSQL when TEST_DATABASE_URL is set)."""

from __future__ import annotations

import multiprocessing
import threading
import traceback

import pytest
import sqlalchemy as sa
from helpers import PG_URL, login, make_complaint, user
from hostile_helpers import race_worker
from webhelpers import refreshed

from oversight.extensions import db
from oversight.models import CaseEvent, Complaint
from oversight.services import workflow
from oversight.services.errors import ServiceError
from oversight.services.uow import unit_of_work
from workflows.complaint import ComplaintState


def events(case, trigger: str | None = None) -> int:
    db.session.rollback()
    q = sa.select(sa.func.count(CaseEvent.id)).where(CaseEvent.case_type == "complaint",
                                                     CaseEvent.case_id == case.id)
    if trigger:
        q = q.where(CaseEvent.trigger == trigger)
    return db.session.execute(q).scalar_one()


def in_threads(*jobs) -> list:
    barrier = threading.Barrier(len(jobs), timeout=30)
    results, errors = [None] * len(jobs), []

    def run(i, job):
        try:
            barrier.wait()
            results[i] = job()
        except Exception:  # reported below
            errors.append(traceback.format_exc())

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == [], errors[0] if errors else ""
    return results


@pytest.mark.parametrize("triggers", [("accept", "accept"), ("accept", "propose_refusal")])
def test_two_threads_one_winner_one_event(app, demo, triggers):
    case, _code = make_complaint()
    case_id, start_events = case.id, events(case)
    data = {"accept": {}, "propose_refusal": {"reason": "不属于受理范围"}}

    def attempt(trigger):
        def job():
            with app.app_context():
                try:
                    with unit_of_work():
                        workflow.fire(db.session.get(Complaint, case_id), trigger,
                                      user("intake"), data[trigger])
                    return "ok"
                except ServiceError as exc:
                    return type(exc).__name__
                finally:
                    db.session.remove()
        return job

    outcomes = in_threads(*(attempt(t) for t in triggers))
    assert sorted(outcomes).count("ok") == 1, outcomes
    assert events(case) == start_events + 1
    assert refreshed(case).version == 2


def test_two_browsers_post_the_same_action_one_wins(app, demo):
    case, _code = make_complaint()
    clients = [app.test_client(), app.test_client()]
    for client in clients:
        login(client, demo, "intake")
    url, version = f"/staff/complaints/{case.id}/accept", str(case.version)
    in_threads(*(lambda c=c: c.post(url, data={"version": version}) for c in clients))
    assert events(case, "accept") == 1
    case = refreshed(case)
    assert case.state is ComplaintState.ACCEPTED and case.version == 2


def test_two_processes_one_winner_one_event(app, demo, tmp_path):
    case, _code = make_complaint()
    db.session.commit()
    start_events = events(case)
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2, timeout=60), ctx.Queue()
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    procs = [ctx.Process(target=race_worker,
                         args=(uri, str(tmp_path / f"p{i}"), case.id, "accept", "intake",
                               barrier, results)) for i in range(2)]
    for p in procs:
        p.start()
    outcomes = sorted(results.get(timeout=90) for _p in procs)
    for p in procs:
        p.join(timeout=30)
    results.close()
    results.join_thread()
    assert [p.exitcode for p in procs] == [0, 0]
    assert outcomes.count("ok") == 1, outcomes
    assert events(case, "accept") == 1 and events(case) == start_events + 1
    assert refreshed(case).version == 2
    assert db.engine.dialect.name == ("postgresql" if PG_URL else "sqlite")
