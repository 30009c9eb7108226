"""A file download's own Content-Security-Policy (``sandbox; default-src 'none'``, set in
staff.download in place of the app-wide policy) still forbids framing with
``frame-ancestors 'none'``, not only with the legacy X-Frame-Options: DENY."""

from __future__ import annotations

from helpers import PNG_BYTES, Upload, make_complaint
from hostile_helpers import attachments_of, download


def test_a_download_carries_frame_ancestors(app, demo):
    complaint, _code = make_complaint(files=[Upload("现场.png", PNG_BYTES)])
    response = download(app, demo, attachments_of(complaint)[0])
    assert response.status_code == 200
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
