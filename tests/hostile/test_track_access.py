"""/track under attack: a wrong code and an unknown number are indistinguishable, every
failure counts toward the lockout (also when they arrive in parallel), and a spoofed
X-Forwarded-For opens no way around it."""

from __future__ import annotations

import threading
import traceback

import pytest
import sqlalchemy as sa
from helpers import make_complaint
from hostile_helpers import recusal_application
from webhelpers import csrf_token, strip_csrf

from oversight.extensions import db
from oversight.models import Throttle

WRONG_CODE = "AAAA-BBBB-CCCC-DDDD"
#: Headers that could tell a wrong code from an unknown number.
COMPARED_HEADERS = ("Content-Type", "Content-Length", "Cache-Control", "Location",
                    "Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy",
                    "X-Frame-Options", "Vary")


def post_track(client, number, code, **kwargs):
    return client.post("/track", data={"number": number, "code": code}, **kwargs)


def unknown_like(number: str) -> str:
    """A number of the same type, year and length that does not exist."""
    return number[:6] + "9" * (len(number) - 6)


def comparable(response, number: str) -> tuple:
    body = strip_csrf(response.get_data(as_text=True)).replace(f'value="{number}"',
                                                               'value="<NUMBER>"')
    headers = {name: response.headers.get(name) for name in COMPARED_HEADERS}
    return (response.status_code, body, headers,
            sorted(c.split("=", 1)[0] for c in response.headers.getlist("Set-Cookie")))


def failures(key: str) -> int:
    db.session.rollback()
    row = db.session.get(Throttle, key)
    return row.failures if row else 0


@pytest.mark.parametrize("kind", ["complaint", "recusal"])
def test_wrong_code_and_unknown_number_look_identical(app, demo, kind):
    case = make_complaint()[0] if kind == "complaint" else recusal_application()[0]
    unknown = unknown_like(case.number)
    wrong = post_track(app.test_client(), case.number, WRONG_CODE)
    missing = post_track(app.test_client(), unknown, WRONG_CODE)
    assert wrong.status_code == 400
    assert comparable(wrong, case.number) == comparable(missing, unknown)


def test_identical_with_csrf_on_too(csrf_app, demo):
    case, _code = make_complaint()
    responses = []
    for number in (case.number, unknown_like(case.number)):
        client = csrf_app.test_client()
        token = csrf_token(client.get("/track").get_data(as_text=True))
        response = client.post("/track", data={"number": number, "code": WRONG_CODE,
                                               "csrf_token": token})
        responses.append(comparable(response, number))
    assert responses[0][0] == 400
    assert responses[0] == responses[1]


def test_failures_on_a_number_lock_it_even_from_many_addresses(app, demo):
    case, code = make_complaint()
    limit = app.config["TRACK_MAX_FAILURES"]
    for i in range(limit):
        post_track(app.test_client(), case.number, WRONG_CODE,
                   environ_base={"REMOTE_ADDR": f"10.1.0.{i + 1}"})
    assert failures(f"track:case:{case.number}") == limit
    right = post_track(app.test_client(), case.number, code,
                       environ_base={"REMOTE_ADDR": "10.2.0.1"})
    assert right.status_code != 302
    assert "/track/case" not in right.headers.get("Location", "")


def test_failures_from_one_client_lock_that_client_out_of_every_case(app, demo):
    case, code = make_complaint()
    limit = app.config["TRACK_MAX_FAILURES"]
    for i in range(limit):  # guessing numbers, each unknown
        post_track(app.test_client(), f"TS2026{900000 + i}", WRONG_CODE,
                   environ_base={"REMOTE_ADDR": "10.3.0.1"})
    blocked = post_track(app.test_client(), case.number, code,
                         environ_base={"REMOTE_ADDR": "10.3.0.1"})
    assert blocked.status_code != 302
    other = post_track(app.test_client(), case.number, code,
                       environ_base={"REMOTE_ADDR": "10.3.0.2"})
    assert other.status_code == 302


def test_n_parallel_wrong_codes_count_n(app, demo):
    """Eight clients guess at once (each its own address, so only the case's counter
    sees all of them): the counter says eight, not fewer."""
    case, _code = make_complaint()
    number, n = case.number, 8
    barrier = threading.Barrier(n, timeout=30)
    statuses, errors = [], []

    def guess(i: int):
        try:
            client = app.test_client()
            barrier.wait()
            statuses.append(post_track(client, number, f"WRNG-{i:04d}-XXXX-YYYY",
                                       environ_base={"REMOTE_ADDR": f"10.4.0.{i + 1}"})
                            .status_code)
        except Exception:  # reported below
            errors.append(traceback.format_exc())

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == [], errors[0] if errors else ""
    assert statuses == [400] * n
    assert failures(f"track:case:{number}") == n
    clients = db.session.execute(sa.select(sa.func.sum(Throttle.failures)).where(
        Throttle.key.like("track:client:10.4.0.%"))).scalar_one()
    assert clients == n


def test_spoofed_forwarding_headers_do_not_escape_the_client_lockout(app, demo):
    case, code = make_complaint()
    limit = app.config["TRACK_MAX_FAILURES"]
    for n, header in enumerate(["X-Forwarded-For", "X-Real-IP", "Forwarded"]):
        addr = f"10.5.0.{n + 1}"
        for i in range(limit):
            value = f"for=203.0.113.{i + 1}" if header == "Forwarded" else f"203.0.113.{i + 1}"
            post_track(app.test_client(), f"TS2026{800000 + 100 * n + i}", WRONG_CODE,
                       headers={header: value}, environ_base={"REMOTE_ADDR": addr})
        response = post_track(app.test_client(), case.number, code,
                              headers={header: "198.51.100.7"},
                              environ_base={"REMOTE_ADDR": addr})
        assert response.status_code != 302, header
