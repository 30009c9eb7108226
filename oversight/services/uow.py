"""The unit of work: one commit per request or command, rollback on any exception."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from oversight.extensions import db
from oversight.search import indexer as search_indexer
from oversight.services import mail
from oversight.storage import begin_writing, write_intent, writer_turn


@contextlib.contextmanager
def unit_of_work() -> Iterator[None]:
    # On SQLite the write lock is taken here, not where the request first read, and
    # writers wait for it in line (oversight.storage).
    session = db.session()
    begin_writing(session)
    with writer_turn(session):
        try:
            # On SQLite a transaction begun here is IMMEDIATE (see oversight.storage).
            with write_intent():
                yield
            session.commit()
        except BaseException:
            session.rollback()
            raise
    mail.drain_after_commit()
    search_indexer.drain_after_commit()
