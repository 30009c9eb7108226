"""A file name carrying a newline or another control character (sent as
``filename*=UTF-8''a%0Ab.png``, which Werkzeug decodes) is neutralised when stored, so
the file is listed and downloaded like any other (a newline in Content-Disposition would
make the download fail)."""

from __future__ import annotations

import pytest
from helpers import PNG_BYTES, login
from hostile_helpers import (
    assert_inert_download,
    complaint_form,
    download,
    post_form,
    stored,
)


@pytest.mark.parametrize("name", ["a\nb.png", "a\r\nSet-Cookie: x=1.png", "tab\there\x00.png"],
                         ids=["newline", "crlf-header", "control-chars"])
def test_control_characters_in_file_names_are_neutralised(app, demo, name):
    response = post_form(app.test_client(), "/complaints/new", complaint_form(),
                         files=[(PNG_BYTES, name)])
    assert response.status_code in (200, 400)
    for att in stored():
        assert_inert_download(download(app, demo, att))
        client = app.test_client()
        login(client, demo, "intake")
        assert client.get(f"/staff/complaints/{att.case_id}").status_code == 200
        assert not any(ord(ch) < 32 for ch in att.original_name), repr(att.original_name)
