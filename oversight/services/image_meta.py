"""Remove where a photo or video was taken before it is stored.

A phone writes its GPS position into every photo (the EXIF GPS directory) and video (an
ISO 6709 string such as ``+39.9042+116.4074/`` in the QuickTime/MP4 metadata). A
complainant's photo of an incident may have been taken from their home; the accused
officer's side may later see the file. So the position goes, and nothing else does.

Everything is done in place, byte for byte the same length: the GPS directory's entries
and the values they point to are zeroed (an empty directory remains), XMP packets (which may
repeat the position) are blanked with spaces, and ISO 6709 digits become zeros. Offsets
inside the file never move, so no image is re-encoded and the pixels, the date taken and
the orientation stay exactly as the camera wrote them. PNG chunks get their CRC
recomputed. A file whose structure is not understood is left as it is (it has been type-
sniffed already); a malformed structure is never followed outside its bounds.
"""

from __future__ import annotations

import re
import struct
import zlib

GPS_IFD_TAG = 0x8825
TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8,
              13: 4, 16: 8, 17: 8, 18: 8}
EXIF_HEADER = b"Exif\x00\x00"
XMP_START = re.compile(rb"<x:xmpmeta|<x:xapmeta")
XMP_END = re.compile(rb"</x:xmpmeta>|</x:xapmeta>")
#: ISO 6709 point as written by phones: +DD.DDDD+DDD.DDDD[+AAA.AAA][CRS]/
ISO6709 = re.compile(rb"[+-]\d{2}(?:\.\d+)?[+-]\d{3}(?:\.\d+)?(?:[+-]\d+(?:\.\d+)?)?(?:CRS[^/]*)?/")


def scrub(content: bytes, mime: str) -> bytes:
    """``content`` without location metadata (the same bytes if there was none)."""
    handler = HANDLERS.get(mime)
    if handler is None:
        return content
    buf = bytearray(content)
    try:
        handler(buf)
    except (IndexError, struct.error, ValueError):
        # A structure that lies about its own sizes: fall back to the format-free scan,
        # which never reads outside the buffer.
        buf = bytearray(content)
        _scan_exif(buf, 0, len(buf))
        _blank_xmp(buf, 0, len(buf))
    return bytes(buf)


# --- TIFF / EXIF ---------------------------------------------------------------------------

def _scrub_tiff(buf: bytearray, start: int, end: int) -> None:
    """Zero the GPS directory of the TIFF structure at ``buf[start:end]`` and cut the
    pointer to it from IFD0 (and from any further IFD in the chain)."""
    if end - start < 8:
        return
    order = bytes(buf[start:start + 2])
    if order == b"II":
        fmt = "<"
    elif order == b"MM":
        fmt = ">"
    else:
        return
    if struct.unpack_from(fmt + "H", buf, start + 2)[0] != 42:
        return
    ifd = struct.unpack_from(fmt + "I", buf, start + 4)[0]
    seen: set[int] = set()
    while ifd and ifd not in seen and start + ifd + 2 <= end:
        seen.add(ifd)
        at = start + ifd
        count = struct.unpack_from(fmt + "H", buf, at)[0]
        if at + 2 + count * 12 + 4 > end:
            return
        for i in range(count):
            entry = at + 2 + i * 12
            tag = struct.unpack_from(fmt + "H", buf, entry)[0]
            if tag == GPS_IFD_TAG:
                gps = struct.unpack_from(fmt + "I", buf, entry + 8)[0]
                # The entry keeps pointing at the directory, now empty (a count of 0):
                # readers see no position, and the file's structure stays valid.
                _zero_ifd(buf, fmt, start, end, gps)
        ifd = struct.unpack_from(fmt + "I", buf, at + 2 + count * 12)[0]


def _zero_ifd(buf: bytearray, fmt: str, start: int, end: int, offset: int) -> None:
    at = start + offset
    if offset == 0 or at + 2 > end:
        return
    count = struct.unpack_from(fmt + "H", buf, at)[0]
    entries_end = at + 2 + count * 12
    if entries_end > end:
        return
    for i in range(count):
        entry = at + 2 + i * 12
        kind, n = struct.unpack_from(fmt + "HI", buf, entry + 2)
        size = TYPE_SIZES.get(kind, 1) * n
        if size > 4:
            value = start + struct.unpack_from(fmt + "I", buf, entry + 8)[0]
            if start <= value and value + size <= end:
                buf[value:value + size] = bytes(size)
    buf[at:entries_end] = bytes(entries_end - at)  # a count of 0, no entries


