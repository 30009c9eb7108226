"""Keeping the index up to date: the outbox, the cursor, the single writer, rebuilds, the
commands, every case type's document, and similar cases."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
from helpers import days, organ, user
from investigation_helpers import fire, open_on_initiative
from search_helpers import complain
from whoosh import query as wq

from oversight import search as search_pkg
from oversight.cli import index_command, reindex_command
from oversight.models.base import utcnow
from oversight.search import documents, index_pending, rebuild, search, similar
from oversight.search import indexer as indexer_mod
from oversight.search.store import (
    index_root,
    live_index_dir,
    pool_for,
    read_cursor,
    write_cursor,
    writer_lock,
)

pytestmark = pytest.mark.search


def _numbers(q: str, who: str = "inspector", **kw) -> list[str]:
    return [h.number for h in search(user(who), q, per_page=100, **kw).hits]


def _snapshot(queries, **kw):
    out = []
    for q in queries:
        r = search(user("inspector"), q, per_page=100, **kw)
        out.append(([h.number for h in r.hits], r.total, r.facets))
    return out


def test_a_crash_between_commit_and_indexing_loses_nothing(staff, app, monkeypatch):
    complain(narrative="第一件：辅警态度蛮横。")
    # The process dies after the commit, before indexing: the inline pass never runs.
    app.config["SEARCH_INLINE"] = False
    lost = complain(narrative="第二件：辅警在地铁口推搡乘客。").number
    assert _numbers("地铁口") == []
    # Or indexing fails: the request still succeeds and the row stays in the outbox.
    app.config["SEARCH_INLINE"] = True

    def broken(case):
        raise RuntimeError("index disk full")

    monkeypatch.setattr(documents, "build", broken)
    failed = complain(narrative="第三件：辅警在公交站辱骂乘客。").number
    assert _numbers("公交站") == []
    monkeypatch.undo()
    # The worker runs: both are found.
    assert index_pending() >= 2
    assert _numbers("地铁口") == [lost] and _numbers("公交站") == [failed]
    assert index_pending() == 0  # nothing left after the cursor


def test_only_a_commit_that_queued_a_case_starts_an_inline_pass(staff, app, monkeypatch):
    """Inline indexing runs after the commits that wrote an outbox row, not after every
    commit (a sign-in or a submission count would take the index's lock for nothing)."""
    from oversight.extensions import db
    from oversight.services import throttle, workflow
    from oversight.services.uow import unit_of_work

    passes = []
    real = indexer_mod.index_pending
    monkeypatch.setattr(indexer_mod, "index_pending",
                        lambda **kw: passes.append(kw) or real(**kw))
    with unit_of_work():
        throttle.submission_allowed("192.0.2.1", utcnow())
    assert passes == []
    case = complain(narrative="第四件：辅警在桥下辱骂路人。")
    assert len(passes) == 1 and _numbers("桥下") == [case.number]
    with pytest.raises(RuntimeError), unit_of_work():
        workflow.record_outbox(case, utcnow())
        db.session.flush()
        raise RuntimeError("the request fails after the row was written")
    with unit_of_work():  # the rolled-back row asks for no pass either
        throttle.submission_allowed("192.0.2.1", utcnow())
    assert len(passes) == 1


def test_applying_rows_twice_is_harmless(staff, app):
    numbers = [complain(narrative=f"辅警推搡群众，第{i}次。").number for i in range(3)]
    before = _snapshot(["推搡", "辅警"])
    ixdir = live_index_dir(index_root())
    write_cursor(ixdir, 0)  # as if the cursor write had been lost
    assert index_pending() > 0
    assert _snapshot(["推搡", "辅警"]) == before
    with pool_for(index_root()).searcher() as (_ident, searcher):
        assert searcher.doc_count() == 3
    assert sorted(_numbers("推搡")) == sorted(numbers)


def test_a_case_gone_from_the_database_leaves_the_index(staff, app):
    from oversight.extensions import db
    from oversight.models import SearchOutbox

    case = complain(narrative="辅警在天桥下吃拿卡要。")
    assert _numbers("天桥") == [case.number]
    ixdir = live_index_dir(index_root())
    # A row for a case that no longer exists (or a type that is no longer indexed).
    db.session.add(SearchOutbox(case_type="complaint", case_id=case.id + 1000,
                                created_at=utcnow()))
    db.session.commit()
    assert index_pending() == 1
    assert read_cursor(ixdir) is not None
    assert _numbers("天桥") == [case.number]


def test_the_cursor_waits_at_a_gap_until_it_is_old():
    root = "gap-test"
    assert indexer_mod.advance_cursor(root, 10, [11, 12], grace=60, now=0) == 12
    # seq 13 is missing: perhaps a transaction still open
    assert indexer_mod.advance_cursor(root, 12, [14, 15], grace=60, now=100) == 12
    assert indexer_mod.advance_cursor(root, 12, [14, 15], grace=60, now=130) == 12
    # after the grace period it was a rollback
    assert indexer_mod.advance_cursor(root, 12, [14, 15], grace=60, now=161) == 15


def test_only_one_writer_at_a_time(app, tmp_path):
    root = Path(tmp_path / "locktest")
    held, waited = threading.Event(), []
    with writer_lock(root) as first:
        assert first

        def other():
            with writer_lock(root, timeout=0.1) as second:
                waited.append(second)
            held.set()

        t = threading.Thread(target=other)
        t.start()
        assert held.wait(5)
        t.join()
    assert waited == [False]
    with writer_lock(root, timeout=0.1) as again:
        assert again


QUERIES = ["辅警", "推搡", '"态度蛮横"', "BJ10001", "交通", "辅警 OR 协警", "路口"]


def test_deleting_the_index_and_rebuilding_gives_identical_results(staff, app):
    for i, text in enumerate(["辅警态度蛮横，在路口推搡群众。", "协警在交通事故现场吃拿卡要。",
                              "辅警推搡老人。", "执法记录仪显示辅警态度蛮横。",
                              "辅警在路口乱罚款。"]):
        complain("BJ-CY-SLT" if i % 2 else "BJ-CY", narrative=text, now=utcnow() - days(i))
    fire(complain(narrative="辅警辱骂路人。"), "accept", "intake")
    incremental = _snapshot(QUERIES)
    incremental_by_date = _snapshot(QUERIES, sort="date")

    root = index_root()
    shutil.rmtree(root)
    assert rebuild() == 6
    rebuilt = _snapshot(QUERIES)
    by_date = _snapshot(QUERIES, sort="date")
    # The same hits, totals and facets; by date, the same order too. (By relevance the
    # order may differ from the incrementally built index, whose statistics still count
    # replaced versions of documents until segments merge.)
    assert by_date == incremental_by_date
    assert [(sorted(n), t, f) for n, t, f in rebuilt] == \
        [(sorted(n), t, f) for n, t, f in incremental]

    shutil.rmtree(root)
    # No index: the writer rebuilds first. (No grace period, so that it does not apply the
    # last minute's rows again on top: that would be harmless, but change the statistics.)
    app.config["SEARCH_GAP_GRACE_SECONDS"] = 0
    assert index_pending() == 0
    assert _snapshot(QUERIES) == rebuilt
    assert _snapshot(QUERIES, sort="date") == by_date


def test_a_rebuild_with_a_helper_process_gives_the_same_index(staff, app):
    for i, text in enumerate(["辅警态度蛮横，在路口推搡群众。", "协警在交通事故现场吃拿卡要。",
                              "执法记录仪显示辅警态度蛮横。", "辅警在路口乱罚款。"]):
        complain("BJ-CY-SLT" if i % 2 else "BJ-CY", narrative=text, now=utcnow() - days(i))
    assert rebuild() == 4
    alone = _snapshot(QUERIES), _snapshot(QUERIES, sort="date")
    app.config["SEARCH_REBUILD_PROCS"] = 2
    seen = []
    assert rebuild(progress=lambda done, total: seen.append((done, total))) == 4
    assert (_snapshot(QUERIES), _snapshot(QUERIES, sort="date")) == alone
    assert seen[0] == (0, 4) and seen[-1] == (4, 4)


def test_a_failing_helper_process_fails_the_rebuild_and_keeps_the_index(staff, app,
                                                                         monkeypatch):
    complain(narrative="辅警在商场门口推搡顾客。")
    assert rebuild() == 1
    live = live_index_dir(index_root())
    app.config["SEARCH_REBUILD_PROCS"] = 2

    def broken(case):
        raise ValueError("no document for this case")

    monkeypatch.setattr(documents, "build", broken)
    with pytest.raises(RuntimeError, match="no document for this case"):
        rebuild()
    assert live_index_dir(index_root()) == live
    assert _numbers("商场")


def test_the_commands_rebuild_with_a_progress_bar_and_apply_the_outbox(staff, app):
    complain(narrative="辅警在商场门口推搡顾客。")
    runner = app.test_cli_runner()
    result = runner.invoke(reindex_command)
    assert result.exit_code == 0, result.output
    assert "1" in result.output
    app.config["SEARCH_INLINE"] = False
    complain(narrative="辅警在商场门口辱骂顾客。")
    assert len(_numbers("商场")) == 1
    result = runner.invoke(index_command)
    assert result.exit_code == 0, result.output
    assert len(_numbers("商场")) == 2


def test_follow_applies_until_stopped(staff, app):
    app.config["SEARCH_INLINE"] = False
    case = complain(narrative="辅警在医院门口推搡病人家属。")
    passes = []

    def stop():
        passes.append(1)
        return len(passes) > 2

    search_pkg.follow(poll_seconds=0.01, stop=stop)
    assert _numbers("医院") == [case.number]


def test_every_case_type_has_a_document_builder(app):
    from oversight.services import registry

    for case_type in registry.case_types():
        assert registry.binding_for(case_type).search_document is not None, case_type


def test_investigation_evidence_findings_and_notes_are_found(staff, app):
    inv = open_on_initiative("BJ-CY", "BJ10001", "inspector")
    fire(inv, "add_evidence", "inspector", {
        "evidence_kind": "recorder", "evidence_title": "执法记录仪视频",
        "evidence_description": "视频显示该辅警在收费站索要香烟",
        "recorder_ref": "DSJ-7781 21:10-21:25"})
    fire(inv, "add_note", "inspector", {"note": "已约谈当班民警核实排班表"})
    assert _numbers("收费站") == [inv.number]
    assert _numbers("DSJ-7781") == [inv.number]
    assert _numbers("排班表") == [inv.number]
    assert _numbers('"态度粗暴"') == [inv.number]  # the subject
    result = search(user("inspector"), "收费站", case_type="investigation")
    assert result.total == 1 and result.hits[0].title
    assert _numbers("收费站", who="yn_inspector") == []


def test_similar_complaints_same_organ_within_the_window(staff, app):
    text = "三里屯路口辅警态度蛮横，辱骂群众并推搡一名外卖骑手。"
    case = complain(narrative=text)
    twin = complain(narrative="外卖骑手在三里屯路口被辅警推搡，辅警态度蛮横。")
    other_organ = complain("BJ-CY-SLT", narrative=text)
    old = complain(narrative=text, now=utcnow() - days(200))
    unrelated = complain(narrative="窗口工作人员办理户籍业务时拖延。", incident_place="户籍窗口",
                         officer_badge="BJ10003")
    found = [h.number for h in similar(user("inspector"), case)]
    assert twin.number in found
    assert case.number not in found
    assert other_organ.number not in found and old.number not in found
    assert unrelated.number not in found
    assert old.number in [h.number for h in similar(user("inspector"), case,
                                                    window_days=365)]
    assert len(similar(user("inspector"), case, limit=1)) == 1
    # Only for those who may open the case.
    assert similar(user("yn_inspector"), case) == []
    assert similar(user("admin"), case) == []
    hit = similar(user("inspector"), case)[0]
    assert "<mark>" in hit.snippet and hit.organ_name == organ("BJ-CY").name


def test_the_index_lives_in_the_instance_folder(app):
    root = index_root()
    assert root == Path(app.config["INSTANCE_PATH"]) / "search"
    assert search_pkg.rebuild() == 0
    assert live_index_dir(root).parent == root
    assert _numbers_empty()


def _numbers_empty() -> bool:
    with pool_for(index_root()).searcher() as (_ident, searcher):
        return not list(searcher.docs_for_query(wq.Every()))
