"""Upload attacks are refused or neutralised, never a 500: HTML named .jpg, SVG with a
script, image/HTML polyglots, path-traversing, newline and 10,000-character file names,
an oversized body (413) and more than 1,000 form parts."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from helpers import PNG_BYTES, login, make_complaint
from hostile_helpers import (
    XSS,
    assert_inert_download,
    complaint_form,
    download,
    multipart,
    post_form,
    snapshot,
    stored,
)

from oversight.extensions import db
from oversight.models import Attachment, Complaint

HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg">'
       b"<script>alert(1)</script></svg>")
REFUSED = {
    "html-as-jpg": (HTML, "photo.jpg"),
    "html-as-png": (HTML, "photo.png"),
    "svg-with-script": (SVG, "drawing.svg"),
    "svg-as-png": (SVG, "drawing.png"),
    "xhtml": (b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml">'
              b"<script>alert(1)</script></html>", "page.xhtml"),
}
POLYGLOTS = {
    "gif-then-html": b"GIF89a\x01\x00\x01\x00\x00\x00\x00;" + HTML,
    "jpeg-then-html": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + HTML,
    "png-then-html": PNG_BYTES + HTML,
}


def counts() -> tuple[int, int]:
    db.session.rollback()
    return (db.session.execute(sa.select(sa.func.count(Complaint.id))).scalar_one(),
            db.session.execute(sa.select(sa.func.count(Attachment.id))).scalar_one())


@pytest.mark.parametrize("kind", REFUSED)
def test_script_carrying_files_are_refused(app, demo, kind):
    before = counts()
    response = post_form(app.test_client(), "/complaints/new", complaint_form(),
                         files=[REFUSED[kind]])
    assert response.status_code == 400
    assert "类型不受支持" in response.get_data(as_text=True)
    assert counts() == before


def test_script_carrying_files_are_refused_from_staff_too(app, demo):
    case, _code = make_complaint()
    from investigation_helpers import fire

    fire(case, "accept", "intake")
    before = snapshot(case)
    client = app.test_client()
    login(client, demo, "inspector")
    body, ctype = multipart({"version": str(case.version), "note": "附件"},
                            [REFUSED["html-as-jpg"]])
    response = client.post(f"/staff/complaints/{case.id}/add_note", data=body,
                           content_type=ctype)
    assert response.status_code == 400
    assert snapshot(case) == before


def test_polyglots_are_refused_or_served_inert(app, demo):
    for kind, content in POLYGLOTS.items():
        response = post_form(app.test_client(), "/complaints/new", complaint_form(),
                             files=[(content, "evidence.html")])
        assert response.status_code in (200, 400), kind
    for att in stored():
        assert_inert_download(download(app, demo, att))


NAMES = ["../../x", "..\\..\\x", "/etc/passwd", "\u202egnp.exe", "证" * 9996 + ".png",
         XSS[1] + ".png", ""]


def test_hostile_file_names_are_neutralised(app, demo, tmp_path):
    for name in NAMES:
        response = post_form(app.test_client(), "/complaints/new", complaint_form(),
                             files=[(PNG_BYTES, name)])
        assert response.status_code in (200, 400), (name[:20], response.status_code)
    assert stored()
    for att in stored():
        assert "/" not in att.original_name and "\\" not in att.original_name
        assert "\n" not in att.original_name and "\r" not in att.original_name
        assert att.original_name not in ("..", ".") and len(att.original_name) <= 255
        assert_inert_download(download(app, demo, att))
        client = app.test_client()
        login(client, demo, "intake")
        assert client.get(f"/staff/complaints/{att.case_id}").status_code == 200
    uploads = tmp_path / "instance" / "attachments"
    outside = [p for p in tmp_path.rglob("*") if p.is_file() and p.name in ("x", "passwd")]
    assert outside == []
    # stored under their content hash only (beside the folder's writers lock file)
    assert all(len(p.name) == 64 for p in uploads.rglob("*")
               if p.is_file() and p.name != ".writers.lock")


def test_the_request_size_is_capped_by_default(tmp_path):
    from oversight.config import build_config

    cfg = build_config({"INSTANCE_PATH": str(tmp_path / "cfg"), "SECRET_KEY": "k" * 40})
    assert cfg["MAX_CONTENT_LENGTH"] is not None
    assert cfg["MAX_CONTENT_LENGTH"] <= (cfg["UPLOAD_MAX_FILES"] + 1) * cfg["UPLOAD_MAX_BYTES"]


def test_an_oversized_body_gets_413(app, demo, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 256 * 1024)
    before = counts()
    response = post_form(app.test_client(), "/complaints/new", complaint_form(),
                         files=[(PNG_BYTES + b"\0" * (300 * 1024), "big.png")])
    assert response.status_code == 413
    assert "Traceback" not in response.get_data(as_text=True)
    assert counts() == before


def test_more_than_a_thousand_form_parts_gets_413(app, demo):
    before = counts()
    fields = complaint_form() | {f"x{i}": "1" for i in range(1001)}
    response = post_form(app.test_client(), "/complaints/new", fields)
    assert response.status_code == 413
    assert counts() == before
