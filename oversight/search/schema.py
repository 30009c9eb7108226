"""The index schema. Bump ``SCHEMA_VERSION`` whenever the schema, the analyzers or the
document builders change in a way that needs a rebuild: the indexer then rebuilds by itself
on its next pass (and ``oversight reindex`` always does).

Version 2 (issue 5 performance work): one text field instead of two. The rjieba word field
and the positions of the bigram field are gone; matching is done by ``engine`` (bigram
postings without positions, then an exact check of the candidates against the ``flat``
column), so every clause is an exact substring match, ignoring punctuation and spaces.
"""

from __future__ import annotations

from whoosh import columns
from whoosh.codec.whoosh3 import W3Codec
from whoosh.fields import COLUMN, ID, KEYWORD, STORED, TEXT, Schema

from oversight.search.analysis import bigram_analyzer

SCHEMA_VERSION = 2


def build_schema() -> Schema:
    return Schema(
        # "complaint:12": the unique key every update replaces by (and the case type and id
        # of a hit, with ``case_id``)
        key=ID(unique=True, stored=True, sortable=True),
        case_id=STORED(),
        number=STORED(),
        # The ids of the case's organ and all its ancestors ("1 4 9" for the path
        # "/1/4/9/"), so an organ's whole subtree is ONE term: organ_path:4. The only term
        # looked up besides the key and the text: every other filter and facet reads a
        # column (cached per segment by ``engine``), and each indexed value costs a trip
        # through Whoosh's analysis and posting pool when indexing.
        organ_path=KEYWORD(),
        case_type=COLUMN(columns.VarBytesColumn()),
        organ_id=COLUMN(columns.VarBytesColumn()),
        state=COLUMN(columns.VarBytesColumn()),
        # ``whoosh.util.times.datetime_to_long`` of the naive UTC creation time (a numeric
        # field would index four terms a value for range queries)
        created=COLUMN(columns.NumericColumn("Q")),
        # pack category codes, "a,b"
        category_set=COLUMN(columns.VarBytesColumn()),
        # badge numbers and officer names are found through the text; stored for reading
        badge=STORED(),
        officer=STORED(),
        title=STORED(),
        # All searchable text, stored once for the snippets of the page shown.
        text=STORED(),
        # The same text as the bigram field sees it (``analysis.flatten``: NFKC, lower case,
        # no punctuation or spaces), UTF-8: what a candidate is checked against.
        flat=COLUMN(columns.VarBytesColumn()),
        # Number of characters of ``flat``: the document length for ranking.
        length=COLUMN(columns.NumericColumn("I")),
        # Frequencies only (the term counts rank the hits): no positions, which were most
        # of the index and of the query time. Its value is the ``fold``-ed text.
        bigram=TEXT(analyzer=bigram_analyzer(), phrase=False),
    )


def codec() -> W3Codec:
    """The Whoosh codec every writer uses: uncompressed posting blocks (a query reads few of
    them; zlib cost more than it saved), and no per-posting
    field-length statistics (they feed Whoosh's own BM25 block skipping, which ``engine``
    does not use, and reading them was a fifth of the indexing time). A plain W3Codec with
    an instance attribute, so the segments that pickle it need no import path of ours."""
    c = W3Codec(compression=0)
    c.length_stats = False
    return c
