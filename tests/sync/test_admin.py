"""The sync engine's admin pages are read-only and never show a token or secret."""

import pytest

from sync import crypto
from sync.models import Connection, SyncSpec
from tests.factories import AppFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_operators_see_connections_without_their_secrets(client):
    # given a connection holding encrypted tokens, and a superuser
    app = AppFactory(client_id="admin-app")
    SyncSpec.objects.create(app=app, client_secret_encrypted=crypto.encrypt("the-app-secret"))
    connection = Connection.objects.create(
        app=app, kind="external", account_code="outerheaven", client_id="admin-app",
        authorize_url="https://p.example/a", token_url="https://p.example/t",
        api_base_url="https://p.example/public-api/outerheaven",
        access_token_encrypted=crypto.encrypt("access-secret-123"),
        refresh_token_encrypted=crypto.encrypt("refresh-456"))
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    # when they open the lists and the connection
    pages = [client.get(f"/admin/sync/{name}/") for name in
             ("connection", "syncspec", "syncstream", "syncrun", "webhookdelivery")]
    detail = client.get(f"/admin/sync/connection/{connection.pk}/change/")
    # then every page works, nothing can be added or changed there, and no secret appears
    assert [page.status_code for page in pages] == [200] * 5 and detail.status_code == 200
    assert b"Add connection" not in pages[0].content
    body = b"".join(page.content for page in pages) + detail.content
    for secret in (b"access-secret-123", b"refresh-456", b"the-app-secret", connection.access_token_encrypted.encode()):
        assert secret not in body
