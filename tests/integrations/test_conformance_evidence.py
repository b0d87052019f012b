"""What the OAuth server tells the portal's conformance report: code exchanges and install/uninstall callbacks."""

from datetime import timedelta

import pytest

from integrations import listeners
from integrations.models import Grant
from portal import hooks
from tests.portal.conformance_support import NOW, callback, exchange, turn_off, world

pytestmark = pytest.mark.django_db

SINCE, AT = NOW - timedelta(days=14), NOW + timedelta(minutes=1)


def evidence(w) -> dict:
    return listeners.conformance_evidence(app=w.app, installations=w.installations, since=SINCE, now=AT)


def test_the_listener_is_registered_for_the_conformance_event():
    assert listeners.conformance_evidence in hooks._listeners[hooks.CONFORMANCE_EVIDENCE]


def test_a_code_exchange_in_the_period_passes_and_its_refreshes_are_counted():
    w = world(accounts=1)
    exchange(w.installations[0], NOW - timedelta(days=3), refreshes=4)
    result = evidence(w)["oauth_exchange"]
    assert result["passed"] is True
    assert result["figures"] == {"exchanges": 1, "refreshes": 4}
    assert result["summary"] == "1 code exchange completed, 4 refreshes since."


def test_turning_the_app_off_keeps_the_evidence_of_its_exchange():
    # given an exchange, then the account turned the app off (codes deleted, refresh tokens revoked)
    w = world(accounts=1)
    exchange(w.installations[0], NOW - timedelta(days=3))
    listeners.tokens_revoke(installations=w.installations)
    turn_off(w.installations[0], NOW - timedelta(days=2))
    assert evidence(w)["oauth_exchange"]["passed"] is True


def test_a_redeemed_code_counts_as_an_exchange():
    w = world(accounts=1)
    Grant.objects.create(user=w.app.user, application=w.app, code="c", redirect_uri="https://app.example.com/cb",
                         expires=NOW, installation=w.installations[0], redeemed_at=NOW - timedelta(hours=1))
    assert evidence(w)["oauth_exchange"]["figures"]["exchanges"] == 1


def test_only_refreshes_of_an_older_exchange_still_pass():
    w = world(accounts=1)
    exchange(w.installations[0], NOW - timedelta(days=14, hours=2), refreshes=5)
    result = evidence(w)["oauth_exchange"]
    assert (result["passed"], result["figures"]) == (True, {"exchanges": 0, "refreshes": 4})  # from the start on


def test_no_exchange_at_all_fails_and_an_exchange_before_the_period_without_use_fails_too():
    w = world(accounts=1)
    assert evidence(w)["oauth_exchange"]["passed"] is False
    exchange(w.installations[0], NOW - timedelta(days=20))
    result = evidence(w)["oauth_exchange"]
    assert (result["passed"], result["figures"]) == (False, {"exchanges": 0, "refreshes": 0})
    assert result["summary"] == "The app was turned on, but never exchanged an authorization code for tokens."


def test_callbacks_answered_2xx_pass_even_after_a_retry():
    w = world(accounts=1)
    callback(w.installations[0], statuses=(502, 200))
    callback(w.installations[0], kind="uninstall")
    result = evidence(w)["callbacks_answered"]
    assert result["passed"] is True
    assert result["figures"] == {"owed": 2, "delivered": 2, "failed": 0, "pending": 0, "attempts_not_2xx": 1}
    assert result["summary"] == "2 callbacks answered 2xx; 1 attempt had to be retried."


def test_a_callback_that_gave_up_fails():
    w = world(accounts=1)
    callback(w.installations[0])
    callback(w.installations[0], kind="uninstall", statuses=(404, 404, 404, 404, 404, 404))
    result = evidence(w)["callbacks_answered"]
    assert result["passed"] is False
    assert result["summary"] == "1 callback of 2 never got a 2xx answer (6 attempts failed in all)."


def test_no_callbacks_give_no_verdict_and_say_why():
    w = world(accounts=1)
    assert evidence(w)["callbacks_answered"]["summary"] == "No account turned the app on or off in this period."
    w.app.install_callback_url = w.app.uninstall_callback_url = ""
    result = evidence(w)["callbacks_answered"]
    assert result["passed"] is None
    assert "no install or uninstall callback URL" in result["summary"]
    callback(w.installations[0], statuses=(503,), status="pending")
    result = evidence(w)["callbacks_answered"]
    assert (result["passed"], result["summary"]) == (None, "1 callback is still being tried (1 attempt failed so far).")


def test_callbacks_before_the_period_are_not_counted():
    w = world(accounts=1)
    callback(w.installations[0], statuses=(500,), at=NOW - timedelta(days=15))
    assert evidence(w)["callbacks_answered"]["passed"] is None
