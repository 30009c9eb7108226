"""The officer's own account sees their roster record and nothing of any complaint."""

from helpers import login, make_complaint


def test_officer_lands_on_own_record_and_cannot_open_complaints(client, demo):
    case, _ = make_complaint()
    login(client, demo, "officer")
    response = client.get("/staff/")
    assert response.status_code == 302 and response.headers["Location"] == "/staff/me"
    html = client.get("/staff/me").get_data(as_text=True)
    assert 'id="badge">BJ10001<' in html and "北京市公安局朝阳分局" in html
    assert "王小明" not in html and case.number not in html
    assert client.get(f"/staff/complaints/{case.id}").status_code == 404
    assert client.post(f"/staff/complaints/{case.id}/accept").status_code == 404


def test_other_roles_have_no_officer_page(client, demo):
    login(client, demo, "inspector")
    assert client.get("/staff/me").status_code == 403
