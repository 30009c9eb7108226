"""Staff can read every pack: each rule with its article and words, fallbacks marked."""

import pytest
from helpers import login

from workflows.policy import get_packs


@pytest.mark.parametrize("pack_id", sorted(get_packs()))
def test_every_pack_renders_with_its_citations(client, demo, pack_id):
    login(client, demo, "inspector")
    response = client.get(f"/staff/packs/{pack_id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    pack = get_packs()[pack_id]
    assert pack.name in html
    for key, rule in pack.rules.items():
        assert f'id="rule-{key}"' in html
        assert rule.citation.label in html
    for category in pack.categories:
        assert category.label in html
    assert "complaint_channel" not in html.split('id="rule-complaint_channel"', 1)[1][:200]


def test_local_words_and_national_fallbacks_are_told_apart(client, demo):
    login(client, demo, "inspector")
    html = client.get("/staff/packs/beijing-2022").get_data(as_text=True)
    channel = html.split('id="rule-complaint_channel"', 1)[1].split('class="rule"', 1)[0]
    assert "第二十四条" in channel and "原文" in channel
    assert "公安机关应当畅通投诉举报渠道" in channel
    told = html.split('id="rule-complainant_told_result"', 1)[1].split('class="rule"', 1)[0]
    assert "本规定未作规定，适用国家规定" in told and "要旨" in told


def test_unknown_pack_is_404(client, demo):
    login(client, demo, "leader")
    assert client.get("/staff/packs/atlantis").status_code == 404


def test_case_page_links_its_pack(client, demo):
    from helpers import make_complaint

    case, _ = make_complaint()
    login(client, demo, "intake")
    html = client.get(f"/staff/complaints/{case.id}").get_data(as_text=True)
    assert 'href="/staff/packs/beijing-2022"' in html
