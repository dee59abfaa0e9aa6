from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_my_waitlist_page_needs_a_login(client, user):
    assert client.get("/waitlist/").status_code == 302
    client.force_login(user)
    r = client.get("/waitlist/")
    assert r.status_code == 200 and b'data-list-url="/api/waitlist"' in r.content
