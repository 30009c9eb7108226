"""Evidence files: type sniffed from the content, size-checked, stored by content hash under
instance/ with a server-generated name, and recorded against a case.

A file is written, and flushed to disk, before the transaction that records it commits, so
a committed row always has its file. A process killed in between leaves a file no row
references: ``sweep_orphans`` (``oversight sweep-attachments``) removes those."""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import filetype
import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from oversight.extensions import db
from oversight.models import Attachment
from oversight.services import image_meta

#: Allowed types by sniffed MIME, with the label used in messages. SVG and HTML are never
#: allowed: they can carry script.
ALLOWED = {
    "image/jpeg": _l("JPEG 图片"),
    "image/png": _l("PNG 图片"),
    "image/webp": _l("WebP 图片"),
    "image/gif": _l("GIF 图片"),
    "image/heic": _l("HEIC 图片"),
    "application/pdf": _l("PDF 文档"),
    "video/mp4": _l("MP4 视频"),
    "video/quicktime": _l("MOV 视频"),
    "video/webm": _l("WebM 视频"),
    "video/3gpp": _l("3GP 视频"),
}
ALLOWED_HINT = _l("图片（JPG、PNG、WebP、GIF、HEIC）、PDF 或视频（MP4、MOV、WebM、3GP）")


@dataclass(frozen=True)
class Upload:
    filename: str
    content: bytes


def filesize(n: int) -> str:
    """Human file size: KB below one megabyte, MB with at most one decimal above."""
    if n < 1024 * 1024:
        return f"{max(1, round(n / 1024))} KB"
    return f"{n / (1024 * 1024):.1f}".removesuffix(".0") + " MB"


def check(upload: Upload) -> tuple[str | None, str | None]:
    """Return (mime, None) for an acceptable file or (None, message)."""
    max_bytes = current_app.config["UPLOAD_MAX_BYTES"]
    if not upload.content:
        return None, _("文件「%(name)s」是空文件", name=upload.filename)
    if len(upload.content) > max_bytes:
        return None, _("文件「%(name)s」超过大小上限 %(size)s", name=upload.filename,
                       size=filesize(max_bytes))
    kind = filetype.guess(upload.content)
    mime = kind.mime if kind else None
    if mime not in ALLOWED:
        return None, _("文件「%(name)s」的类型不受支持，仅接受%(types)s", name=upload.filename,
                       types=ALLOWED_HINT)
    return mime, None


def clean_name(filename: str) -> str:
    """The name to show and to offer on download: the last path part, without control
    characters (a newline would break the download's header) and at most 200 characters.
    Files are stored by content hash, never under this name."""
    base = os.path.basename((filename or "").replace("\\", "/"))
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip()
    return base[:200] or "file"


def storage_path(sha256: str) -> Path:
    return Path(current_app.config["UPLOAD_FOLDER"]) / sha256[:2] / sha256


def store(case: Any, upload: Upload, mime: str, *, user_id: int | None,
          from_public: bool) -> Attachment:
    # Where the photo was taken goes before anything is kept (see image_meta).
    content = image_meta.scrub(upload.content, mime)
    digest = hashlib.sha256(content).hexdigest()
    path = storage_path(digest)
    _write(path, content)
    name = clean_name(upload.filename)
    att = Attachment(case_type=case.case_type, case_id=case.id, sha256=digest, mime=mime,
                     size=len(content), original_name=name,
                     uploaded_by_id=user_id, from_public=from_public)
    db.session.add(att)
    return att


#: Every process that writes evidence files holds this lock file (shared) from its first
#: write until it exits, since the transaction that records a file may still be open. A
#: sweep that gets it exclusively knows that no such transaction exists.
WRITERS_LOCK = ".writers.lock"
_writers_lock: dict[str, int] = {}
_writers_mutex = threading.Lock()