def _scan_exif(buf: bytearray, start: int, end: int) -> None:
    """Every ``Exif\\0\\0`` + TIFF header in the range (HEIF items, damaged files)."""
    at = buf.find(EXIF_HEADER, start, end)
    while at != -1:
        tiff = at + len(EXIF_HEADER)
        if bytes(buf[tiff:tiff + 4]) in (b"II*\x00", b"MM\x00*"):
            _scrub_tiff(buf, tiff, end)
        at = buf.find(EXIF_HEADER, at + 1, end)


def _blank_xmp(buf: bytearray, start: int, end: int) -> None:
    pos = start
    while (found := XMP_START.search(buf, pos, end)) is not None:
        close = XMP_END.search(buf, found.end(), end)
        stop = close.end() if close else end
        buf[found.start():stop] = b" " * (stop - found.start())
        pos = stop


# --- containers ----------------------------------------------------------------------------

def _jpeg(buf: bytearray) -> None:
    at = 2  # after SOI
    while at + 4 <= len(buf) and buf[at] == 0xFF:
        marker = buf[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            at += 2
            continue
        if marker in (0xDA, 0xD9):  # start of scan / end: no metadata beyond this point
            return
        length = struct.unpack_from(">H", buf, at + 2)[0]
        body, end = at + 4, min(at + 2 + length, len(buf))
        if marker == 0xE1:
            if buf[body:body + 6] == EXIF_HEADER:
                _scrub_tiff(buf, body + 6, end)
            else:
                _blank_xmp(buf, body, end)
        at = at + 2 + length


def _png(buf: bytearray) -> None:
    """PNG has no absolute offsets, so here chunks may also go: ImageMagick's compressed
    "Raw profile type exif/xmp" text chunks cannot be edited in place and are dropped."""
    out = bytearray(buf[:8])
    at = 8
    while at + 12 <= len(buf):
        length = struct.unpack_from(">I", buf, at)[0]
        kind = bytes(buf[at + 4:at + 8])
        end = at + 8 + length
        if end + 4 > len(buf):
            break  # a truncated chunk: the rest is kept as it is
        chunk = bytearray(buf[at:end + 4])
        if kind in (b"tEXt", b"zTXt", b"iTXt") and chunk[8:].startswith(b"Raw profile type "):
            at = end + 4
            continue
        if kind == b"eXIf":
            _scrub_tiff(chunk, 8, 8 + length)
        elif kind in (b"tEXt", b"iTXt"):
            _blank_xmp(chunk, 8, 8 + length)
        if chunk != buf[at:end + 4]:
            struct.pack_into(">I", chunk, 8 + length, zlib.crc32(chunk[4:8 + length]))
        out += chunk
        at = end + 4
        if kind == b"IEND":
            break
    out += buf[at:]
    buf[:] = out


def _webp(buf: bytearray) -> None:
    if buf[:4] != b"RIFF" or buf[8:12] != b"WEBP":
        return
    at = 12
    while at + 8 <= len(buf):
        kind = bytes(buf[at:at + 4])
        size = struct.unpack_from("<I", buf, at + 4)[0]
        body, end = at + 8, min(at + 8 + size, len(buf))
        if kind == b"EXIF":
            tiff = body + 6 if buf[body:body + 6] == EXIF_HEADER else body
            _scrub_tiff(buf, tiff, end)
        elif kind == b"XMP ":
            _blank_xmp(buf, body, end)
        at = body + size + (size & 1)


def _heif(buf: bytearray) -> None:
    # HEIF keeps EXIF as an item ("Exif\0\0" + TIFF) and XMP as a mime item; both are found
    # by their own headers, which never occur by chance in the compressed image data.
    _scan_exif(buf, 0, len(buf))
    _blank_xmp(buf, 0, len(buf))


def _iso_media(buf: bytearray) -> None:
    """MP4 / MOV / 3GP: every top-level box except the media data itself."""
    at = 0
    while at + 8 <= len(buf):
        size = struct.unpack_from(">I", buf, at)[0]
        kind = bytes(buf[at + 4:at + 8])
        header = 8
        if size == 1:
            size = struct.unpack_from(">Q", buf, at + 8)[0]
            header = 16
        elif size == 0:
            size = len(buf) - at
        if size < header:
            return
        end = min(at + size, len(buf))
        if kind != b"mdat":
            for found in ISO6709.finditer(buf, at + header, end):
                digits = re.sub(rb"\d", b"0", found.group())
                buf[found.start():found.end()] = digits
            _scan_exif(buf, at + header, end)
            _blank_xmp(buf, at + header, end)
        at += size


HANDLERS = {
    "image/jpeg": _jpeg,
    "image/png": _png,
    "image/webp": _webp,
    "image/heic": _heif,
    "video/mp4": _iso_media,
    "video/quicktime": _iso_media,
    "video/3gpp": _iso_media,
}
