"""Extensions are created unbound here and bound to an app in ``create_app``."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask_babel import Babel
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from oversight.config import REPO_ROOT

MIGRATIONS = REPO_ROOT / "migrations"

# Named constraints make Alembic batch migrations on SQLite repeatable.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()


# --- migrations -----------------------------------------------------------------------------
# flask-migrate imports Alembic and Mako (11 MB of every process) and only the commands that
# migrate need it, so it is bound to the app where they run, not at start-up: a web worker
# never loads it.


def bind_migrations(app: Flask) -> None:
    """Bind flask-migrate to ``app`` (once), for ``upgrade()`` and the ``db`` commands."""
    if "migrate" not in app.extensions:
        from flask_migrate import Migrate

        Migrate(app, db, directory=str(MIGRATIONS), render_as_batch=True, compare_type=True)


class MigrationCommands(click.Group):
    """flask-migrate's ``db`` command group, loaded when it is invoked (Flask has pushed
    the app's context by then): the context, options and subcommands are all the real
    group's."""

    def _group(self) -> click.Group:
        bind_migrations(current_app._get_current_object())
        from flask_migrate.cli import db as group

        return group

    def make_context(self, info_name, args, parent=None, **extra) -> click.Context:
        return self._group().make_context(info_name, args, parent=parent, **extra)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return self._group().list_commands(ctx)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        return self._group().get_command(ctx, name)
