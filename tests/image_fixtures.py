"""Photos with a GPS position, written by Pillow, for the location-stripping tests."""

from __future__ import annotations

import io

from PIL import Image
from PIL.TiffImagePlugin import IFDRational

LAT = ((39, 1), (54, 1), (1523, 100))  # 39°54'15.23"
LON = ((116, 1), (24, 1), (2688, 100))
TAKEN = "2026:11:20 21:43:07"


def rationals(pairs) -> tuple:
    return tuple(IFDRational(n, d) for n, d in pairs)


def exif_with_gps() -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90
    exif[0x0132] = TAKEN
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", rationals(LAT), "E", rationals(LON)
    gps[6] = IFDRational(44, 1)
    return exif


def photo(fmt: str) -> bytes:
    image = Image.new("RGB", (16, 12))
    for x in range(16):
        for y in range(12):
            image.putpixel((x, y), (x * 15, y * 20, 128))
    out = io.BytesIO()
    extra = {"quality": 95} if fmt == "JPEG" else {}
    image.save(out, format=fmt, exif=exif_with_gps(), **extra)
    return out.getvalue()
