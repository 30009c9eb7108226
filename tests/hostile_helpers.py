"""Helpers for the hostile suite (tests/hostile/): one case of every type built through the
real services, attackers at other organs, and counts of what a request may have written."""

from __future__ import annotations

import logging
import re
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote

import sqlalchemy as sa
from consequence_helpers import open_recovery, propose, violation
from helpers import PNG_BYTES, Upload, make_complaint, organ, user
from investigation_helpers import add_user, fire, officer, open_on_initiative, suspensions_of

from oversight.extensions import db
from oversight.models import (
    Attachment,
    CaseEvent,
    Complaint,
    MailOutbox,
    Notice,
    SearchOutbox,
    Throttle,
    User,
)
from oversight.services import discipline, recusals
from oversight.services.uow import unit_of_work
from workflows.roles import Role

# The web tests' HTML helpers (tests/web/webhelpers.py) serve this suite too.
_WEB = str(Path(__file__).resolve().parent / "web")
if _WEB not in sys.path:
    sys.path.append(_WEB)

#: The staff URL segment of every case type (oversight/web/staff/*.py register_page).
SEGMENTS = {"complaint": "complaints", "recusal": "recusals",
            "investigation": "investigations", "suspension": "suspensions",
            "discipline": "discipline", "appeal": "appeals", "recovery": "recoveries"}

#: The complainant of every hostile case: distinctive, so a leak is unmistakable.
SECRET_NAME = "隐私甲某"
SECRET_PHONE = "13912345678"
SECRET_EMAIL = "secret.complainant@example.org"
SECRET_FILE = "complainant-secret-photo.png"
SECRETS = (SECRET_NAME, SECRET_PHONE, SECRET_EMAIL, SECRET_FILE)


def secret_complaint(**overrides):
    """A complaint against BJ10001 at 朝阳 whose complainant data must never leak."""
    data = dict(name=SECRET_NAME, phone=SECRET_PHONE, email=SECRET_EMAIL,
                files=[Upload(SECRET_FILE, PNG_BYTES)])
    data.update(overrides)
    return make_complaint(**data)


def complaint_form(**overrides) -> dict:
    """The public complaint form (/complaints/new), filled in validly."""
    data = {"kind": "complaint", "name": SECRET_NAME, "phone": SECRET_PHONE,
            "email": SECRET_EMAIL, "organ_id": str(organ("BJ-CY").id),
            "officer_badge": "BJ10001", "officer_description": "",
            "incident_at": "2026-11-20T21:30", "incident_place": "三里屯路口",
            "category_code": "beijing-2022:uncivil",
            "narrative": "2026年11月20日晚在三里屯路口，辅警态度蛮横，辱骂群众并推搡。"}
    data.update(overrides)
    return data


def recusal_form(**overrides) -> dict:
    """The public recusal application form (/recusals/new), filled in validly."""
    data = {"organ_id": str(organ("BJ-CY").id), "officer_badge": "BJ10001",
            "officer_description": "", "applicant_role": "beijing-2022:party",
            "name": SECRET_NAME, "phone": SECRET_PHONE, "email": SECRET_EMAIL,
            "matter_ref": "京公朝（三）受案字〔2026〕1123号", "matter_summary": "三里屯路口纠纷",
            "ground_code": "beijing-2022:party_or_relative", "ground_text": "",
            "facts": "该辅警是对方当事人李某的表弟，我在现场听到二人以表兄弟相称。"}
    data.update(overrides)
    return data


def multipart(data: dict, files=(), field: str = "files") -> tuple[bytes, str]:
    """A multipart/form-data body as a hostile client writes it: each file name in the
    RFC 2231 form (``filename*=UTF-8''…``), so quotes, newlines, slashes and any Unicode
    reach the server exactly as given. Returns (body, content type)."""
    boundary = "----hostile" + "7" * 20
    out = []
    for name, value in data.items():
        for item in value if isinstance(value, list) else [value]:
            out.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"'
                       f"\r\n\r\n{item}\r\n".encode())
    for content, filename in files:
        out.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; "
                   f"filename*=UTF-8''{quote(filename, safe='')}\r\n"
                   f"Content-Type: application/octet-stream\r\n\r\n".encode()
                   + content + b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out), f"multipart/form-data; boundary={boundary}"


def post_form(client, url: str, data: dict, files=(), **kwargs):
    """A multipart POST; ``files`` are (content, name) pairs sent as ``files``."""
    body, content_type = multipart(data, files)
    return client.post(url, data=body, content_type=content_type, **kwargs)


def receipt_number(response) -> str:
    """The case number a receipt page shows."""
    html = response.get_data(as_text=True)
    found = re.search(r'id="case-number">([^<]+)<', html)
    assert found, (response.status_code, html[-2000:])
    return found.group(1)


