"""The unit of work: one commit per request or command, rollback on any exception."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from oversight.extensions import db
from oversight.services import mail


@contextlib.contextmanager
def unit_of_work() -> Iterator[None]:
    try:
        yield
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    mail.drain_after_commit()
