"""Host and proxy handling: a host name outside TRUSTED_HOSTS is refused, and behind one
proxy (PROXY_HOPS=1) only the address that proxy appended counts: a client prepending
addresses of its own to X-Forwarded-For cannot dodge the lockout."""

from __future__ import annotations

from helpers import make_app, make_complaint, prepare_database

from oversight.extensions import db
from oversight.seed import seed_demo
from oversight.services.uow import unit_of_work


def test_untrusted_host_is_refused(tmp_path):
    app = make_app(tmp_path, TRUSTED_HOSTS=["oversight.example.gov"])
    with app.app_context():
        prepare_database()
        client = app.test_client()
        assert client.get("/", headers={"Host": "evil.example"}).status_code == 400
        assert client.get("/", base_url="http://oversight.example.gov").status_code == 200
        db.session.remove()
        db.engine.dispose()


def test_behind_one_proxy_only_the_proxys_address_counts(tmp_path):
    app = make_app(tmp_path, PROXY_HOPS=1, TRACK_MAX_FAILURES=3)
    with app.app_context():
        prepare_database()
        with unit_of_work():
            seed_demo()
        case, code = make_complaint()
        number = case.number
        db.session.remove()
        client = app.test_client()
        statuses = []
        for i in range(5):
            # The client forges a new first hop every time; the proxy appends the real one.
            forwarded = f"10.0.0.{i}, 198.51.100.7"
            statuses.append(client.post("/track", data={"number": f"TS20269{i:05d}",
                                                        "code": "WRONG"},
                                        headers={"X-Forwarded-For": forwarded}).status_code)
        assert statuses[:3] == [400, 400, 400] and statuses[3:] == [429, 429]
        # Another real client (another address appended by the proxy) is not locked out.
        other = client.post("/track", data={"number": number, "code": code},
                            headers={"X-Forwarded-For": "198.51.100.8"})
        assert other.status_code == 302
        db.session.remove()
        db.engine.dispose()
