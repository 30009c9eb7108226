"""No N+1 on the staff pages: each page runs the same number of SQL statements on a
database of 200 cases as on one of 2,000 (both seeded by ``bench/seed_scale.py``, see
conftest.py), for the same user and the same cases.

The queue (filtered, by organ, to-do, a second page and every case type), each case
type's page (its busiest case and its busiest open one, whose actions run their guards, as
leader, inspector and intake; a complaint that may still be merged, whose page looks for
duplicates), the upper organ's view, a recovery's statement of account, an officer's
record, the deadlines (also overdue only, of one organ), the statistics, the search page,
the early-intervention flags, the conflict-of-interest declarations (a leader's, an upper
organ's, an inspector's own) and the officer's own portal. The lists are paged (25 rows a
page); the deadlines, flags and declarations fit one page at both sizes here, so what their
page shows still grows from the small database to the large one.

The search is limited to complaints: a page of hits costs one query per case type present
on it, so an unfiltered page of hits may cost a few more or fewer statements as the mix of
types on its first page changes, without ever growing with the number of hits.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

SMALL = 200
LARGE = 2000
TYPES = ("complaint", "recusal", "investigation", "suspension", "discipline", "appeal",
         "recovery")
SEGMENTS = {"complaint": "complaints", "recusal": "recusals",
            "investigation": "investigations", "suspension": "suspensions",
            "discipline": "discipline", "appeal": "appeals", "recovery": "recoveries"}
TERMINAL = {"complaint": ("not_accepted", "transferred", "merged", "closed", "withdrawn"),
            "recusal": ("granted", "denied_final", "withdrawn"),
            "investigation": ("cleared", "violation"),
            "suspension": ("refused", "lifted", "revoked"),
            "discipline": ("executed", "dropped", "revoked"),
            "appeal": ("upheld", "varied", "revoked", "withdrawn"),
            "recovery": ("no_fault", "waived", "declined", "settled")}
SEARCH = "/staff/search?q=%E8%BE%85%E8%AD%A6&case_type=complaint"  # 辅警, complaints only


def _pages() -> list[tuple[str, str, str]]:
    """(name, user, url template) of every page measured; ``{...}`` names what the small
    seed decides (a case id, an organ id)."""
    pages = [
        ("queue", "leader", "/staff/"),
        ("queue open", "leader", "/staff/?type=complaint&state=open"),
        ("queue todo", "inspector", "/staff/?type=complaint&state=todo"),
        ("queue by organ", "leader", "/staff/?type=complaint&organ={organ}"),
        ("queue page 2", "bj_leader", "/staff/?type=complaint&page=2"),
        *[(f"queue {t}", "leader", f"/staff/?type={t}") for t in TYPES[1:]],
    ]
    for t in TYPES:
        for which in ("busiest", "open"):
            for user in ("leader", "inspector", "intake"):
                pages.append((f"{t} page ({which}) as {user}", user,
                              f"/staff/{SEGMENTS[t]}/{{{t}_{which}}}"))
    pages += [
        ("complaint page (mergeable)", "intake", "/staff/complaints/{complaint_mergeable}"),
        ("complaint page as upper organ", "bj_leader", "/staff/complaints/{complaint_open}"),
        ("recovery statement", "inspector", "/staff/recoveries/{recovery_busiest}/statement"),
        ("officer record", "leader", "/staff/officers/{officer}"),
        ("deadlines", "leader", "/staff/deadlines"),
        ("deadlines of the upper organ", "bj_leader", "/staff/deadlines"),
        ("deadlines overdue by organ", "bj_leader",
         "/staff/deadlines?show=overdue&organ={organ}"),
        ("stats", "leader", "/staff/stats"),
        ("search", "leader", SEARCH),
        ("flags", "leader", "/staff/flags"),
        ("flags of the upper organ", "bj_leader", "/staff/flags"),
        ("conflicts of interest", "leader", "/staff/conflicts"),
        ("conflicts of interest of the upper organ", "bj_leader", "/staff/conflicts"),
        ("conflicts of interest as inspector", "inspector", "/staff/conflicts"),
        ("new investigation form", "bj_leader", "/staff/investigations/new"),
        ("officer portal", "officer", "/staff/me"),
    ]
    return pages


PAGES = _pages()
CASE_LINK = re.compile(r'href="/staff/(?:{})/\d+'.format("|".join(SEGMENTS.values())))
CASE_PAGE = re.compile(r"/staff/(?:{})/\{{\w+\}}".format("|".join(SEGMENTS.values())))


def _shape(statement: str) -> str:
    return " ".join(statement.split())[:160]


def _difference(small: list[str], large: list[str]) -> str:
    more = Counter(map(_shape, large))
    more.subtract(Counter(map(_shape, small)))
    return "\n".join(f"{n:+d} × {s}" for s, n in more.most_common() if n)


@pytest.mark.parametrize("name", [name for name, _user, _url in PAGES])
def test_statements_per_page_do_not_grow_with_the_data(seeded, name):
    small, large = seeded.small[name], seeded.large[name]
    assert (small.status, large.status) == (200, 200), name
    assert len(large.statements) == len(small.statements), \
        f"{name}: {len(small.statements)} statements at {SMALL} cases, " \
        f"{len(large.statements)} at {LARGE}:\n{_difference(small.statements, large.statements)}"


def _listed(name: str, html: str) -> int:
    if name.startswith("conflicts"):  # declarations name a complaint by its number only
        return html.count("<tr>") - 1
    return len(CASE_LINK.findall(html))


@pytest.mark.parametrize("name", [name for name, _user, _url in PAGES
                                  if name.startswith(("queue", "deadlines", "search", "flags",
                                                      "officer", "conflicts"))])
def test_list_pages_list_something_at_both_sizes(seeded, name):
    """Each list shows something at the small size already, and at least as much at the
    large one: an empty page would run fewer statements and prove nothing."""
    small = _listed(name, seeded.small[name].html)
    assert small >= 1, name
    assert _listed(name, seeded.large[name].html) >= small, name


def test_case_pages_show_their_case_and_its_log(seeded):
    case_pages = [name for name, _user, url in PAGES if CASE_PAGE.fullmatch(url)]
    assert len(case_pages) == 3 * 2 * len(TYPES) + 2
    for name in case_pages:
        html = seeded.small[name].html
        assert '<ol class="timeline">' in html and "<time>" in html, name


def test_the_shown_cases_grew_too(seeded):
    """Before the second visit each shown case got more events (its page's timeline)."""
    assert seeded.grown >= 3 * len(TYPES)
    longer = [name for name, _user, url in PAGES if CASE_PAGE.fullmatch(url)
              and seeded.large[name].html.count("<time>")
              > seeded.small[name].html.count("<time>")]
    assert len(longer) >= len(TYPES) * 3


def test_the_large_database_holds_ten_times_the_cases(seeded):
    small, grown = seeded.reports
    assert sum(small["cases_by_type"].values()) == SMALL
    assert sum(grown["cases_by_type"].values()) == LARGE - SMALL
    assert grown["rows"]["case_event"] > 5 * small["rows"]["case_event"]
