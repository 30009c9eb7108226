"""Where the index lives, who may write it, and the searchers readers share.

Layout of ``SEARCH_INDEX_DIR`` (``instance/search`` by default)::

    write.lock     fcntl lock: held by the one process writing (or swapping) an index
    CURRENT        the name of the live index directory, replaced atomically by a rebuild
    ix-<stamp>/    a Whoosh index plus ``cursor.json``: the last outbox seq it reflects

A rebuild writes a fresh ``ix-…`` directory and then swaps ``CURRENT`` under the lock, so
readers never see a half-built index. The directory replaced last is kept (a reader in
another process may still be using it) and older ones are removed.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import logging
import mmap
import os
import secrets
import shutil
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

from whoosh import index as whoosh_index
from whoosh.filedb.filestore import FileStorage
from whoosh.filedb.structfile import StructFile
from whoosh.index import _DEF_INDEX_NAME, TOC

from oversight.search.schema import SCHEMA_VERSION, build_schema

log = logging.getLogger(__name__)

CURRENT = "CURRENT"
LOCK = "write.lock"
CURSOR = "cursor.json"


def index_root() -> Path:
    from flask import current_app

    return Path(current_app.config["SEARCH_INDEX_DIR"])


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def current_name(root: Path) -> str | None:
    try:
        name = (root / CURRENT).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return name if name and (root / name).is_dir() else None


def read_cursor(ixdir: Path) -> int | None:
    """The outbox seq an index reflects, or None when it is missing or of another schema."""
    try:
        data = json.loads((ixdir / CURSOR).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    if data.get("schema") != SCHEMA_VERSION:
        return None
    return int(data["seq"])


def write_cursor(ixdir: Path, seq: int) -> None:
    """Persist the cursor: always AFTER the index commit it describes."""
    _atomic_write(ixdir / CURSOR, json.dumps({"seq": seq, "schema": SCHEMA_VERSION}))


def live_index_dir(root: Path) -> Path | None:
    """The live index directory, or None when there is none usable (missing, or built for
    another schema version): then the indexer rebuilds."""
    name = current_name(root)
    if name is None or read_cursor(root / name) is None:
        return None
    return root / name


#: How long a file no commit uses any more stays on disk for searchers opened before: well
#: beyond a request (gunicorn kills a worker after 30 s by default).
KEEP_UNUSED_SECONDS = 120


_UNUSED = ".unused-"
#: the name of a table of contents, as Whoosh itself matches it (our one index is its
#: default, MAIN)
_TOC = TOC._pattern(_DEF_INDEX_NAME)
#: {(index folder, file name): when a commit first left it unused}, read from the markers
#: once per process.
_UNUSED_SINCE: dict[tuple[str, str], float] = {}


class MappedFileStorage(FileStorage):
    """A Whoosh ``FileStorage`` whose files are read through ``mmap``: every posting block
    and column value ``engine`` reads is then a memory copy instead of a seek and a read
    system call (the index is written as separate files per segment: Whoosh's compound
    files are mmapped too, but copied whole into memory each time a searcher opens them)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        #: the files this storage mapped and has not closed (for ``release_pages``)
        self._maps: weakref.WeakSet[mmap.mmap] = weakref.WeakSet()

    def open_file(self, name, **kwargs):
        with open(self._fpath(name), "rb") as fh:
            try:
                mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
            except ValueError:  # an empty file cannot be mapped
                return super().open_file(name, **kwargs)
        self._maps.add(mapped)
        return StructFile(mapped, name=name, **kwargs)

    def release_pages(self) -> None:
        """Let go of the pages a request mapped: the searcher pool calls this as each
        searcher is checked back in.

        A mapped page a process has read stays in its resident memory (RSS) until the
        file is closed, and a searcher's files stay open for the whole index generation.
        The kernel also maps whole folios of page cache (up to megabytes), not just the
        4 kB asked for. So a worker's RSS grew with every posting block, stored field and
        ``flat`` text any request had read: at a million documents, 118 MB of mapped index
        after fifty case pages and seven searches, on top of the 150 MB of its own.

        ``MADV_DONTNEED`` on a read-only file mapping only unmaps: the pages stay in the
        page cache, shared by all processes, and the next read maps them again (a minor
        fault, no disk read). Measured at a million documents, no change in the time of
        the search or the case page (``bench/pages.py``). A map another thread is reading
        is safe to release for the same reason."""
        if not hasattr(mmap, "MADV_DONTNEED"):  # not Linux or BSD: nothing to do
            return
        for mapped in list(self._maps):
            with contextlib.suppress(ValueError):  # closed meanwhile
                mapped.madvise(mmap.MADV_DONTNEED)

    def list(self):
        """The index's files, less those a commit left unused less than
        ``KEEP_UNUSED_SECONDS`` ago (and their markers): Whoosh tries to delete every file
        ``list`` names at each commit, so without this a busy index retried thousands of
        kept files per commit (in-process indexing after each submission fell from 13 to
        200 ms). A kept file's time is read from its marker once per process.

        Older tables of contents (``_MAIN_<generation>.toc``, one per commit) stay listed:
        a reader finds the newest generation by listing the folder, and a listing taken
        while the indexer renames its new table into place may miss that name (the
        order of a directory scan that runs during a rename is unspecified). With the
        older tables hidden the reader then saw none: "Index 'MAIN' does not exist", a
        500 on the case page and the search under the soak on a loaded machine. Listed,
        it opens the generation before, whose files are kept, and a later request finds
        the newer one."""
        names = super().list()
        marked = {n[len(_UNUSED):] for n in names if n.startswith(_UNUSED)}
        if not marked:
            return names
        now = time.time()
        kept = {n for n in marked if not _TOC.match(n)
                and now - self._unused_since(n) < KEEP_UNUSED_SECONDS}
        return [n for n in names if n not in kept and not n.startswith(_UNUSED)]

    def _unused_since(self, name: str) -> float:
        key = (self.folder, name)
        since = _UNUSED_SINCE.get(key)
        if since is None:
            try:
                since = os.stat(self._fpath(_UNUSED + name)).st_mtime
            except FileNotFoundError:
                return 0.0  # deleted by another process meanwhile
            _UNUSED_SINCE[key] = since
        return since

    def delete_file(self, name):
        """Whoosh deletes the files of merged segments at the commit, but a searcher opened
        before it opens some of them only on first use (stored fields, columns): gone, the
        read failed (the case page's similar cases answered 500 under the soak,
        bench/soak.py) or a column read as empty. So a file is deleted only once it has
        been unused for ``KEEP_UNUSED_SECONDS`` (an empty ``.unused-<name>`` marker keeps
        the time a commit first left it unused); until then this refuses the way Whoosh
        expects of a file still open (OSError) and a later commit deletes it."""
        marker = self._fpath(_UNUSED + name)
        try:
            since = os.stat(marker).st_mtime
        except FileNotFoundError:
            open(marker, "wb").close()
            since = time.time()
        _UNUSED_SINCE[(self.folder, name)] = since
        if time.time() - since < KEEP_UNUSED_SECONDS:
            raise OSError(f"{name} is kept while searchers opened before may read it")
        with contextlib.suppress(FileNotFoundError):
            super().delete_file(name)
        with contextlib.suppress(FileNotFoundError):
            os.remove(marker)
        _UNUSED_SINCE.pop((self.folder, name), None)


