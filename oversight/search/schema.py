"""The index schema. Bump ``SCHEMA_VERSION`` whenever the schema, the analyzers or the
document builders change in a way that needs a rebuild: the indexer then rebuilds by itself
on its next pass (and ``oversight reindex`` always does)."""

from __future__ import annotations

from whoosh.fields import DATETIME, ID, KEYWORD, NUMERIC, STORED, TEXT, Schema

from oversight.search.analysis import bigram_analyzer, word_analyzer

SCHEMA_VERSION = 1


def build_schema() -> Schema:
    return Schema(
        # "complaint:12": the unique key every update replaces by
        key=ID(unique=True, stored=True, sortable=True),
        case_type=ID(stored=True, sortable=True),
        case_id=NUMERIC(stored=True, bits=64),
        number=ID(stored=True),
        organ_id=ID(stored=True, sortable=True),
        # The ids of the case's organ and all its ancestors ("1 4 9" for the path
        # "/1/4/9/"), so an organ's whole subtree is ONE term: organ_path:4.
        organ_path=KEYWORD(),
        state=ID(stored=True, sortable=True),
        created=DATETIME(stored=True, sortable=True),
        badge=KEYWORD(stored=True, lowercase=True, commas=True),
        officer=KEYWORD(stored=True, commas=True),
        # pack category codes; stored so facets can read them without the database
        categories=KEYWORD(stored=True, commas=True),
        # the same codes as one column value, read for facet counts without stored fields
        category_set=ID(sortable=True),
        title=STORED(),
        # All searchable text, stored once for snippets.
        text=TEXT(analyzer=word_analyzer(), stored=True, phrase=True),
        bigram=TEXT(analyzer=bigram_analyzer(), phrase=True),
    )