def recusal_application(**overrides):
    data = dict(organ_id=organ("BJ-CY").id, applicant_role="party", name=SECRET_NAME,
                phone=SECRET_PHONE, email=SECRET_EMAIL,
                matter_ref="京公朝（三）受案字〔2026〕1123号", matter_summary="三里屯路口纠纷",
                officer_badge="BJ10001", ground_code="party_or_relative",
                facts="该辅警是对方当事人李某的表弟，我在现场听到二人以表兄弟相称。",
                files=[Upload(SECRET_FILE, PNG_BYTES)])
    data.update(overrides)
    with unit_of_work():
        return recusals.submit(recusals.RecusalInput(**data), _now())


def _now():
    from oversight.models.base import utcnow

    return utcnow()


def every_case_type() -> dict:
    """One case of each type about BJ10001, built by the demo staff of 朝阳 (BJ-CY). The
    appeal belongs to the upper organ BJ, as the rules say; the others to BJ-CY. Complaint,
    recusal and investigation carry an attachment; every case has at least one notice
    except where its type issues none at opening."""
    complaint, _code = secret_complaint()
    fire(complaint, "accept", "intake")
    recusal, _code = recusal_application()
    inv = open_on_initiative("BJ-CY", "BJ10001", "inspector")
    fire(inv, "add_evidence", "inspector", {"evidence_kind": "document",
                                            "evidence_title": "出警记录",
                                            "files": [Upload("出警记录.png", PNG_BYTES)]})
    fire(inv, "request_suspension", "inspector", {"reason": "涉嫌辱骂群众，暂停执勤"})
    suspension = suspensions_of("BJ10001")[-1]
    fire(suspension, "approve", "leader")
    decision = propose(violation(), "demotion")
    fire(decision, "approve", "leader", {"measure_code": "demotion", "reason": "情节较重"})
    fire(decision, "serve", "inspector")
    fire(decision, "execute", "leader")
    with unit_of_work():
        appeal = discipline.file_appeal(decision, user("officer"), "事实认定有误。", _now())
    recovery = open_recovery()
    return {"complaint": complaint, "recusal": recusal, "investigation": inv,
            "suspension": suspension, "discipline": decision, "appeal": appeal,
            "recovery": recovery}


def staff(username: str, role: Role, organ_code: str) -> dict[str, str]:
    """A staff account at ``organ_code``; returns {username: password} for ``login``."""
    _account, password = add_user(username, role, organ_code)
    return {username: password}


def attachments_of(case) -> list[Attachment]:
    return list(db.session.execute(sa.select(Attachment).where(
        Attachment.case_type == case.case_type, Attachment.case_id == case.id)
        .order_by(Attachment.id)).scalars())


def notices_of(case) -> list[Notice]:
    return list(db.session.execute(sa.select(Notice).where(
        Notice.case_type == case.case_type, Notice.case_id == case.id)
        .order_by(Notice.id)).scalars())


#: Tables whose row counts tell whether a request wrote anything.
WRITTEN = (CaseEvent, Notice, MailOutbox, Attachment, Complaint, SearchOutbox, Throttle, User)


def row_counts() -> dict[str, int]:
    db.session.rollback()  # see what other connections committed
    return {m.__tablename__: db.session.execute(sa.select(sa.func.count()).select_from(m))
            .scalar_one() for m in WRITTEN}


def event_count(case=None) -> int:
    q = sa.select(sa.func.count(CaseEvent.id))
    if case is not None:
        q = q.where(CaseEvent.case_type == case.case_type, CaseEvent.case_id == case.id)
    return db.session.execute(q).scalar_one()


def snapshot(case) -> tuple:
    """What an attack must leave unchanged: state, version and event count."""
    db.session.rollback()
    db.session.refresh(case)
    return case.state, case.version, event_count(case)


def users_password_hash(username: str) -> str:
    return db.session.execute(sa.select(User.password_hash).where(
        User.username == username)).scalar_one()


XSS = ("<script>alert(1)</script>", '"><img src=x onerror=alert(1)>')
#: How each payload reads once HTML-escaped by Jinja.
XSS_ESCAPED = ("&lt;script&gt;alert(1)&lt;/script&gt;",
               "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;")


