"""The load harness keeps working: ``bench/load.py --smoke`` runs every scenario for a
second against gunicorn (SQLite, 200 seeded cases) with wrk, next to the bare-Flask
baseline. Only correctness is asserted (no errors, no lost submission, every scenario
served); the figures belong to the full runs in bench/results/, never to a test. The
in-process harnesses (``bench/memory.py``, ``bench/pages.py``, ``bench/stats.py``) run
the same way on one kept instance of 200 cases.

The smoke run serves SQLite whatever TEST_DATABASE_URL says, so the PostgreSQL suite would
only repeat it: only the SQLite suite collects this module (tests/perf/conftest.py)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_load_harness_runs_every_scenario_cleanly():
    if shutil.which("wrk") is None:
        pytest.fail("wrk is missing: ./dev test installs it (apt-get install wrk)",
                    pytrace=False)
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import load
    finally:
        sys.path.remove(str(ROOT / "bench"))
    results = load.main(["--smoke"])
    [result] = results["results"]
    runs = result["runs"]
    assert set(runs) >= {"bare_flask", "bare_in_app", "intake", "intake_floor", "track",
                         "queue", "case", "dashboard", "deadlines", "search"}
    for name, run in runs.items():
        assert run["requests"] > 0, name
        assert run["non_2xx_3xx"] == 0, (name, run["statuses"])
        assert sum(run["socket_errors"].values()) == 0, (name, run["socket_errors"])
    for name in ("intake", "intake_floor"):
        intake = runs[name]
        assert intake["marks"] > 0 and intake["lost"] == 0, name
        assert intake["rows_added"] >= intake["marks"], name
    assert set(result["access_code_ms"]) == {"right", "wrong", "unknown"}
    memory = result["worker_memory_mb"]
    assert len(memory) == 2 and all(m["rss"] >= m["anon"] > 0 for m in memory.values())
    mapped = result["worker_mapped_files_mb"]
    assert set(mapped) == set(memory)
    assert all(files and all(size > 0 for size in files.values()) for files in mapped.values())


@pytest.fixture(scope="module")
def small_instance(tmp_path_factory):
    """A kept instance of 200 seeded cases, as ``bench/load.py --keep`` makes them."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import load
    finally:
        sys.path.remove(str(ROOT / "bench"))
    return load.seeded_instance("sqlite", None, 200, str(tmp_path_factory.mktemp("kept")), {})


def test_the_memory_walk_runs_every_step(small_instance):
    """``bench/memory.py`` on a small kept instance: every group of pages answers, and
    each step reads the process's memory."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import memory
    finally:
        sys.path.remove(str(ROOT / "bench"))
    report = memory.main(["--instance", str(small_instance.path), "--rounds", "1"])
    [result] = report["results"]
    steps = [step["step"] for step in result["steps"]]
    assert steps == ["started", "app created", "warmed", "queue (1)", "to-do (1)",
                     "case pages (1)", "dashboard (1)", "deadlines (1)", "searches (1)",
                     "every organ's scope"]
    assert all(step["rss"] >= step["anon"] > 0 for step in result["steps"])
    assert result["peak"]["rss"] >= result["steps"][-1]["rss"]


def test_the_in_process_pages_answer_for_every_user(small_instance, monkeypatch):
    """``bench/pages.py`` on the same instance: every user signs in, every page answers
    (the script refuses any other status) and is timed with its statement count. It runs
    in this process and sets the instance's environment: restored after."""
    for name in ("OVERSIGHT_INSTANCE", "DATABASE_URL", "OVERSIGHT_SEARCH_INLINE"):
        monkeypatch.setenv(name, os.environ.get(name, ""))
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import pages
    finally:
        sys.path.remove(str(ROOT / "bench"))
    out = small_instance.path / "pages.json"
    report = pages.main(["--instance", str(small_instance.path), "--rounds", "3",
                         "--out", str(out)])
    assert json.loads(out.read_text()) == report
    results = report["results"]
    assert set(results) == {"bare_in_app", *pages.USERS}
    for user in pages.USERS:
        expected = set(pages.PAGES) | ({"case"} if user == "bj_leader" else set())
        assert set(results[user]) == expected, user
        for name, timing in results[user].items():
            assert timing["p95_ms"] >= timing["p50_ms"] > 0, (user, name)
            assert timing["statements"] > 0, (user, name)


def test_the_statistics_benchmark_finds_the_same_figures(small_instance, tmp_path):
    """``bench/stats.py`` on a copy of the same instance (it writes kept figures): the
    statistics as they were at its ``--before-ref`` and as they are give the same figures
    for every scope (the script fails otherwise), and every page answers. A process of
    its own: the script makes its app from the command line."""
    copy = tmp_path / "oversight.db"
    with contextlib.closing(sqlite3.connect(small_instance.path / "oversight.db")) as src, \
            contextlib.closing(sqlite3.connect(copy)) as dst:
        src.backup(dst)  # the WAL's pages too
    out = tmp_path / "stats.json"
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "stats.py"), "--db",
                          f"sqlite:///{copy}", "--rounds", "1", "--page-requests", "2",
                          "--out", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    [entry] = json.loads(out.read_text())["databases"]
    assert entry["cases_total"] > 0
    assert len(entry["dashboard"]) == 4
    for scenario in entry["dashboard"].values():
        assert scenario["same_figures"] is True and scenario["cases_in_scope"] > 0, scenario
    assert entry["transparency"]["same_figures"] is True
    assert set(entry["pages"]) >= {"/staff/stats (city bureau)", "/transparency",
                                   "refresh_pass"}
