"""Evidence files: type sniffed from the content, size-checked, stored by content hash under
instance/ with a server-generated name, and recorded against a case."""

from __future__ import annotations

import hashlib
import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import filetype
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
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(content)
        os.replace(tmp, path)
    name = clean_name(upload.filename)
    att = Attachment(case_type=case.case_type, case_id=case.id, sha256=digest, mime=mime,
                     size=len(content), original_name=name,
                     uploaded_by_id=user_id, from_public=from_public)
    db.session.add(att)
    return att


def for_case(case: Any) -> list[Attachment]:
    return list(db.session.execute(
        db.select(Attachment).where(Attachment.case_type == case.case_type,
                                    Attachment.case_id == case.id).order_by(Attachment.id)
    ).scalars())
