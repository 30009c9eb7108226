"""A worker's resident memory and the search index (issue 8: RSS ≤ 150 MB a worker).

The index is read through ``mmap``; the pages a request read must not stay mapped in the
worker once the searcher is checked back in (``MappedFileStorage.release_pages``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import user
from search_helpers import complain

from oversight.search import index_pending, search, similar
from oversight.search.store import index_root, pool_for

pytestmark = pytest.mark.search


def mapped_kb(folder: Path) -> int:
    """Resident kB of this process's mappings of the files under ``folder``, from
    ``/proc/self/smaps`` (Linux, where CI and production run)."""
    total, inside = 0, False
    prefix = str(folder.resolve())
    for line in Path("/proc/self/smaps").read_text().splitlines():
        fields = line.split()
        if not fields:
            continue
        if "-" in fields[0] and not fields[0].endswith(":"):  # a mapping's header line
            inside = len(fields) > 5 and fields[5].startswith(prefix)
        elif inside and fields[0] == "Rss:":
            total += int(fields[1])
    return total


def test_the_pages_a_request_read_are_unmapped_when_its_searcher_is_checked_in(app, demo):
    cases = [complain(narrative=f"辅警在路口执勤时态度蛮横，辱骂群众并推搡第{i}人。")
             for i in range(5)]
    index_pending()
    root = index_root()
    with pool_for(root).searcher() as (_ident, searcher):
        assert searcher.stored_fields(0)["key"]
        assert mapped_kb(root) > 0  # read through the mapped files
    assert mapped_kb(root) == 0

    inspector = user("inspector")
    assert search(inspector, "态度蛮横").total == 5
    assert similar(inspector, cases[0])
    assert mapped_kb(root) == 0
