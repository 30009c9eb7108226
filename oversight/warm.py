"""A new worker's warm-up, before it takes its first request.

A cold worker's first pages paid for what every later page reuses: compiling the
templates (0.16 s of the first case page), setting up the models' relationships (30 ms
of the first query), loading the word segmenter's dictionary (0.07 s), and reading and
numbering the search index's columns (at a million cases, 0.46 s of the first case
page's similar cases and most of the first search's 0.52 s). ``warm`` does all that
once, when gunicorn has loaded the app in the worker and before the worker accepts a
connection (``oversight.gunicorn_conf``), so no user waits for it: a restart's workers
start a second or so later instead.
"""

from __future__ import annotations

import logging
import time

from flask import Flask

log = logging.getLogger(__name__)


def warm(app: Flask) -> dict[str, float]:
    """Compile every template, set up the models' relationships, load the word
    segmenter's dictionary and fill the search caches; return the seconds each took.
    (Done before any request's short-lived garbage, what they keep also packs tighter
    in the worker's memory.)"""
    from sqlalchemy.orm import configure_mappers

    from oversight import search
    from oversight.extensions import db
    from oversight.search.analysis import segmenter

    took: dict[str, float] = {}
    with app.app_context():
        started = time.perf_counter()
        for name in app.jinja_env.list_templates(filter_func=lambda n: n.endswith(".html")):
            app.jinja_env.get_template(name)
        took["templates"] = round(time.perf_counter() - started, 3)
        started = time.perf_counter()
        configure_mappers()  # the models' relationships, else set up by the first query
        took["models"] = round(time.perf_counter() - started, 3)
        started = time.perf_counter()
        segmenter()  # rjieba's dictionary and the domain words: 70 ms, on the first case page
        took["words"] = round(time.perf_counter() - started, 3)
        started = time.perf_counter()
        search.warm()
        took["search"] = round(time.perf_counter() - started, 3)
        db.session.remove()
    return took


def warm_worker(app) -> dict[str, float] | None:
    """``warm(app)`` for an Oversight app (the benchmarks' bare apps are left alone: None).
    A failure is logged and the worker serves all the same, as cold as before: a worker
    that died here would be started again, and die again, by gunicorn."""
    if not isinstance(app, Flask) or "sqlalchemy" not in app.extensions:
        return None
    try:
        return warm(app)
    except Exception:
        log.exception("warm-up failed; the worker starts cold")
        return None
