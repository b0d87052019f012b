"""The audit log filters by date range and action, and exports what it shows as CSV."""

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from tests.factories import UserFactory, make_reviewer

pytestmark = pytest.mark.django_db


def _event(verb, days_ago, actor=None, **data):
    event = AuditEvent.objects.create(actor=actor, verb=verb, target_type="portal.app", target_id="1",
                                      target_label="Warehouse Link", app_ref="warehouse-link", data=data)
    AuditEvent.objects.filter(pk=event.pk).update(created_at=timezone.now() - timedelta(days=days_ago))
    return event


@pytest.fixture
def history():
    alice = UserFactory(full_name="Alice", email="alice@example.com")
    return {
        "old": _event("installation.turned_on", 10, alice, account="acme"),
        "recent": _event("installation.turned_off", 1, alice, account="acme"),
        "other": _event("app.suspended", 1, alice, note="=HYPERLINK(\"x\")"),
    }


def test_the_log_filters_by_date_range_and_action(client, history):
    # given a reviewer
    client.force_login(make_reviewer())
    today = timezone.localdate()

    # when they filter on the last three days and apps turned on or off
    response = client.get(reverse("portal:audit_log"), {
        "since": (today - timedelta(days=3)).isoformat(), "until": today.isoformat(), "action": "installation."})

    # then only the recent turn-off is listed, as a sentence
    events = list(response.context["events"])
    assert events == [history["recent"]]
    assert "Alice turned warehouse-link off in acme." in response.content.decode()


def test_a_backwards_date_range_is_explained(client, history):
    client.force_login(make_reviewer())
    response = client.get(reverse("portal:audit_log"), {"since": "2025-05-02", "until": "2025-05-01"})
    assert "on or after the “From” date" in response.content.decode()


def test_the_csv_export_has_the_filtered_events_with_sentences(client, history):
    # given a reviewer
    client.force_login(make_reviewer())

    # when they export the app events
    response = client.get(reverse("portal:audit_log_export"), {"action": "app."})

    # then the CSV is a download with a header row and one row, safe from spreadsheet formulas
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:4] == ["when (UTC)", "actor", "what happened", "action"]
    assert len(rows) == 2
    assert rows[1][1:4] == ["alice@example.com", "Alice suspended Warehouse Link.", "app.suspended"]
    assert "HYPERLINK" in rows[1][6]


def test_only_reviewers_export(client, history):
    client.force_login(UserFactory())
    assert client.get(reverse("portal:audit_log_export")).status_code == 403
