"""The queue shows each case's nearest statutory deadline and marks overdue ones; notices
are headed with the organ's full name."""

import datetime as dt
import re

import sqlalchemy as sa
from helpers import login, make_complaint

from oversight.extensions import db
from oversight.models import Notice
from oversight.models.base import utcnow
from workflows.clocks import to_local


def test_queue_shows_nearest_deadline_and_overdue(client, demo):
    fresh, _ = make_complaint()
    late, _ = make_complaint(now=utcnow() - dt.timedelta(days=20))
    login(client, demo, "intake")
    html = client.get("/staff/").get_data(as_text=True)
    rows = {m.group(1): m.group(0) for m in re.finditer(
        r"<tr>\s*<td[^>]*><a href=\"[^\"]+\">(TS\d+)</a>.*?</tr>", html, re.S)}
    due_fresh = to_local(utcnow() + dt.timedelta(days=15)).strftime("%Y-%m-%d")
    assert due_fresh in rows[fresh.number] and "已超期" not in rows[fresh.number]
    assert "已超期" in rows[late.number]


def test_queue_query_count_does_not_grow_with_rows(client, demo):
    login(client, demo, "intake")
    client.get("/staff/")  # warm the per-process caches (the organ tree) first
    counts = []
    for _ in range(2):
        for _ in range(3):
            make_complaint()
        statements: list[int] = []

        def count(*_args, _seen=statements):
            _seen.append(1)

        sa.event.listen(db.engine, "before_cursor_execute", count)
        try:
            assert client.get("/staff/").status_code == 200
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", count)
        counts.append(len(statements))
    assert counts[0] == counts[1], counts


def test_notice_is_headed_with_the_full_organ_name(demo):
    from helpers import user

    from oversight.services import workflow
    from oversight.services.uow import unit_of_work

    case, _ = make_complaint()
    with unit_of_work():
        workflow.fire(case, "accept", user("intake"))
    body = db.session.execute(sa.select(Notice.body)).scalar_one()
    assert body.startswith("北京市公安局朝阳分局\n")


def test_todo_lists_what_waits_for_this_role_oldest_first(client, demo):
    from helpers import user

    from oversight.services import workflow
    from oversight.services.uow import unit_of_work

    older, _ = make_complaint(now=utcnow() - dt.timedelta(days=3))
    newer, _ = make_complaint()
    untouched, _ = make_complaint()
    for case in (older, newer):
        for trigger, who, data in (
                ("accept", "intake", {}),
                ("propose_conclusion", "inspector",
                 {"finding": "partly", "facts": "部分属实", "handling": "批评教育"})):
            with unit_of_work():
                workflow.fire(case, trigger, user(who), data)
    login(client, demo, "leader")
    html = client.get("/staff/?state=todo").get_data(as_text=True)
    assert "待我处理 2 件" in html
    assert html.index(older.number) < html.index(newer.number)
    assert untouched.number not in html.split("</thead>", 1)[1]
