"""Full-text search over every case record (issue 5): Whoosh with a Chinese analyzer.

- ``search`` and ``similar`` read; they are scoped to what the actor may open.
- ``index_pending`` is the single writer applying the search outbox; ``follow`` loops it;
  ``rebuild`` builds a fresh index from the database and swaps it in.

See README, "Search", for running it, and the modules for the design: ``analysis``
(rjieba words and bigrams), ``schema``, ``documents`` (one builder per case type),
``indexer`` (outbox, cursor, lock), ``store`` (directories, searchers), ``query`` (what
users may type, snippets) and ``service``.
"""

from oversight.search.indexer import follow, index_pending, rebuild
from oversight.search.service import Hit, SearchResult, search, similar, warm

__all__ = ["Hit", "SearchResult", "follow", "index_pending", "rebuild", "search", "similar",
           "warm"]