def _hold_writers_lock(root: Path) -> None:
    key = str(root)
    with _writers_mutex:
        if key in _writers_lock:
            return
        root.mkdir(parents=True, exist_ok=True)
        fd = os.open(root / WRITERS_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_SH)  # waits while a sweep runs
        # One upload folder per process in production; tests move from folder to folder,
        # and a folder left behind needs no lock.
        for old in _writers_lock.values():
            os.close(old)
        _writers_lock.clear()
        _writers_lock[key] = fd


def fsync_dir(path: Path) -> None:
    """Make a directory's entries (a file just created, renamed or removed) durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write(path: Path, content: bytes) -> None:
    """Put a file in place durably (before the commit that records it)."""
    root = path.parent.parent
    _hold_writers_lock(root)
    try:
        # The same evidence again: keep the file, but make it young, so a sweep running
        # now spares it; if a sweep has just removed it, it is written again below.
        os.utime(path)
        return
    except FileNotFoundError:
        pass
    if not path.parent.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
        fsync_dir(root)
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}-{threading.get_ident()}")
    with open(tmp, "wb") as fh:
        fh.write(content)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


@dataclass
class SweepResult:
    #: no process could have been writing: every unreferenced file was removed
    exact: bool
    #: removed files, relative to the upload folder
    removed: list[str] = field(default_factory=list)
    #: unreferenced files spared because they are younger than the grace period
    spared: int = 0


def _is_digest(name: str) -> bool:
    return len(name) == 64 and all(c in "0123456789abcdef" for c in name)


def sweep_orphans(grace_seconds: float = 3600) -> SweepResult:
    """Remove the evidence files no attachment row references: left by a process killed
    between writing a file and committing its row (and temporary files of a write cut
    short). Safe to run at any time, from cron or before the server starts.

    When no live process holds the writers lock (after a crash or a restart, before the
    first upload) no transaction can still be about to commit, so every unreferenced file
    goes, and a process that starts writing meanwhile waits for the sweep. Otherwise a file
    younger than ``grace_seconds`` is spared: its transaction may still be open. A file
    that becomes young while it is being removed (the same evidence uploaded again) is put
    back."""
    root = Path(current_app.config["UPLOAD_FOLDER"])
    if not root.is_dir():
        return SweepResult(exact=True)
    fd = os.open(root / WRITERS_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            exact = True
        except BlockingIOError:
            exact = False
        # The cutoff is taken before the rows are read: a file made young after it belongs
        # to a transaction that may commit after the read.
        cutoff = time.time() - (0 if exact else grace_seconds)
        referenced = set(db.session.execute(sa.select(Attachment.sha256).distinct()).scalars())
        result = SweepResult(exact=exact)
        for sub in sorted(p for p in root.iterdir() if p.is_dir() and len(p.name) == 2):
            for path in sorted(sub.iterdir()):
                _sweep_one(path, referenced, cutoff, exact, result)
        return result
    finally:
        os.close(fd)  # releases the lock


def _sweep_one(path: Path, referenced: set[str], cutoff: float, exact: bool,
               result: SweepResult) -> None:
    name = path.name
    digest, dot, _rest = name.partition(".")
    if not _is_digest(digest):
        return  # not ours
    if not dot and digest in referenced:
        return
    if dot and ".sweep" in name and digest in referenced:
        # A sweep stopped half-way through putting back a file in use.
        final = path.with_name(digest)
        if not final.exists():
            os.replace(path, final)
            return
    try:
        if path.lstat().st_mtime >= cutoff:
            result.spared += 1
            return
        if dot or exact:
            path.unlink()
        else:
            moved = path.with_name(f"{digest}.sweep")
            os.rename(path, moved)
            if moved.stat().st_mtime >= cutoff:
                os.replace(moved, path)  # uploaded again meanwhile: in use after all
                result.spared += 1
                return
            moved.unlink()
    except FileNotFoundError:
        return
    result.removed.append(f"{path.parent.name}/{name}")


def for_case(case: Any) -> list[Attachment]:
    return list(db.session.execute(
        db.select(Attachment).where(Attachment.case_type == case.case_type,
                                    Attachment.case_id == case.id).order_by(Attachment.id)
    ).scalars())