def open_index(path: Path):
    return MappedFileStorage(str(path)).open_index()


def new_index_dir(root: Path):
    """Create an empty index in a fresh ``build-…`` directory; return (path, index).
    Only ``swap`` turns it into a live ``ix-…`` directory."""
    root.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime())
    path = root / f"build-{stamp}-{secrets.token_hex(3)}"
    path.mkdir()
    return path, whoosh_index.create_in(str(path), build_schema())


#: An unfinished ``build-…`` directory older than this was left by a crashed rebuild.
STALE_BUILD_SECONDS = 24 * 3600


def swap(root: Path, build_dir: Path) -> Path:
    """Make a finished build live (the caller holds the write lock); prune directories no
    reader can need any more. Returns the live directory."""
    live = root / ("ix-" + build_dir.name.removeprefix("build-"))
    os.rename(build_dir, live)
    previous = current_name(root)
    _atomic_write(root / CURRENT, live.name)
    keep = {live.name, previous}
    for child in root.iterdir():
        if not child.is_dir() or child.name in keep:
            continue
        stale_build = (child.name.startswith("build-")
                       and child.stat().st_mtime < time.time() - STALE_BUILD_SECONDS)
        if child.name.startswith("ix-") or stale_build:
            shutil.rmtree(child, ignore_errors=True)
    return live


