"""Security-relevant refusals, logged one line each to the ``oversight.security`` logger.

Values are written with ``repr``-style escaping, so text a user typed (a reason with a
newline, a forged "user=1" fragment) can never start a new log line or pass for a field.
Nothing personal is logged: user ids, case types and ids, triggers and the refusal.
"""

from __future__ import annotations

import logging

logger = logging.getLogger("oversight.security")


def _clean(value: object) -> str:
    text = str(value)
    return text.encode("unicode_escape").decode("ascii").replace(" ", "\\x20")[:300]


def log(event: str, **fields: object) -> None:
    """``denied_view case=complaint:12 user=4``; every value escaped, one line."""
    parts = " ".join(f"{key}={_clean(value)}" for key, value in fields.items())
    logger.warning("%s %s", event, parts)
