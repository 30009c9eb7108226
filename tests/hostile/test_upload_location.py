"""A complainant's photo loses its GPS position before it is stored: the file the staff
download (and that anyone downloading later would get) carries no position, while the
date taken and the orientation are still there as evidence."""

from __future__ import annotations

import io

from hostile_helpers import complaint_form, download, post_form, stored
from image_fixtures import TAKEN, photo
from PIL import Image


def test_a_public_photo_is_stored_without_its_position(app, demo):
    original = photo("JPEG")
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)
    response = post_form(app.test_client(), "/complaints/new", complaint_form(),
                         files=[(original, "现场.jpg")])
    assert response.status_code == 200
    [att] = stored()
    served = download(app, demo, att).data
    exif = Image.open(io.BytesIO(served)).getexif()
    assert not exif.get_ifd(0x8825)
    assert exif[0x0112] == 6 and exif[0x0132] == TAKEN
    assert att.size == len(served)