@contextlib.contextmanager
def writer_lock(root: Path, timeout: float | None = None) -> Iterator[bool]:
    """Hold the inter-process write lock. Yields True when held; with a ``timeout``, yields
    False if another writer kept it that long (the caller then does nothing)."""
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if timeout is None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        else:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        yield False
                        return
                    time.sleep(0.02)
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


# --- searchers shared by the requests of one process ----------------------------------------


class SearcherPool:
    """Open searchers on the live index of one root, reused across requests.

    A request checks a searcher out and back in, so threads never share one at the same
    time. On checkout a searcher that is no longer current (the index committed a new
    generation, or a rebuild swapped the directory) is closed and a fresh one is opened.
    """

    MAX_IDLE = 4

    def __init__(self, root: Path):
        self.root = root
        self._lock = threading.Lock()
        self._idle: list[tuple[str, object]] = []  # (directory name, searcher)
        self._indexes: dict[str, object] = {}
        self._usable_names: set[str] = set()

    def _usable(self, name: str) -> bool:
        """Built for this schema version (an older index is not read: the indexer's next
        pass rebuilds it)."""
        if name in self._usable_names:
            return True
        if read_cursor(self.root / name) is None:
            return False
        self._usable_names.add(name)
        return True

    def _fresh(self, name: str, searcher) -> bool:
        try:
            return searcher.up_to_date()
        except OSError:  # its directory was pruned
            return False

    @contextlib.contextmanager
    def searcher(self) -> Iterator[tuple[tuple, object | None]]:
        """Yield ``(identity, searcher)``: a current searcher, or None when there is no index
        yet. ``identity`` names the index generation the searcher reads (per-generation
        caches key on it: document numbers change with every generation)."""
        name = current_name(self.root)
        if name is None or not self._usable(name):
            yield (), None
            return
        chosen = None
        with self._lock:
            while self._idle:
                idle_name, s = self._idle.pop()
                if idle_name == name and self._fresh(name, s):
                    chosen = s
                    break
                s.close()
            if chosen is None:
                ix = self._indexes.get(name)
                if ix is None:
                    ix = open_index(self.root / name)
                    self._indexes = {name: ix}
                chosen = ix.searcher()
        try:
            yield (str(self.root), name, chosen.ixreader.generation()), chosen
        finally:
            with self._lock:
                if len(self._idle) < self.MAX_IDLE and current_name(self.root) == name:
                    self._idle.append((name, chosen))
                else:
                    chosen.close()
            ix = self._indexes.get(name)
        if ix is not None:
            ix.storage.release_pages()

    def close(self) -> None:
        with self._lock:
            for _name, s in self._idle:
                s.close()
            self._idle.clear()
            self._indexes.clear()


_pools: OrderedDict[str, SearcherPool] = OrderedDict()
_pools_lock = threading.Lock()
#: Pools kept open per process (tests create one instance folder per test).
MAX_POOLS = 4


def pool_for(root: Path) -> SearcherPool:
    key = str(root)
    with _pools_lock:
        pool = _pools.get(key)
        if pool is None:
            pool = _pools[key] = SearcherPool(root)
            while len(_pools) > MAX_POOLS:
                _key, old = _pools.popitem(last=False)
                old.close()
        else:
            _pools.move_to_end(key)
        return pool


@atexit.register
def close_all() -> None:
    with _pools_lock:
        for pool in _pools.values():
            pool.close()
        _pools.clear()
