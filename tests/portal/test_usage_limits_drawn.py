"""Usage charts draw the limit that applied at each moment, keep throttled bars above the limit label, and
say which limit a summary is against."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from portal.models import Installation, RateLimitIncreaseRequest, Stage, UsageMinute
from portal.usage import installations_usage
from tests.factories import AppFactory, MembershipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def installation():
    owner = MembershipFactory(role="owner")
    app = AppFactory(stage=Stage.RELEASED)
    return Installation.objects.create(app=app, account=owner.account, installed_by=owner.user)


def _grant(installation, *, per_minute, began, ended=None):
    return RateLimitIncreaseRequest.objects.create(
        app=installation.app,
        account=installation.account,
        use_case="orders",
        calls_per_period=1000,
        processing_time="1 min",
        optimisations="ids",
        requested_limit=per_minute,
        submitted_by=installation.installed_by,
        status=RateLimitIncreaseRequest.Status.APPROVED,
        granted_limit=per_minute,
        decided_at=began,
        granted_until=ended,
    )


def _minute(installation, ago, calls, throttled=0):
    moment = (timezone.now() - ago).replace(second=0, microsecond=0)
    UsageMinute.objects.create(installation=installation, minute=moment, calls=calls, throttled=throttled)


def test_a_grant_that_began_in_the_window_draws_a_step(installation):
    # given a raised limit of 600 per minute since 3 hours ago, and a busy minute 5 hours ago (default 200 then)
    _grant(installation, per_minute=600, began=timezone.now() - timedelta(hours=3))
    _minute(installation, timedelta(hours=5), calls=180)

    # when the usage is drawn
    row = installations_usage(installations=[installation])[0]

    # then the limit is a step line, with where it changed, and the summary names the limit of that moment
    assert "<polyline" in row.chart.svg
    assert re.search(r"600/min from \d\d:\d\d", row.chart.svg)
    assert "90% of the default limit of 200 per minute in force then" in row.chart.summary
    assert "Limit now: raised limit of 600 per minute." in row.chart.summary


def test_without_a_change_the_limit_is_one_line_and_the_summary_says_which(installation):
    _minute(installation, timedelta(hours=1), calls=50)
    row = installations_usage(installations=[installation])[0]
    assert "<polyline" not in row.chart.svg
    assert "25% of the default limit of 200 per minute." in row.chart.summary


def test_throttled_bars_are_drawn_after_the_limit_label(installation):
    # given a minute over the limit right at the end of the window (where the label sits)
    _minute(installation, timedelta(minutes=1), calls=200, throttled=80)

    # when it is drawn
    svg = str(installations_usage(installations=[installation])[0].chart.svg)

    # then the throttled bar comes after (above) the label in the drawing order, and the line after both
    label, bar = svg.index("limit 200/min"), svg.index('fill="#e8590c"')
    line = svg.index('stroke-dasharray="6 4"')
    assert label < bar < line
