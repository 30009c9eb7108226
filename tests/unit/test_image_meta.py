"""Location metadata leaves photos and videos, and nothing else does: real JPEG, PNG and
WebP files written by Pillow with a GPS position, an orientation and the date taken; a
HEIF-style EXIF item; an MP4 with an ISO 6709 position. Pillow reads the result back."""

from __future__ import annotations

import io
import struct

import pytest
from image_fixtures import LAT, TAKEN, exif_with_gps, photo
from PIL import Image

from oversight.services.image_meta import scrub


def lat_bytes(order: str) -> bytes:
    return b"".join(struct.pack(order + "II", *pair) for pair in LAT)


@pytest.mark.parametrize("fmt, mime", [("JPEG", "image/jpeg"), ("PNG", "image/png"),
                                       ("WEBP", "image/webp")])
def test_gps_goes_and_the_rest_stays(fmt, mime):
    original = photo(fmt)
    before = Image.open(io.BytesIO(original))
    assert before.getexif().get_ifd(0x8825)  # the fixture really carries a position
    assert lat_bytes("<") in original or lat_bytes(">") in original

    cleaned = scrub(original, mime)

    assert len(cleaned) == len(original) or fmt == "PNG"
    assert lat_bytes("<") not in cleaned and lat_bytes(">") not in cleaned
    after = Image.open(io.BytesIO(cleaned))
    exif = after.getexif()
    assert not exif.get_ifd(0x8825)
    assert exif[0x0112] == 6 and exif[0x0132] == TAKEN
    assert after.tobytes() == Image.open(io.BytesIO(original)).tobytes()  # not re-encoded


def test_a_photo_without_metadata_is_unchanged():
    out = io.BytesIO()
    Image.new("RGB", (4, 4)).save(out, format="JPEG")
    assert scrub(out.getvalue(), "image/jpeg") == out.getvalue()


def test_xmp_is_blanked_in_a_jpeg():
    out = io.BytesIO()
    xmp = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description '
           b'exif:GPSLatitude="39,54.25N" exif:GPSLongitude="116,24.45E"/></rdf:RDF>'
           b"</x:xmpmeta>")
    Image.new("RGB", (4, 4)).save(out, format="JPEG", xmp=xmp)
    cleaned = scrub(out.getvalue(), "image/jpeg")
    assert b"GPSLatitude" not in cleaned and len(cleaned) == len(out.getvalue())
    Image.open(io.BytesIO(cleaned)).load()


def test_a_heif_exif_item_is_found_by_its_header():
    tiff = exif_with_gps().tobytes()  # b"Exif\0\0" + TIFF
    ftyp = struct.pack(">I", 24) + b"ftypheic" + b"\0\0\0\0" + b"mif1heic"
    item = b"\0\0\0\x06" + tiff
    fake = ftyp + struct.pack(">I", 8 + len(item)) + b"mdat" + item
    cleaned = scrub(fake, "image/heic")
    assert len(cleaned) == len(fake)
    assert lat_bytes("<") not in cleaned and lat_bytes(">") not in cleaned
    exif = Image.Exif()
    exif.load(cleaned[cleaned.index(b"Exif\0\0"):])
    assert not exif.get_ifd(0x8825) and exif[0x0112] == 6


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def test_a_video_position_goes_but_the_media_data_is_untouched():
    where = b"+39.9042+116.4074+044.000/"
    xyz = box(b"\xa9xyz", struct.pack(">HH", len(where), 0x15C7) + where)
    moov = box(b"moov", box(b"udta", xyz) + box(b"meta", b"\0\0\0\0" + box(
        b"ilst", box(b"data", b"\0\0\0\x01\0\0\0\0" + b"-33.8688+151.2093/"))))
    media = b"frame bytes +12.3456+123.4567/ more frames"
    video = box(b"ftyp", b"isom\0\0\x02\0isomiso2mp41") + moov + box(b"mdat", media)
    cleaned = scrub(video, "video/mp4")
    assert len(cleaned) == len(video)
    assert where not in cleaned and b"-33.8688+151.2093/" not in cleaned
    assert b"+00.0000+000.0000+000.000/" in cleaned
    assert media in cleaned


@pytest.mark.parametrize("mime", ["image/jpeg", "image/png", "image/webp", "image/heic",
                                  "video/mp4"])
def test_lying_structures_never_crash_or_grow(mime):
    original = photo("JPEG") if mime == "image/jpeg" else photo("PNG")
    for cut in (10, 40, 120, len(original) // 2):
        damaged = original[:cut] + b"\xff\xff\xff\xff" * 8 + original[cut + 32:]
        cleaned = scrub(damaged, mime)
        assert len(cleaned) <= len(damaged)


def test_other_types_pass_through():
    pdf = b"%PDF-1.4\n1 0 obj<</GPS (+39.9042+116.4074/)>>endobj\n%%EOF\n"
    assert scrub(pdf, "application/pdf") == pdf
