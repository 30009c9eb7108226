"""辅警监督 · Oversight. ``create_app`` is the only way to get an application."""

from __future__ import annotations

from flask import Flask

from oversight.config import REPO_ROOT, build_config


def create_app(config: dict | None = None) -> Flask:
    """Build an app bound to the extensions. Nothing is created at import time."""
    cfg = build_config(config)
    app = Flask(
        __name__,
        instance_path=cfg["INSTANCE_PATH"],
        template_folder=str(REPO_ROOT / "templates"),
        static_folder=str(REPO_ROOT / "static"),
    )
    app.config.update(cfg)
    if cfg.get("PROXY_HOPS"):
        # Read the client address, scheme and host through exactly the configured number
        # of proxies; with none configured, forwarded headers are ignored entirely.
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = int(cfg["PROXY_HOPS"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    from oversight import extensions as ext
    from oversight import storage

    ext.db.init_app(app)
    app.cli.add_command(ext.MigrationCommands("db", help="Perform database migrations."))
    ext.csrf.init_app(app)
    ext.babel.init_app(app, locale_selector=lambda: "zh_Hans_CN",
                       timezone_selector=lambda: app.config["DISPLAY_TIMEZONE"])
    # The pure domain (workflows/) translates its labels through this hook. gettext needs
    # only an app context and returns the msgid when no catalog exists.
    from oversight import translations
    from workflows.i18n import set_translator

    translations.install(app)
    set_translator(translations.gettext)
    ext.login_manager.init_app(app)

    with app.app_context():
        storage.configure_engine(ext.db.engine)

    # Validate every policy pack at start-up: a broken pack must stop the app, not a case.
    from workflows.policy import get_packs

    get_packs()

    from oversight.search.documents import install as install_search
    from oversight.web import register_web

    register_case_types()

    install_search()  # give each case type its search document builder
    register_web(app)
    return app


def register_case_types() -> None:
    """Import the models and the services that bind each case type to its state table
    (``workflows.registry``). The app does it at start-up; tools that work on the
    database without an app (``bench/seed_scale.py``) call it too."""
    from oversight import models  # noqa: F401  (register the mappers)
    from oversight.services import (  # noqa: F401  (register the case types)
        complaints,
        discipline,
        investigations,
        recoveries,
        recusals,
        suspensions,
    )
