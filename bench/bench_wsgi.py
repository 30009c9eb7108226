"""gunicorn entry points of the load benchmark (``bench/load.py``): the app with one extra
constant route, and a bare Flask app, both served with the same gunicorn settings."""

from __future__ import annotations

from flask import Flask


def oversight_app():
    """The real app, plus ``/_bench/bare``: a constant through the app's own request hooks."""
    from oversight import create_app

    app = create_app()
    app.add_url_rule("/_bench/bare", "bench_bare", lambda: "ok")
    return app


def bare_app():
    """A Flask app with one constant route: the ceiling of any Flask endpoint here."""
    app = Flask("bare")
    app.add_url_rule("/", "bare", lambda: "ok")
    return app
