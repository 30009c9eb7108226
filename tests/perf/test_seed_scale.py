"""The scale seeder (``bench/seed_scale.py``) at a small size: what it writes is what the
app itself would have written. The hash-chained log and the notices verify, every case
type appears in every state, states and clocks agree, numbers and ids go on after it
without a collision, a second run adds to the first, the same seed gives the same rows,
and the command line runs end to end on a database migrated the way deployments are.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import sqlalchemy as sa
from helpers import make_complaint, user

from oversight.cli import build_cli
from oversight.extensions import db
from oversight.models import CaseEvent, Complaint, Notice, OfficerFlag, Sequence
from oversight.services import registry, workflow
from oversight.services.uow import unit_of_work

ROOT = Path(__file__).resolve().parents[2]
NOW = dt.datetime(2026, 11, 20, 4, tzinfo=dt.UTC)
N = 300


def _seed(seed_scale, n: int = N, seed: int = 7) -> dict:
    db.session.remove()  # the seeder writes on its own connection
    return seed_scale.seed(db.engine, n, seed, now=NOW, batch=100)


def _models():
    return {name: registry.binding_for(name).model for name in registry.case_types()}


def test_the_log_and_the_notices_verify(app, demo, seed_scale):
    report = _seed(seed_scale)
    assert sum(report["cases_by_type"].values()) == N
    result = app.test_cli_runner().invoke(build_cli(), ["verify-log"])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output
    events = db.session.execute(sa.select(sa.func.count(CaseEvent.id))).scalar()
    assert events == report["rows"]["case_event"] > 3 * N


def test_every_case_type_appears_in_every_state_in_the_demo_organ(app, demo, seed_scale):
    _seed(seed_scale)
    subtree = sa.select(sa.text("id")).select_from(sa.text("organ")).where(
        sa.text("path LIKE (SELECT path FROM organ WHERE code = 'BJ-CY') || '%'"))
    for name, model in _models().items():
        found = set(db.session.execute(sa.select(model.state).where(
            model.organ_id.in_(subtree)).distinct()).scalars())
        assert found == set(registry.spec_for(name).states), name


def test_states_clocks_and_events_agree(app, demo, seed_scale):
    _seed(seed_scale)
    for name, model in _models().items():
        spec = registry.spec_for(name)
        terminal = {s.value for s in spec.terminal}
        for case in db.session.execute(sa.select(model)).scalars():
            events = workflow.history(case)
            assert events[0].from_state == "" and events[0].seq == 1
            assert [e.at for e in events] == sorted(e.at for e in events)
            moves = [e for e in events if e.to_state != e.from_state]
            assert moves[-1].to_state == case.state.value, case.number
            for ev in events[1:]:
                t = spec.transition(ev.trigger)
                if t is not None:
                    assert ev.actor_role in t.roles, (case.number, ev.trigger)
            if case.state.value in terminal:
                running = db.session.execute(sa.text(
                    "SELECT count(*) FROM case_clock WHERE case_type = :t AND case_id = :i "
                    "AND outcome = 'running'"), {"t": name, "i": case.id}).scalar()
                assert running == 0, case.number
            # each clock carries its case's organ, as clocks.start copies it
            organs = db.session.execute(sa.text(
                "SELECT DISTINCT organ_id FROM case_clock WHERE case_type = :t "
                "AND case_id = :i"), {"t": name, "i": case.id}).scalars().all()
            assert organs in ([], [case.organ_id]), case.number


def test_numbers_and_ids_go_on_after_seeding(app, demo, seed_scale):
    _seed(seed_scale)
    seeded = set(db.session.execute(sa.select(Complaint.number)).scalars())
    notices = set(db.session.execute(sa.select(Notice.number)).scalars())
    counters = dict(db.session.execute(sa.select(Sequence.name, Sequence.value)).all())
    case, _code = make_complaint(now=NOW + dt.timedelta(hours=1))
    with unit_of_work():
        workflow.fire(case, "accept", user("intake"), now=NOW + dt.timedelta(hours=2))
    assert case.number not in seeded
    assert case.number == f"TS2026{counters['TS2026'] + 1:06d}"
    issued = db.session.execute(sa.select(Notice.number).where(
        Notice.case_id == case.id, Notice.case_type == "complaint")).scalar_one()
    assert issued not in notices and issued == f"GZ2026{counters['GZ2026'] + 1:06d}"
    assert len(workflow.history(case)) == 2


def test_a_second_run_adds_to_the_first(app, demo, seed_scale):
    first = _seed(seed_scale, 120, seed=1)
    second = _seed(seed_scale, 150, seed=2)
    total = sum(db.session.execute(sa.select(sa.func.count(m.id))).scalar()
                for m in _models().values())
    assert total == 120 + 150
    assert second["rows"].get("organ", 0) == 0  # the trees were there already
    assert first["rows"]["organ"] > 200
    result = app.test_cli_runner().invoke(build_cli(), ["verify-log"])
    assert result.exit_code == 0, result.output
    flags = db.session.execute(sa.select(OfficerFlag)).scalars().all()
    open_per_officer = Counter((f.officer_id, f.kind, f.category_code) for f in flags
                               if f.cleared_at is None)
    assert flags and max(open_per_officer.values()) == 1


def _fingerprint(seed_scale, tmp_path, name: str, seed: int) -> list:
    from oversight.models import CaseEvent as Event

    url = f"sqlite:///{tmp_path / name}"
    engine = sa.create_engine(url)
    try:
        Event.metadata.create_all(engine)
    finally:
        engine.dispose()
    seed_scale.seed(url, 80, seed, now=NOW, focus=None)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(
                "SELECT case_type, case_id, seq, hash FROM case_event ORDER BY id")).all()
    finally:
        engine.dispose()


def test_the_same_seed_gives_the_same_rows(tmp_path, seed_scale):
    first = _fingerprint(seed_scale, tmp_path, "a.db", 11)
    assert first == _fingerprint(seed_scale, tmp_path, "b.db", 11)
    assert first != _fingerprint(seed_scale, tmp_path, "c.db", 12)


def test_the_command_line_migrates_seeds_and_reports(tmp_path):
    out = tmp_path / "report.json"
    proc = subprocess.run(
        [sys.executable, "-W", "error", str(ROOT / "bench" / "seed_scale.py"), "--cases", "60",
         "--db", f"sqlite:///{tmp_path / 'cli.db'}", "--now", NOW.isoformat(),
         "--out", str(out)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "demo login leader:" in proc.stdout and "oversight reindex" in proc.stdout
    report = json.loads(out.read_text(encoding="utf-8"))
    assert sum(report["cases_by_type"].values()) == 60
    assert report["rows"]["search_outbox"] == 60
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM alembic_version")).scalar() == 1
            assert conn.execute(sa.text("PRAGMA foreign_key_check")).all() == []
    finally:
        engine.dispose()
