"""Fixtures of the performance tests: one database seeded by ``bench/seed_scale.py`` at a
small size, every staff page visited, the same database grown about tenfold, every page
visited again; and the SQL statements each visit ran.

The pages are the same at both sizes: the same users, and the same cases (those of the
small seed, which the large one only adds to; before the second visit the shown cases get
more events, 督办 and evidence through the services too). What a page lists grows with the
data, so a statement run per listed row (an N+1) shows as a count that grows.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from helpers import PG_URL, make_app, prepare_database

from oversight.extensions import db
from oversight.models.base import utcnow

ROOT = Path(__file__).resolve().parents[2]

# test_load_smoke.py runs ``bench/load.py --smoke``, whose smoke run always serves an
# SQLite instance of its own: TEST_DATABASE_URL plays no part in it. The PostgreSQL suite
# would run the very same thing a second time (about 40 s of the longer suite), so only
# the SQLite suite collects it. Nothing is skipped: it runs once in every CI run.
collect_ignore = ["test_load_smoke.py"] if PG_URL else []

FOCUS = "BJ-CY"  # the demo staff's organ, where the seeder covers every (type, state)
TABLES = {"discipline": "discipline_decision"}


@dataclass
class Visit:
    """One page as a user got it: its status, the SQL it ran and the HTML."""

    status: int
    statements: list[str]
    html: str


@dataclass
class Seeded:
    """Every page at both sizes, by name; the cases shown and the seeder's reports."""

    small: dict[str, Visit] = field(default_factory=dict)
    large: dict[str, Visit] = field(default_factory=dict)
    cases: dict[str, int] = field(default_factory=dict)
    reports: list[dict] = field(default_factory=list)
    grown: int = 0  # steps added to the shown cases themselves before the large visit


class _FreshContextClient(FlaskClient):
    """Each request in its own app context and database session, as in production: the
    identity map of one request never spares another its queries."""

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


