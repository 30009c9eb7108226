"""Each protection of the hostile suite is load-bearing: remove it from a copy of the code
and the test that names it fails. A test that still passes without its protection proves
nothing, so every mutant below must be killed.

The mutants are applied to a private copy of the repository (never to the checkout, which
other test runs may be reading) and the named tests run there in a child pytest, on the
same database kind as this run. Each mutant is one small, plausible mistake: the line a
hurried change would drop.

Where they run: a mutant proves something about a test (that it fails without its
protection), and almost always nothing about the database. So the whole list is collected
in the SQLite suite only; the PostgreSQL suite collects just the mutants marked
``database=True``, whose protection lives in the database itself or in how the database
orders concurrent writers (the append-only triggers, whose SQL is written per database;
the optimistic lock, where PostgreSQL's row locks rather than SQLite's single writer
decide the race), and ``test_the_unmutated_copy_passes`` runs the child runs of those.
The other mutants would only prove again, at five to ten seconds a child run, what the
SQLite suite already proved. The tests the mutants name run on both databases as always.
This is a choice of what to collect (``COLLECTED`` below, noted in tests/hostile/
conftest.py), not a skip: nothing is reported as skipped, and on SQLite all run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import PG_URL, prepare_database

ROOT = Path(__file__).resolve().parents[2]
COPIED = ("oversight", "workflows", "templates", "static", "migrations", "tests",
          "pyproject.toml")


@dataclass(frozen=True)
class Mutant:
    item: str  # what the issue calls the protection
    path: str
    old: str
    new: str
    tests: tuple[str, ...]
    #: the protection is in the database or its handling of concurrent writers: the
    #: mutant is collected on PostgreSQL too (see the module doc)
    database: bool = False


MUTANTS = [
    Mutant("1 wrong code and unknown number look alike",
           "oversight/services/cases.py",
           '        raise NotFound(_("案件编号或查询码不正确"))',
           '        raise NotFound(_("查询码不正确") if case else _("案件编号不存在"))',
           ("tests/hostile/test_track_access.py::test_wrong_code_and_unknown_number_look_identical",)),
    Mutant("1 failures count toward the lockout",
           "oversight/services/cases.py",
           "        for k in keys:\n            throttle.record_failure(k, now, window)",
           "        pass",
           ("tests/hostile/test_track_access.py::test_n_parallel_wrong_codes_count_n",)),
    Mutant("2 organ scope",
           "oversight/services/access.py",
           "    return _is_staff(actor) and organ.path.startswith(actor.organ.path)",
           "    return _is_staff(actor)",
           ("tests/hostile/test_scope.py::test_other_organs_get_404_for_every_case_type",)),
    # The protection is that a view passes only its form's declared fields; the mistake
    # is the generic "copy what was posted onto the row" a hurried view would add.
    Mutant("3 no mass assignment",
           "oversight/web/staff/views.py",
           "    data = {k: v for k, v in form.data.items() if k not in _NOT_DATA}\n",
           "    data = {k: v for k, v in form.data.items() if k not in _NOT_DATA}\n"
           "    for k in ('number', 'organ_id'):\n"
           "        if k in request.form:\n"
           "            setattr(case, k, type(getattr(case, k))(request.form[k]))\n",
           ("tests/hostile/test_mass_assignment.py::test_staff_action_ignores_injected_columns",)),
    Mutant("4 complainant identity only for the handling organ's staff",
           "oversight/services/access.py",
           "        return role in IDENTITY_ROLES and actor.organ_id == case.organ_id",
           "        return True",
           ("tests/hostile/test_privacy.py::"
            "test_only_the_handling_organs_intake_and_inspectors_see_who_complained",)),
    Mutant("5 an approver cannot approve their own proposal",
           "oversight/services/workflow.py",
           "        if last == actor.id:",
           "        if False:",
           ("tests/hostile/test_four_eyes.py::test_own_proposal_refused_through_the_page_too",)),
    Mutant("5 a conflicted inspector cannot act",
           "workflows/investigation.py",
           "    if ctx.actor_id is not None and ctx.actor_id in getattr(ctx.case, "
           "\"conflicted_ids\", ()):",
           "    if False:",
           ("tests/hostile/test_conflicted_inspector.py",)),
    Mutant("6 refused transitions answer 409",
           "oversight/web/public/views.py",
           "        return _render_case(db.session.get(type(case), case.id), actor, 409)",
           "        return _render_case(db.session.get(type(case), case.id), actor, 200)",
           ("tests/hostile/test_refused_transitions.py",)),
    Mutant("7 one winner per race (optimistic lock)",
           "oversight/models/complaint.py",
           '    __mapper_args__ = {"version_id_col": version}',
           "    __mapper_args__ = {}",
           ("tests/hostile/test_races.py::test_two_threads_one_winner_one_event",),
           database=True),
    Mutant("8 output escaped",
           "oversight/__init__.py",
           "    ext.csrf.init_app(app)\n",
           "    ext.csrf.init_app(app)\n    app.jinja_env.autoescape = False\n",
           ("tests/hostile/test_xss.py::test_staff_case_page_escapes_every_field_and_file_name",)),
    Mutant("9 types sniffed, SVG and HTML refused",
           "oversight/services/attachments.py",
           "    if mime not in ALLOWED:",
           "    if mime is None:\n        mime = 'image/png'\n    if mime not in ALLOWED:",
           ("tests/hostile/test_uploads.py::test_script_carrying_files_are_refused",)),
    Mutant("9 upload names cleaned",
           "oversight/services/attachments.py",
           "    base = \"\".join(ch for ch in base if unicodedata.category(ch)[0] != \"C\")"
           ".strip()",
           "    base = base.strip()",
           ("tests/hostile/test_upload_names.py",)),
    Mutant("9 GPS position stripped from photos",
           "oversight/services/image_meta.py",
           "    handler = HANDLERS.get(mime)",
           "    handler = None",
           ("tests/hostile/test_upload_location.py",)),
    Mutant("10 CSRF tokens required",
           "oversight/__init__.py",
           "    ext.csrf.init_app(app)\n",
           "",
           ("tests/hostile/test_csrf_and_safe_methods.py::test_no_token_no_change",)),
    Mutant("11 old cookies die with the session nonce",
           "oversight/web/__init__.py",
           "        if user is None or not user.active or user.session_nonce != nonce:",
           "        if user is None or not user.active:",
           ("tests/hostile/test_sessions.py::test_an_old_session_cookie_is_refused",)),
    Mutant("11 an unknown user name costs the same work as a wrong password",
           "oversight/web/auth.py",
           "    if user is not None:\n        return user.check_password(password)\n",
           "    if user is not None:\n        return user.check_password(password)\n"
           "    return False\n",
           ("tests/hostile/test_sessions.py::"
            "test_an_unknown_user_costs_the_same_hashing_as_a_wrong_password",)),
    Mutant("11 sessions time out",
           "oversight/web/auth.py",
           "        if _expired(now):",
           "        if False:",
           ("tests/hostile/test_session_timeouts.py",)),
    Mutant("11 TOTP codes are single-use",
           "oversight/services/second_factor.py",
           "    if step is None or step <= user.totp_last_step:",
           "    if step is None:",
           ("tests/hostile/test_second_factor.py::test_the_code_completes_the_login_once",)),
    Mutant("12 a spoofed X-Forwarded-For is not the client",
           "oversight/web/__init__.py",
           '    return hashlib.sha512(f"{request.remote_addr}|{agent}".encode()).hexdigest()',
           '    who = request.headers.get("X-Forwarded-For", request.remote_addr)\n'
           '    return hashlib.sha512(f"{who}|{agent}".encode()).hexdigest()',
           ("tests/hostile/test_session_protection.py",)),
    Mutant("13 next stays on this site",
           "oversight/web/staff/views.py",
           '        if not parts.scheme and not parts.netloc and target.startswith("/") \\\n'
           '                and not target.startswith("//"):',
           "        if True:",
           ("tests/hostile/test_sessions.py::test_next_stays_on_this_site",)),
    Mutant("14 security headers on every response",
           "oversight/web/__init__.py",
           '        response.headers.setdefault("X-Content-Type-Options", "nosniff")\n',
           "",
           ("tests/hostile/test_errors_and_headers.py::test_security_headers_on_error_pages",)),
    Mutant("15 the audit table is append-only in the database",
           "oversight/models/append_only.py",
           "def install_statements(dialect: str, table: str) -> list[str]:\n",
           "def install_statements(dialect: str, table: str) -> list[str]:\n    return []\n",
           ("tests/hostile/test_audit_log.py::test_the_database_refuses_to_change_an_event",),
           database=True),
    Mutant("16 floods get 429",
           "oversight/services/throttle.py",
           "    return record_failure(key, now, window) <= limit",
           "    return True",
           ("tests/hostile/test_floods.py::test_a_complaint_flood_gets_429",)),
]


#: The mutants this suite collects: every one on SQLite, those marked ``database`` on
#: PostgreSQL (see the module doc).
COLLECTED = [m for m in MUTANTS if m.database or not PG_URL]


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> Path:
    """A private copy of the code and the tests, mutated one mutant at a time."""
    root = tmp_path_factory.mktemp("mutants")
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, root / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, root / name)
    return root


def run_tests(sandbox: Path, tests: tuple[str, ...]) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(sandbox), "PYTHONDONTWRITEBYTECODE": "1"}
    try:
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-x", "-q", "-W", "error", "-p",
             "no:cacheprovider", "-o", "addopts=", *tests],
            cwd=sandbox, env=env, capture_output=True, text=True, timeout=600, check=False)
    finally:
        if PG_URL:
            # The child ran in this suite's PostgreSQL schema and left its rows there,
            # written by mutated code (a race's double transition, its counts with it):
            # not this test's data, which the suite checks after every test.
            prepare_database()


@pytest.mark.parametrize("mutant", COLLECTED, ids=[m.item for m in COLLECTED])
def test_removing_the_protection_fails_its_test(sandbox, mutant):
    target = sandbox / mutant.path
    original = target.read_text(encoding="utf-8")
    assert original.count(mutant.old) == 1, f"the protection moved: update the mutant of " \
                                             f"{mutant.path}"
    target.write_text(original.replace(mutant.old, mutant.new), encoding="utf-8")
    try:
        result = run_tests(sandbox, mutant.tests)
    finally:
        target.write_text(original, encoding="utf-8")
    # Exit code 1 is "tests failed"; anything else (2 interrupted, 4 usage, 5 none
    # collected) would be a broken mutant, not a killed one.
    assert result.returncode == 1, (
        f"mutant survived or broke ({result.returncode}): {mutant.item}\n"
        + result.stdout[-3000:] + result.stderr[-2000:])
    assert " failed" in result.stdout.splitlines()[-1]


def test_the_unmutated_copy_passes(sandbox):
    """The same child runs pass on the copy as it is, so the failures above are the
    mutants' doing."""
    tests = tuple(dict.fromkeys(t for m in COLLECTED for t in m.tests))
    result = run_tests(sandbox, tests)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
