"""Configuration from environment variables and the instance folder.

There is deliberately no fallback secret in code: a random key is generated into
``instance/secret_key`` on first start and reused afterwards, so sessions survive restarts
without anyone having to invent a secret.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def default_instance_path() -> Path:
    return Path(os.environ.get("OVERSIGHT_INSTANCE", REPO_ROOT / "instance")).resolve()


def load_or_create_secret(instance: Path) -> str:
    """Read the instance secret, creating it (mode 0600) the first time.

    Several gunicorn workers may start at once: the key is written to a private temporary
    file and hard-linked into place, which fails if another worker won, so every worker
    ends up reading the same key.
    """
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / "secret_key"
    if not path.exists():
        fd, tmp = tempfile.mkstemp(dir=instance, prefix=".secret-")
        try:
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(secrets.token_urlsafe(48))
            os.chmod(tmp, 0o600)
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
        finally:
            os.unlink(tmp)
    key = path.read_text(encoding="ascii").strip()
    if len(key) < 32:
        raise RuntimeError(f"{path} holds a key shorter than 32 characters; delete it")
    return key


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


def engine_url(database_url: str) -> str:
    """The SQLAlchemy URL of a ``DATABASE_URL``: PostgreSQL's ``postgres://`` and
    ``postgresql://`` spellings go through the psycopg 3 driver; others are unchanged."""
    if database_url.startswith("postgres://"):
        database_url = "postgresql://" + database_url[len("postgres://"):]
    if database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://"):]
    return database_url


def build_config(overrides: dict | None = None) -> dict:
    """Return the effective configuration: defaults < environment < explicit overrides."""
    overrides = dict(overrides or {})
    instance = Path(overrides.get("INSTANCE_PATH") or default_instance_path())
    instance.mkdir(parents=True, exist_ok=True)
    database_url = (
        overrides.get("SQLALCHEMY_DATABASE_URI")
        or os.environ.get("DATABASE_URL")
        or f"sqlite:///{instance / 'oversight.db'}"
    )
    database_url = engine_url(database_url)
    cfg = {
        "INSTANCE_PATH": str(instance),
        "SECRET_KEY": os.environ.get("SECRET_KEY") or None,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "UPLOAD_FOLDER": str(instance / "attachments"),
        "UPLOAD_MAX_FILES": 5,
        "UPLOAD_MAX_BYTES": _env_int("OVERSIGHT_UPLOAD_MAX_BYTES", 20 * 1024 * 1024),
        # The whole request may carry five maximal files plus the form.
        "MAX_CONTENT_LENGTH": _env_int("OVERSIGHT_MAX_REQUEST_BYTES", 110 * 1024 * 1024),
        "BABEL_DEFAULT_LOCALE": "zh_Hans_CN",
        "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
        "DISPLAY_TIMEZONE": "Asia/Shanghai",
        "MAIL_SERVER": os.environ.get("SMTP_HOST") or None,
        "MAIL_PORT": _env_int("SMTP_PORT", 587),
        "MAIL_USERNAME": os.environ.get("SMTP_USER") or None,
        "MAIL_PASSWORD": os.environ.get("SMTP_PASSWORD") or None,
        "MAIL_USE_TLS": os.environ.get("SMTP_STARTTLS", "1") != "0",
        "MAIL_SENDER": os.environ.get("SMTP_SENDER", "oversight@localhost"),
        "PUBLIC_BASE_URL": os.environ.get("PUBLIC_BASE_URL", ""),
        "TRACK_MAX_FAILURES": _env_int("OVERSIGHT_TRACK_MAX_FAILURES", 10),
        "TRACK_WINDOW_SECONDS": _env_int("OVERSIGHT_TRACK_WINDOW_SECONDS", 900),
        "LOGIN_MAX_FAILURES": _env_int("OVERSIGHT_LOGIN_MAX_FAILURES", 10),
        # Public submissions (complaints, recusal applications) per client address and
        # window: a flood beyond it gets 429. A station kiosk or a carrier NAT shares one
        # address, so the default leaves room for a busy day.
        "SUBMIT_MAX_PER_CLIENT": _env_int("OVERSIGHT_SUBMIT_MAX_PER_CLIENT", 20),
        "SUBMIT_WINDOW_SECONDS": _env_int("OVERSIGHT_SUBMIT_WINDOW_SECONDS", 600),
        # The statistics dashboard and the public figures are at most this old, shared by
        # the workers (stats_snapshot) and counted ahead by `refresh-stats`; the pages say
        # when they were counted (0: counted on every request, nothing kept).
        "STATS_CACHE_SECONDS": _env_int("OVERSIGHT_STATS_CACHE_SECONDS", 300),
        # How many reverse proxies in front set X-Forwarded-For / -Proto / -Host: the
        # client address (throttles, session protection) is read only through that many.
        "PROXY_HOPS": _env_int("OVERSIGHT_PROXY_HOPS", 0),
        # Host names this app answers to (comma-separated); empty: any (development).
        "TRUSTED_HOSTS": [h.strip() for h in os.environ.get("OVERSIGHT_TRUSTED_HOSTS", "")
                          .split(",") if h.strip()] or None,
        # A staff session ends after this long without a request, and this long after
        # login whatever the activity (README, "Configuration").
        "SESSION_IDLE_MINUTES": _env_int("OVERSIGHT_SESSION_IDLE_MINUTES", 30),
        "SESSION_MAX_HOURS": _env_int("OVERSIGHT_SESSION_MAX_HOURS", 12),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # Secure cookies whenever the public address is HTTPS, unless told otherwise.
        "SESSION_COOKIE_SECURE": os.environ.get(
            "OVERSIGHT_SECURE_COOKIES",
            "1" if os.environ.get("PUBLIC_BASE_URL", "").startswith("https://") else "0",
        ) == "1",
        "WTF_CSRF_TIME_LIMIT": None,
        # Search (see README, "Search"): the index folder, and whether this process indexes
        # its own commits (turn off under gunicorn and run `oversight index --follow`).
        "SEARCH_INDEX_DIR": os.environ.get("OVERSIGHT_SEARCH_DIR") or str(instance / "search"),
        "SEARCH_INLINE": os.environ.get("OVERSIGHT_SEARCH_INLINE", "1") != "0",
        "SEARCH_INLINE_LOCK_SECONDS": 2.0,
        "SEARCH_GAP_GRACE_SECONDS": _env_int("OVERSIGHT_SEARCH_GAP_GRACE_SECONDS", 60),
        "SEARCH_REBUILD_PROCS": _env_int("OVERSIGHT_SEARCH_REBUILD_PROCS", 1),
        "SEARCH_LIMITMB": _env_int("OVERSIGHT_SEARCH_LIMITMB", 256),
    }
    cfg.update(overrides)
    if not cfg["SECRET_KEY"]:
        cfg["SECRET_KEY"] = load_or_create_secret(instance)
    return cfg
