"""The public transparency page: aggregates per organ and Beijing quarter, counts from 1
to 4 shown as "<5", no median from fewer than 5 cases, and no personal data at all."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa
from test_stats import START, add_complaint
from webhelpers import element, isolate_requests, text_of

import oversight.web.public.transparency as transparency_page
from oversight.extensions import db
from oversight.models import Complaint

CY, HD = "北京市公安局朝阳分局", "北京市公安局海淀分局"


@pytest.fixture(autouse=True)
def _isolated_requests(app):
    isolate_requests(app)


@pytest.fixture(autouse=True)
def _computed_each_time(app):
    """The figures are computed on every request here, so that each test sees what it
    just added; keeping them (STATS_CACHE_SECONDS) has tests of its own."""
    app.config["STATS_CACHE_SECONDS"] = 0


@pytest.fixture
def complaints(demo):
    # 朝阳, 2026 Q4: five told after 2, 4, 6, 8 and 30 days (median 6), three of them
    # substantiated or partly; a sixth filed 2026-10-01 00:30 Beijing time (still
    # September in UTC) and not yet told.
    for filed, told, finding in (("01", "10-03", "substantiated"), ("02", "10-06", "partly"),
                                 ("03", "10-09", "substantiated"), ("04", "10-12", "unfounded"),
                                 ("05", "11-04", "unsubstantiated")):
        add_complaint("BJ-CY", f"2026-10-{filed}T02:00", "notified", finding=finding,
                      notices=(f"2026-{told}T02:00",))
    add_complaint("BJ-CY", "2026-09-30T16:30")
    # Filed 2026-09-30 23:30 Beijing (Q3), told 2027-01-01 00:30 Beijing (2027 Q1).
    add_complaint("BJ-CY", "2026-09-30T15:30", "notified", finding="substantiated",
                  notices=("2026-12-31T16:30",))
    # 海淀, 2026 Q4: two received, one told (not substantiated).
    add_complaint("BJ-HD", "2026-11-02T02:00", "notified", finding="unfounded",
                  notices=("2026-11-12T02:00",))
    add_complaint("BJ-HD", "2026-11-03T02:00")


def rows_of(html: str, quarter: str) -> dict[str, list[str]]:
    section = element(html, f"quarter-{quarter}")
    assert section is not None, quarter
    out = {}
    for row in re.findall(r"<tr>(.*?)</tr>", section[section.index("<tbody>"):], re.S):
        cells = [text_of(c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        out[cells[0]] = cells[1:]
    return out


def test_figures_per_organ_and_quarter_with_small_counts_suppressed(client, complaints):
    response = client.get("/transparency")  # no login
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    # received, concluded, substantiated, median days
    assert rows_of(html, "2026-Q4") == {CY: ["6", "5", "<5", "6.0"],
                                        HD: ["<5", "<5", "0", "—"]}
    assert rows_of(html, "2026-Q3") == {CY: ["<5", "0", "0", "—"]}
    assert rows_of(html, "2027-Q1") == {CY: ["0", "<5", "<5", "—"]}
    sections = re.findall(r'id="quarter-([\d-]+Q\d)"', html)
    assert sections == ["2027-Q1", "2026-Q4", "2026-Q3"]  # newest first
    assert "2026年第4季度" in html
    note = element(html, "suppression-note")
    assert "1至4件显示为“&lt;5”" in note and "<5" not in note
    assert "不足5件的，不计算中位数" in note


def test_exact_from_five_and_suppressed_from_one_to_four(client, demo):
    for n in range(1, 5):
        add_complaint("BJ-HD", f"2026-11-{n:02d}T02:00")
        html = client.get("/transparency").get_data(as_text=True)
        assert rows_of(html, "2026-Q4") == {HD: ["<5", "0", "0", "—"]}
    add_complaint("BJ-HD", "2026-11-05T02:00")
    html = client.get("/transparency").get_data(as_text=True)
    assert rows_of(html, "2026-Q4") == {HD: ["5", "0", "0", "—"]}


def test_no_personal_data_on_the_page_or_in_the_csv(client, complaints):
    numbers = list(db.session.execute(sa.select(Complaint.number)).scalars())
    html = client.get("/transparency").get_data(as_text=True)
    csv = client.get("/transparency?format=csv").data.decode("utf-8-sig")
    for text in (html, csv):
        for secret in ["王小明", "13800138000", "wang@example.com", "BJ10001", "张伟",
                       "辱骂群众", *numbers]:
            assert secret not in text, secret


def test_csv_export(client, complaints):
    response = client.get("/transparency?format=csv")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    assert response.data.startswith("\ufeff".encode())
    lines = response.data.decode("utf-8-sig").splitlines()
    assert lines[0] == ("季度,机关,收到投诉,办结（已告知结果）,查实（属实或部分属实）,"
                        "办理时长中位数（天）")
    assert f"2026年第4季度,{CY},6,5,<5,6.0" in lines
    assert f"2026年第4季度,{HD},<5,<5,0,—" in lines


def test_the_public_index_links_to_it(client, demo):
    html = client.get("/").get_data(as_text=True)
    assert 'href="/transparency"' in element(html, "transparency-link")


def test_an_empty_system_says_so(client, demo):
    html = client.get("/transparency").get_data(as_text=True)
    assert element(html, "no-data") is not None


def test_the_figures_are_kept_a_minute_and_the_page_says_since_when(app, client, complaints,
                                                                    monkeypatch):
    monkeypatch.setitem(app.config, "STATS_CACHE_SECONDS", 60)
    now = {"at": START}
    monkeypatch.setattr(transparency_page, "utcnow", lambda: now["at"])

    def page_and_csv() -> tuple[list[str], str, list[str]]:
        html = client.get("/transparency").get_data(as_text=True)
        csv = client.get("/transparency?format=csv").data.decode("utf-8-sig").splitlines()
        return rows_of(html, "2026-Q4")[HD], text_of(element(html, "as-of")).strip(), csv

    row, as_of, csv = page_and_csv()
    assert (row, as_of) == (["<5", "<5", "0", "—"], "数据截至 01:05（北京时间）")
    assert f"2026年第4季度,{HD},<5,<5,0,—" in csv
    for day in range(4, 7):  # 海淀 receives its fifth complaint of the quarter
        add_complaint("BJ-HD", f"2026-11-{day:02d}T02:00")
    now["at"] = START + dt.timedelta(seconds=59)
    app.extensions.pop("oversight.stats")  # another worker: reads the shared snapshot
    row, as_of, csv = page_and_csv()
    assert (row, as_of) == (["<5", "<5", "0", "—"], "数据截至 01:05（北京时间）")
    assert f"2026年第4季度,{HD},<5,<5,0,—" in csv  # the export has the page's figures
    now["at"] = START + dt.timedelta(seconds=60)
    row, as_of, csv = page_and_csv()
    assert (row, as_of) == (["5", "<5", "0", "—"], "数据截至 01:06（北京时间）")
    assert f"2026年第4季度,{HD},5,<5,0,—" in csv
