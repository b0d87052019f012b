"""History and audit entries read as sentences, and relative times have one style."""

from datetime import timedelta

import pytest
from django.template import Context, Template
from django.utils import timezone

from accounts.audit_text import event_details, event_sentence
from accounts.models import AuditEvent
from accounts.templatetags.portal_words import relative
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _event(verb, data=None, actor=None, target="Warehouse Link", app_ref="warehouse-link"):
    return AuditEvent.objects.create(actor=actor, verb=verb, target_type="portal.app", target_id="1",
                                     target_label=target, app_ref=app_ref, data=data or {})


def test_a_ticked_review_reads_as_a_sentence_with_the_stage_label(portal_defaults_rows):
    # given Alice ticked the security review of a request
    alice = UserFactory(full_name="Alice")
    event = _event(
        "progression.check_ticked", {"stage": "security"}, actor=alice, target="warehouse-link: beta → released"
    )

    # then it reads as a sentence
    assert event_sentence(event) == "Alice ticked the security review of warehouse-link."


def test_no_event_shows_a_raw_code_or_none():
    # given events with empty values, a promotion and one nobody registered a phrase for
    bob = UserFactory(full_name="Bob")
    submitted = _event(
        "limit_request.submitted",
        {"scope": "all installations", "requested_limit": 500, "requested_until": None},
        actor=bob,
    )
    promoted = _event("app.promoted", {"from": "beta", "to": "released", "note": "Looks good"}, actor=bob)
    unknown = _event("widget.frobbed", {"x": None})

    # then each is a sentence without None, dots between codes or underscores
    assert event_sentence(submitted) == "Bob asked for 500 calls a minute for warehouse-link (all installations)."
    assert event_details(submitted) == []
    assert event_sentence(promoted) == "Bob moved Warehouse Link from beta to released."
    assert event_details(promoted) == [("Note", "Looks good")]
    assert event_sentence(unknown) == "The portal recorded “frobbed” on the widget Warehouse Link."
    for event in (submitted, promoted, unknown):
        assert "None" not in event_sentence(event) and "_" not in event_sentence(event)


def test_settings_changes_say_from_and_to():
    event = _event(
        "platform_settings.updated",
        {"changed": {"early_access_cap": [25, 30]}},
        actor=UserFactory(full_name="Carol"),
        target="Platform settings",
        app_ref="",
    )
    assert event_sentence(event) == "Carol changed early access cap from 25 to 30."


def test_relative_times_use_one_unit():
    now = timezone.now()
    assert relative(now - timedelta(seconds=20), now) == "just now"
    assert relative(now - timedelta(minutes=1), now) == "1 minute ago"
    assert relative(now - timedelta(hours=5, minutes=59), now) == "5 hours ago"
    assert relative(now - timedelta(days=3), now) == "3 days ago"
    assert relative(now + timedelta(hours=2, seconds=5), now) == "in 2 hours"


def test_the_ago_filter_keeps_the_exact_time_in_the_title():
    moment = timezone.now() - timedelta(days=2)
    html = Template("{% load portal_words %}{{ moment|ago }}").render(Context({"moment": moment}))
    assert html.startswith("<time datetime=") and "2 days ago</time>" in html