class _ActiveMarkup(HTMLParser):
    """Collects what a browser would run: inline scripts and on* handler attributes."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        names = {k.lower() for k, _v in attrs}
        if tag == "script" and "src" not in names:
            self.found.append("inline <script>")
        self.found += [f"<{tag} {n}=…>" for n in names if n.startswith("on")]
        self.found += [f"<{tag} {k}={v}>" for k, v in attrs
                       if (v or "").strip().lower().startswith("javascript:")]


def active_markup(html: str) -> list[str]:
    """Inline scripts, event handlers and javascript: URLs in a page (there should be
    none: the app's CSP allows scripts from files only)."""
    parser = _ActiveMarkup()
    parser.feed(html)
    parser.close()
    return parser.found


def mentions(records, case) -> bool:
    """A warning that names the case (by number, type:id or staff path)."""
    keys = (case.number, f"{case.case_type}:{case.id}", f"/{SEGMENTS[case.case_type]}/{case.id}")
    return any(r.levelno >= logging.WARNING and any(k in r.getMessage() for k in keys)
               for r in records)


def attempts_on(case, notices_only: bool):
    base = f"/staff/{SEGMENTS[case.case_type]}/{case.id}"
    notices = [("GET", f"/staff/notices/{n.number}") for n in notices_of(case)]
    if notices_only:
        return notices
    return [("GET", base), ("POST", f"{base}/add_note")] + \
        [("GET", f"{base}/files/{a.id}") for a in attachments_of(case)]


def unlogged_attempts(app, world, demo, caplog, notices_only: bool) -> list[str]:
    """Out-of-scope requests (by yn_inspector) that answered 404 without a warning
    naming the case."""
    from helpers import login

    client = app.test_client()
    login(client, demo, "yn_inspector")
    unlogged = []
    for case in world.values():
        for method, url in attempts_on(case, notices_only):
            caplog.clear()
            with caplog.at_level(logging.INFO):
                response = client.open(url, method=method, data={"note": "x"})
            assert response.status_code == 404, url
            if not mentions(caplog.records, case):
                unlogged.append(f"{method} {url}")
    return unlogged


def race_worker(db_uri: str, tmp: str, case_id: int, trigger: str, username: str,
                barrier, results) -> None:
    """One process of a race: its own app and connections, fire ``trigger`` on the
    complaint as ``username`` once every process is ready; report the outcome."""
    from helpers import make_app

    from oversight.services import workflow
    from oversight.services.errors import ServiceError

    app = make_app(Path(tmp), SQLALCHEMY_DATABASE_URI=db_uri, SEARCH_INLINE=False)
    with app.app_context():
        barrier.wait()
        try:
            with unit_of_work():
                case = db.session.get(Complaint, case_id)
                workflow.fire(case, trigger, user(username), {})
            results.put("ok")
        except ServiceError as exc:
            results.put(type(exc).__name__)
        finally:
            db.session.remove()
            db.engine.dispose()


def stored() -> list[Attachment]:
    """Every stored attachment, as committed."""
    db.session.rollback()
    return list(db.session.execute(sa.select(Attachment).order_by(Attachment.id)).scalars())


def download(app, demo, att: Attachment):
    """A complaint's attachment, fetched by the handling organ's inspector."""
    from helpers import login

    client = app.test_client()
    login(client, demo, "inspector")
    response = client.get(f"/staff/complaints/{att.case_id}/files/{att.id}", buffered=True)
    response.close()
    return response


def assert_inert_download(response) -> None:
    """Served as a download of an allowed image/PDF/video type that no browser renders
    as a page: attachment, nosniff, sandboxed, no header injection."""
    from oversight.services import attachments

    assert response.status_code == 200
    assert response.mimetype in attachments.ALLOWED
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment")
    assert "\n" not in disposition and "\r" not in disposition
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response.headers["Content-Security-Policy"]


def refused_attempt(app, demo, kind: str) -> tuple:
    """A refused transition of ``kind`` and the case it aims at, as (case, a callable
    making the request): ``illegal`` in this state, ``repeated``, ``stale``, or ``late``
    (the public 复查 request after its window)."""
    import datetime as dt

    from helpers import login
    from webhelpers import drive_to_notified, fire_as, refreshed

    from oversight.models.base import utcnow

    def staff_client(username: str):
        client = app.test_client()
        login(client, demo, username)
        return client

    def post(case, trigger, version):
        client = staff_client("intake")
        return lambda: client.post(f"/staff/complaints/{case.id}/{trigger}",
                                   data={"version": str(version), "reason": "再试一次"})

    case, code = make_complaint()
    if kind == "illegal":
        return case, post(case, "close", case.version)
    if kind == "stale":
        old_version = case.version
        fire_as(case, "accept", "intake")
        return case, post(case, "transfer", old_version)
    if kind == "repeated":
        fire_as(case, "accept", "intake")
        return case, post(case, "accept", refreshed(case).version)
    assert kind == "late"
    drive_to_notified(case)
    with unit_of_work():
        refreshed(case).review_deadline_at = utcnow() - dt.timedelta(days=1)
    public = app.test_client()
    assert public.post("/track", data={"number": case.number, "code": code}) \
        .status_code == 302
    return case, lambda: public.post("/track/case/request_review",
                                     data={"review-reason": "不服处理结果"})


__all__ = ["SECRETS", "SEGMENTS", "attachments_of", "every_case_type", "event_count",
           "notices_of", "officer", "recusal_application", "row_counts", "secret_complaint",
           "snapshot", "staff"]
