"""A new worker's warm-up (``oversight.warm``, run by gunicorn's ``post_worker_init`` from
``oversight.gunicorn_conf``): templates compiled and the search columns read before the
first request, so that the first search and case page read none; never fatal."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest
from flask import Flask
from helpers import user
from search_helpers import complain

from oversight import gunicorn_conf
from oversight.search import engine as engine_mod
from oversight.search import index_pending, search
from oversight.search import service as search_service
from oversight.search.store import index_root, pool_for
from oversight.warm import warm

pytestmark = pytest.mark.search


def _read_columns(monkeypatch) -> list[str]:
    """Record every column a search reads from the index (not from the cache)."""
    read: list[str] = []
    real = engine_mod._codes, engine_mod._numbers

    def codes(col):
        read.append("text")
        return real[0](col)

    def numbers(col, typecode, count):
        read.append("number")
        return real[1](col, typecode, count)

    monkeypatch.setattr(engine_mod, "_codes", codes)
    monkeypatch.setattr(engine_mod, "_numbers", numbers)
    return read


def test_a_warmed_worker_reads_no_column_at_its_first_search(app, demo, monkeypatch):
    for _i in range(3):
        complain(narrative="辅警在路口执勤时态度蛮横，辱骂群众并推搡。")
    index_pending()
    engine_mod._columns.clear()
    read = _read_columns(monkeypatch)
    took = warm(app)
    assert set(took) == {"templates", "models", "words", "search"}
    with pool_for(index_root()).searcher() as (_ident, searcher):
        segments = len(searcher.reader().leaf_readers())
    # each segment's CACHED_COLUMNS: four text, two numeric
    assert (read.count("text"), read.count("number")) == (4 * segments, 2 * segments)
    assert "staff/case.html" in {t.name for t in app.jinja_env.cache.values()}
    read.clear()
    result = search(user("inspector"), "态度蛮横")
    assert result.total == 3 and result.facets
    assert read == []


def test_warming_before_any_index_is_harmless(app, demo):
    assert search_service.warm() is False
    assert warm(app)["search"] >= 0


def test_gunicorn_warms_oversight_workers_only_and_never_fails_one(app, demo, monkeypatch,
                                                                   caplog):
    warmed, said = [], []
    monkeypatch.setattr("oversight.warm.warm", lambda a: warmed.append(a) or {"search": 0.1})
    log = SimpleNamespace(info=lambda *args: said.append(args[0] % args[1:]))
    gunicorn_conf.post_worker_init(SimpleNamespace(wsgi=app, log=log))
    gunicorn_conf.post_worker_init(SimpleNamespace(wsgi=Flask("bare"), log=log))  # bench's
    assert warmed == [app]
    assert said == ["Worker warmed (seconds): {'search': 0.1}"]

    def broken(_app):
        raise OSError("index unreadable")

    monkeypatch.setattr("oversight.warm.warm", broken)
    with caplog.at_level(logging.ERROR, logger="oversight.warm"):
        gunicorn_conf.post_worker_init(SimpleNamespace(wsgi=app, log=log))
    assert said == ["Worker warmed (seconds): {'search': 0.1}"]  # nothing more
    assert "warm-up failed; the worker starts cold" in caplog.text
