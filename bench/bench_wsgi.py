"""gunicorn entry points of the load benchmark (``bench/load.py``): the app with two extra
routes, and a bare Flask app, all served with the same gunicorn settings."""

from __future__ import annotations

from flask import Flask


def oversight_app():
    """The real app, plus two routes of the benchmark's own:

    - ``/_bench/bare``: a constant through the app's own request hooks;
    - ``/_bench/floor`` (POST): the intake's floor, see ``_floor``."""
    from oversight import create_app

    app = create_app()
    app.add_url_rule("/_bench/bare", "bench_bare", lambda: "ok")
    app.add_url_rule("/_bench/floor", "bench_floor", _floor_view(app), methods=["POST"])
    return app


def _floor_view(app: Flask):
    """What any intake must do at least, written as directly as this stack allows: the
    app's request hooks and CSRF check (``CSRFProtect``, as for every POST), the flood
    count and the case number (the service's own upserts), then the rows the intake writes
    (complaint, identity, clocks, event with its hash, outbox) as plain Core INSERTs in one
    transaction, and a one-line answer. No form object, no domain rules, no page.

    The rows are copies of a complaint filed through the real service on the first
    request, with a new number, key, narrative and times: the real rows' columns and
    sizes. It answers how far a Core-SQL rewrite of the intake could go on this machine.
    It measures a ceiling and files cases no real path would: their key hash starts with
    ``floor-``, and their events' hashes are computed but not chained."""
    import hashlib
    import json
    import secrets

    import sqlalchemy as sa
    from flask import request

    from oversight.extensions import db
    from oversight.models import (
        CaseClock,
        CaseEvent,
        ComplainantIdentity,
        Complaint,
        SearchOutbox,
    )
    from oversight.models.base import utcnow
    from oversight.services import complaints, numbering, throttle
    from oversight.services.uow import unit_of_work

    children = (ComplainantIdentity, CaseClock, CaseEvent, SearchOutbox)
    templates: dict = {}

    def keep_rows_of_a_new_complaint() -> None:
        form = request.form
        _pack, _sep, code = form["category_code"].partition(":")
        with unit_of_work():
            case, _code = complaints.submit(complaints.ComplaintInput(
                kind="complaint", organ_id=int(form["organ_id"]), category_code=code,
                narrative=form["narrative"], anonymous=True,
                officer_badge=form.get("officer_badge", ""),
                officer_description=form.get("officer_description", "x"),
                incident_place=form.get("incident_place", "")), utcnow())
            case_id = case.id
        for model in (Complaint, *children):
            t = model.__table__
            where = (t.c.id == case_id if model is Complaint else
                     t.c.complaint_id == case_id if model is ComplainantIdentity else
                     (t.c.case_type == "complaint") & (t.c.case_id == case_id))
            templates[model] = [{k: v for k, v in row.items() if k not in ("id", "seq")
                                 or model is CaseEvent and k == "seq"}
                                for row in db.session.execute(sa.select(t).where(where))
                                .mappings()]

    def view():
        if not templates:
            keep_rows_of_a_new_complaint()
        form = request.form
        narrative = form.get("narrative", "")
        if len(narrative) < 20 or not form.get("organ_id"):
            return "invalid", 400
        now = utcnow()
        with unit_of_work():
            if not throttle.submission_allowed(request.remote_addr or "-", now):
                return "too many", 429
            number = numbering.next_number("TS", now)
            table = Complaint.__table__
            case_id = db.session.execute(sa.insert(table).values(dict(
                templates[Complaint][0], number=number, narrative=narrative,
                submission_key_hash="floor-" + secrets.token_hex(16),
                created_at=now, updated_at=now)).returning(table.c.id)).scalar_one()
            for model in children:
                rows = []
                for template in templates[model]:
                    row = dict(template)
                    row["complaint_id" if model is ComplainantIdentity else "case_id"] = case_id
                    for key in ("started_at", "at", "created_at"):
                        if key in row:
                            row[key] = now
                    if model is CaseEvent:
                        row["hash"] = hashlib.sha256(json.dumps(
                            row, default=str, sort_keys=True, ensure_ascii=False).encode()
                        ).hexdigest()
                    rows.append(row)
                db.session.execute(sa.insert(model.__table__), rows)
        return f"ok {number}"

    return view


def bare_app():
    """A Flask app with one constant route: the ceiling of any Flask endpoint here."""
    app = Flask("bare")
    app.add_url_rule("/", "bare", lambda: "ok")
    return app
