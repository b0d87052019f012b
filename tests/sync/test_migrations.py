"""The sync engine's models moved from the integrations app to the sync app: a database made before the move keeps
every row, and the models read them under their new app."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("accounts", "0002_staff_tokens_and_api_keys"), ("portal", "0003_limits_usage_callbacks"),
          ("integrations", "0003_sync_engine")]


@pytest.mark.django_db(transaction=True)
def test_rows_made_before_the_move_are_read_by_the_sync_app_after_it():
    # given a database at the last migration before the move, with a connection, a stream, a run and a record
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    user = old.get_model("accounts", "User").objects.create(email="dev@example.com", password="!")
    account = old.get_model("accounts", "Account").objects.create(code="legacy", name="Legacy")
    app = old.get_model("portal", "App").objects.create(
        user=user, name="Old mirror", client_id="old-mirror", client_type="confidential",
        authorization_grant_type="authorization-code", redirect_uris="https://app.example.com/cb")
    installation = old.get_model("portal", "Installation").objects.create(app=app, account=account, installed_by=user)
    connection_row = old.get_model("integrations", "Connection").objects.create(
        app=app, installation=installation, kind="managed", account_code="legacy", authorize_url="https://a.example",
        token_url="https://t.example", api_base_url="https://api.example/public-api/legacy", client_id="old-mirror",
        access_token_encrypted="ciphertext", status="active")
    stream = old.get_model("integrations", "SyncStream").objects.create(
        connection=connection_row, resource="product", cursor={"since": "2026-01-01T00:00:00Z", "offset": 3})
    run = old.get_model("integrations", "SyncRun").objects.create(
        stream=stream, connection=connection_row, resource="product", kind="full", pages=4, calls=5)
    old.get_model("integrations", "SyncRecord").objects.create(
        connection=connection_row, resource="product", remote_id="1001", payload={"id": 1001}, payload_hash="h",
        remote_updated_at=timezone.now())
    content_type = old.get_model("contenttypes", "ContentType")
    content_type.objects.get_or_create(app_label="integrations", model="connection")

    # when every migration runs forward
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    # then the sync app's models read the same rows, and the content type followed the model
    from django.contrib.contenttypes.models import ContentType

    from sync.models import Connection, SyncRecord, SyncRun, SyncStream

    moved = Connection.objects.get(pk=connection_row.pk)
    assert (moved.app_id, moved.installation_id, moved.account_code, moved.access_token_encrypted) == (
        app.pk, installation.pk, "legacy", "ciphertext")
    assert SyncStream.objects.get(pk=stream.pk).cursor == {"since": "2026-01-01T00:00:00Z", "offset": 3}
    assert (SyncRun.objects.get(pk=run.pk).pages, SyncRun.objects.get(pk=run.pk).calls) == (4, 5)
    assert SyncRecord.objects.get(connection=moved, remote_id="1001").payload == {"id": 1001}
    assert ContentType.objects.filter(app_label="sync", model="connection").count() == 1
    assert not ContentType.objects.filter(app_label="integrations", model="connection").exists()
