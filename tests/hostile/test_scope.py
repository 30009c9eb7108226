"""Organ scope under attack: staff of another organ, of a lower organ, or of another
province reach none of a case's page, files, notices or actions (every case type): each
answers 404, as if the case did not exist, nothing changes, and the attempt is logged. An
upper organ reaches its lower organs' cases."""

from __future__ import annotations

import pytest
from helpers import login, organ
from hostile_helpers import (
    SEGMENTS,
    attachments_of,
    every_case_type,
    notices_of,
    snapshot,
    staff,
    unlogged_attempts,
)

from oversight.services import registry
from workflows.roles import Role

#: attacker -> (role, organ): a sibling (海淀) and a lower organ (三里屯 under 朝阳); the
#: demo's yn_inspector is another province.
ATTACKERS = {
    "hd_inspector": (Role.INSPECTOR, "BJ-HD"),
    "slt_inspector": (Role.INSPECTOR, "BJ-CY-SLT"),
}


@pytest.fixture
def world(demo):
    return every_case_type()


def urls_of(case) -> dict[str, list[str]]:
    """Every staff URL that reads or changes this one case."""
    base = f"/staff/{SEGMENTS[case.case_type]}/{case.id}"
    gets = [base]
    gets += [f"{base}/files/{a.id}" for a in attachments_of(case)]
    gets += [f"/staff/notices/{n.number}" for n in notices_of(case)]
    gets += {"recovery": [f"{base}/statement"],
             "discipline": [f"{base}/appeal"],
             "investigation": [f"{base}/propose"]}.get(case.case_type, [])
    posts = [f"{base}/{t.trigger}" for t in registry.spec_for(case).transitions]
    posts += [f"/staff/supervise/{SEGMENTS[case.case_type]}/{case.id}"]
    posts += {"discipline": [f"{base}/appeal"],
              "investigation": [f"{base}/propose"]}.get(case.case_type, [])
    return {"get": gets, "post": posts}


def probe(client, case) -> list[str]:
    """The URLs of ``case`` that did not answer 404 (or that changed the case)."""
    before = snapshot(case)
    leaks = []
    for url in urls_of(case)["get"]:
        response = client.get(url)
        if response.status_code != 404:
            leaks.append(f"GET {url} -> {response.status_code}")
    for url in urls_of(case)["post"]:
        response = client.post(url, data={"version": str(case.version), "reason": "越权",
                                          "note": "越权", "grounds": "越权"})
        if response.status_code != 404:
            leaks.append(f"POST {url} -> {response.status_code}")
    if snapshot(case) != before:
        leaks.append(f"{case.number} changed")
    return leaks


@pytest.mark.parametrize("username", [*ATTACKERS, "yn_inspector"])
def test_other_organs_get_404_for_every_case_type(app, world, demo, username):
    passwords = dict(demo)
    if username in ATTACKERS:
        passwords |= staff(username, *ATTACKERS[username])
    client = app.test_client()
    login(client, passwords, username)
    leaks = []
    for case in world.values():
        leaks += probe(client, case)
    assert leaks == []


def test_a_lower_organ_cannot_reach_its_upper_organs_case(app, world, demo):
    """The appeal against 朝阳's decision belongs to 北京市局: 朝阳's staff get 404."""
    appeal = world["appeal"]
    assert appeal.organ == organ("BJ")
    for username in ("intake", "inspector", "leader"):
        client = app.test_client()
        login(client, demo, username)
        assert probe(client, appeal) == [], username


def test_an_upper_organ_reaches_its_lower_organs_cases(app, world, demo):
    passwords = dict(demo) | staff("bj_inspector", Role.INSPECTOR, "BJ")
    for username in ("bj_leader", "bj_inspector"):
        reach(app.test_client(), passwords, username, world)


def reach(client, passwords, username, world):
    login(client, passwords, username)
    for case_type, case in world.items():
        urls = urls_of(case)
        page = client.get(urls["get"][0])
        assert page.status_code == 200, case_type
        for url in urls["get"]:
            if "/files/" in url or url.startswith("/staff/notices/"):
                response = client.get(url, buffered=True)
                assert response.status_code == 200, url
                response.close()


def test_out_of_scope_pages_files_and_actions_are_logged(app, world, demo, caplog):
    assert unlogged_attempts(app, world, demo, caplog, notices_only=False) == []