def load_seeder():
    """``bench/seed_scale.py`` (bench/ is not a package)."""
    spec = importlib.util.spec_from_file_location("seed_scale", ROOT / "bench" / "seed_scale.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _grow(app, seeder, n: int, seed: int, now: dt.datetime) -> dict:
    from oversight import search

    with app.app_context():
        report = seeder.seed(db.engine, n, seed, now=now, batch=500)
        search.rebuild()
        db.session.remove()
    return report


def _targets(app, terminal_states: dict[str, tuple[str, ...]]) -> dict[str, int]:
    """The cases and organ the pages show, chosen from the small seed in the demo staff's
    organ subtree: per type the case with the most events, and the open one with the most
    (its page offers actions, whose guards run)."""
    found: dict[str, int] = {}
    with app.app_context():
        subtree = sa.text("SELECT id FROM organ WHERE path LIKE (SELECT path FROM organ "
                          "WHERE code = :focus) || '%'")
        for t, ends in terminal_states.items():
            table = TABLES.get(t, t)
            terminal = ", ".join(f"'{s}'" for s in ends)
            for which, where in (("busiest", ""), ("open", f"AND c.state NOT IN ({terminal})"),
                                 ("mergeable", "AND c.state IN ('submitted', 'accepted')")):
                if which == "mergeable" and t != "complaint":
                    continue
                found[f"{t}_{which}"] = db.session.execute(sa.text(
                    f"SELECT c.id FROM {table} c JOIN case_event e ON e.case_type = :t "
                    f"AND e.case_id = c.id WHERE c.organ_id IN ({subtree.text}) {where} "
                    "GROUP BY c.id ORDER BY count(e.id) DESC, c.id LIMIT 1"),
                    {"t": t, "focus": FOCUS}).scalar_one()
        found["organ"] = db.session.execute(sa.text(
            "SELECT id FROM organ WHERE code = :focus"), {"focus": FOCUS}).scalar_one()
        found["officer"] = db.session.execute(sa.text(
            "SELECT officer_id FROM app_user WHERE username = 'officer'")).scalar_one()
        db.session.remove()
    return found


def _grow_cases(app, case_ids: dict[str, int]) -> int:
    """Lengthen the shown cases themselves, through the services: three 督办 from the
    upper organ, three notes (or evidence entries, on an investigation that takes them)
    and, on a complaint still open to it, the complainant's material. A statement run per
    event, 督办 or evidence entry of a case would then show too. Returns the steps taken."""
    from helpers import user

    from oversight.models import User
    from oversight.services import registry, supervision, workflow
    from oversight.services.access import can
    from oversight.services.actors import PublicActor
    from oversight.services.uow import unit_of_work
    from workflows.clocks import to_local

    def possible(case, trigger: str, actor, data: dict) -> bool:
        return workflow.refusal_reason(case, trigger, actor, data, utcnow()) is None

    taken = 0
    with app.app_context():
        deadline = (to_local(utcnow()) + dt.timedelta(days=10)).date().isoformat()
        for key, case_id in sorted(case_ids.items()):
            case_type = key.rsplit("_", 1)[0]
            if case_type not in registry.case_types():
                continue
            model = registry.binding_for(case_type).model
            for i in range(3):
                staff = [user(name) for name in ("inspector", "leader", "bj_leader")]
                case = db.session.get(model, case_id)
                steps = []
                if can(staff[2], "supervise", case):
                    steps.append(lambda c=case, a=staff[2], n=i: supervision.issue(
                        a, c, deadline=deadline, text=f"请抓紧办理（第{n + 1}次）", now=utcnow()))
                lead = db.session.get(User, getattr(case, "lead_id", None) or 0)
                evidence = {"evidence_kind": "document", "evidence_title": f"补充材料{i}"}
                if lead is not None and possible(case, "add_evidence", lead, evidence):
                    steps.append(lambda c=case, a=lead, d=evidence: workflow.fire(
                        c, "add_evidence", a, d))
                writer = next((u for u in staff
                               if possible(case, "add_note", u, {"note": "-"})), None)
                if writer is not None:
                    steps.append(lambda c=case, a=writer, n=i: workflow.fire(
                        c, "add_note", a, {"note": f"跟进情况记录{n}"}))
                public = PublicActor(case_type, case.id)
                if possible(case, "add_material", public, {}):
                    steps.append(lambda c=case, a=public, n=i: workflow.fire(
                        c, "add_material", a, {"material": f"补充说明{n}"}))
                for step in steps:
                    with unit_of_work():
                        step()
                    taken += 1
                db.session.remove()
    return taken


def _visit_all(app, pages, passwords: dict[str, str], cases: dict[str, int]
               ) -> dict[str, Visit]:
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    clients = {}
    visits = {}
    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        # Twice: what a process caches on a page's first visit (the organ tree, say) is
        # warm on the second, which is what every later request costs.
        for _warm_up in range(2):
            for name, user, url in pages:
                client = clients.get(user)
                if client is None:
                    client = clients[user] = app.test_client()
                    response = client.post("/staff/login", data={"username": user,
                                                                 "password": passwords[user]})
                    assert response.status_code == 302, (user, response.status_code)
                statements.clear()
                response = client.get(url.format(**cases))
                visits[name] = Visit(response.status_code, list(statements),
                                     response.get_data(as_text=True))
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    return visits


@pytest.fixture(scope="module")
def seed_scale():
    """``bench/seed_scale.py`` as a module."""
    return load_seeder()


@pytest.fixture(scope="module")
def seeded(request, _pg_schema, tmp_path_factory, seed_scale) -> Seeded:
    """The requesting module's ``PAGES`` (name, user, url) visited at its ``SMALL`` and
    ``LARGE`` sizes (see the docstring above); its ``TERMINAL`` states per case type
    choose the open cases shown."""
    from oversight.seed import seed_demo
    from oversight.services.uow import unit_of_work

    module = request.module
    seeder = seed_scale
    # Anchored to the hour: the data are the same for every test of a run.
    now = utcnow().replace(minute=0, second=0, microsecond=0)
    app = make_app(tmp_path_factory.mktemp("perf"), SEARCH_INLINE=False)
    app.test_client_class = _FreshContextClient
    result = Seeded()
    try:
        with app.app_context():
            prepare_database()
            with unit_of_work():
                passwords = seed_demo()
            db.session.remove()
        result.reports.append(_grow(app, seeder, module.SMALL, 1, now))
        result.cases = _targets(app, module.TERMINAL)
        result.small = _visit_all(app, module.PAGES, passwords, result.cases)
        result.reports.append(_grow(app, seeder, module.LARGE - module.SMALL, 2, now))
        result.grown = _grow_cases(app, result.cases)
        result.large = _visit_all(app, module.PAGES, passwords, result.cases)
        yield result
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
