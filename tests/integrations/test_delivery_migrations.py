"""The migrations that make callbacks deliveries run forward on a database with data, and lose nothing: the
callback log keeps every attempt, each now in a delivery; webhook deliveries keep theirs."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("portal", "0004_app_previous_secret"), ("integrations", "0006_token_checksums"),
          ("sync", "0001_initial")]
AFTER = [("portal", "0005_callback_log_moves_out"), ("integrations", "0008_callback_attempts_of_deliveries"),
         ("sync", "0002_delivery_base")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_callback_attempts_become_deliveries_and_webhooks_keep_theirs():
    # given a database as it was before deliveries, with a callback log and a webhook delivery
    old = migrate(BEFORE)
    now = timezone.now()
    user = old.get_model("accounts", "User").objects.create(email="dev@example.com")
    account = old.get_model("accounts", "Account").objects.create(code="outerheaven", name="Outer Heaven")
    app = old.get_model("portal", "App").objects.create(
        user=user, name="Stock sync", client_id="stock-sync", client_type="confidential",
        authorization_grant_type="authorization-code", install_callback_url="https://hooks.example.com/in",
        uninstall_callback_url="https://hooks.example.com/out")
    installation = old.get_model("portal", "Installation").objects.create(app=app, account=account)
    attempt = old.get_model("portal", "CallbackAttempt").objects

    def log(kind, number, status_code, minutes_ago, error=""):
        attempt.create(installation=installation, kind=kind, attempt=number, status_code=status_code, error=error,
                       url=f"https://hooks.example.com/{kind}?timestamp=1", response_excerpt=f"answer {number}",
                       created_at=now - timedelta(minutes=minutes_ago))

    log("install", 1, 500, 120, "HTTP 500")  # an install callback delivered at the second try, long ago
    log("install", 2, 200, 119)
    log("uninstall", 1, None, 100, "Not sent: refused")  # refused
    log("install", 1, 503, 3, "HTTP 503")  # a callback still being retried when the portal was upgraded
    spec = old.get_model("sync", "SyncSpec").objects.create(app=app, webhook_url="https://hooks.example.com/w")
    conn = old.get_model("sync", "Connection").objects.create(
        app=app, kind="external", account_code="outerheaven", client_id="x", authorize_url="https://x.example/a",
        token_url="https://x.example/t", api_base_url="https://x.example/public-api/outerheaven")
    hook = old.get_model("sync", "WebhookDelivery").objects.create(connection=conn, url=spec.webhook_url,
                                                                    request_body="{}", event_count=1, attempts=1,
                                                                    last_status_code=500)
    old.get_model("sync", "WebhookAttempt").objects.create(delivery=hook, number=1, status_code=500,
                                                           response_body="oops")

    # when the migrations run
    new = migrate(AFTER)

    # then every attempt is kept, in a delivery of its installation and kind
    deliveries = new.get_model("integrations", "CallbackDelivery").objects.order_by("created_at")
    attempts = new.get_model("integrations", "CallbackAttempt").objects
    assert attempts.count() == 4
    assert [(d.kind, d.status, d.attempts, d.attempt_log.count()) for d in deliveries] == [
        ("install", "delivered", 2, 2), ("uninstall", "failed", 1, 1), ("install", "pending", 1, 1)]
    delivered, refused, retrying = deliveries
    assert delivered.url == "https://hooks.example.com/in" and delivered.installation_id == installation.pk
    assert list(delivered.attempt_log.order_by("number").values_list("number", "status_code", "response_body")) == [
        (1, 500, "answer 1"), (2, 200, "answer 2")]
    assert refused.last_error == "Not sent: refused"
    # and the one still being retried carries on with the dispatcher
    assert retrying.next_attempt_at <= timezone.now()
    # and the webhook delivery keeps its attempt
    hook = new.get_model("sync", "WebhookDelivery").objects.get()
    assert (hook.status, hook.attempts, hook.attempt_log.get().response_body) == ("pending", 1, "oops")
    content_type = new.get_model("contenttypes", "ContentType").objects
    assert not content_type.filter(app_label="portal", model="callbackattempt").exists()

    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
