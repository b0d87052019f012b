"""The gateway's copies of token lookups (integrations/token_cache.py) against a real Redis: a known token costs
no database query, and every change the lookup depends on is seen at the next call, whoever made it."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client import REGISTRY

from integrations import gateway, token_cache
from integrations.models import AccessToken
from integrations.oauth import token_checksum
from integrations.redis_client import api_redis
from portal import installations
from portal.models import Installation, RateLimitIncreaseRequest
from tests.factories import AppFactory, MembershipFactory, make_reviewer
from tests.integrations.api_support import api_url, issue_token, seed_rows, set_default_limit, world  # noqa: F401
from tests.integrations.test_gateway import _closed_port, refusal_of

SEARCH = "product-service/product-search"


def search(client, issued, account_code="acme"):
    return client.get(api_url(account_code, SEARCH), **issued.headers())


def token_queries(client, issued) -> tuple[int, int]:
    """(The call's status, how many of its queries read the access token table)."""
    with CaptureQueriesContext(connection) as captured:
        response = search(client, issued)
    table = AccessToken._meta.db_table
    return response.status_code, sum(table in query["sql"] or gateway.TOKEN_STATEMENT in query["sql"]
                                     for query in captured.captured_queries)


def warm(client, issued) -> None:
    """Two calls: the first notes the token's installation, the second keeps the copy."""
    assert search(client, issued).status_code == 200
    assert search(client, issued).status_code == 200
    assert token_cache.cached(token_checksum(issued.token)) is not None


def test_a_known_token_is_not_read_from_the_database(client, world):
    seed_rows(world.account, products=3)

    calls = [token_queries(client, world.issued) for _ in range(4)]

    assert calls == [(200, 1), (200, 1), (200, 0), (200, 0)]


def test_lookups_are_counted_by_source_in_the_metrics(client, world):
    sources = ("copy", "database", "stale")
    def counts():
        return {source: REGISTRY.get_sample_value("portal_api_token_lookups_total", {"source": source}) or 0
                for source in sources}

    before = counts()

    for _ in range(4):
        search(client, world.issued)
    api_redis().incr(token_cache.EPOCH_KEY)  # a change: the next call finds its copy stale
    search(client, world.issued)

    after = counts()
    assert {source: after[source] - before[source] for source in sources} == {"copy": 3, "database": 3, "stale": 1}


def test_copies_can_be_turned_off(client, world, settings):
    settings.PORTAL = {**settings.PORTAL, "TOKEN_CACHE_SECONDS": 0}

    calls = [token_queries(client, world.issued) for _ in range(3)]

    assert calls == [(200, 1)] * 3
    assert token_cache.cached(token_checksum(world.issued.token)) is None


def test_the_copy_is_keyed_by_the_tokens_checksum_never_the_token(client, world):
    warm(client, world.issued)

    assert world.issued.token not in token_cache._store.copies
    assert not any(world.issued.token in str(copy.row) for copy in token_cache._store.copies.values())


# --- Every change is seen at the next call ------------------------------------------------------------

def test_turning_the_app_off_stops_a_token_held_in_a_copy(client, world):
    warm(client, world.issued)
    owner = MembershipFactory(account=world.account).user

    installations.installation_turn_off(installation=world.issued.installation, actor=owner)

    assert search(client, world.issued).status_code == 401


def test_a_deleted_token_stops_at_once(client, world):
    warm(client, world.issued)

    AccessToken.objects.filter(installation=world.issued.installation).delete()

    assert search(client, world.issued).status_code == 401


def test_an_installation_switched_off_directly_is_refused(client, world):
    warm(client, world.issued)

    installation = Installation.objects.get(pk=world.issued.installation.pk)
    installation.is_enabled = False
    installation.save(update_fields=["is_enabled"])

    response = search(client, world.issued)
    assert response.status_code == 401 and "turned off" in refusal_of(response)


def test_suspending_the_app_or_the_account_is_seen_at_once(client, world):
    warm(client, world.issued)
    world.app.suspended_at = timezone.now()
    world.app.save(update_fields=["suspended_at"])
    assert "suspended" in refusal_of(search(client, world.issued))

    world.app.suspended_at = None
    world.app.save(update_fields=["suspended_at"])
    warm(client, world.issued)
    world.account.status = type(world.account).Status.SUSPENDED
    world.account.save(update_fields=["status"])
    response = search(client, world.issued)
    assert response.status_code == 403 and response.json()["errors"][0]["code"] == "ACCOUNT_SUSPENDED"


def test_a_new_default_limit_and_a_grant_apply_at_the_next_call(client, world):
    warm(client, world.issued)

    set_default_limit(150)
    assert search(client, world.issued)["RateLimit-Limit"] == "150"

    RateLimitIncreaseRequest.objects.create(
        app=world.app, use_case="Nightly sync", calls_per_period=1000, processing_time="1 hour",
        optimisations="Batching", requested_limit=400, submitted_by=world.app.user,
        status=RateLimitIncreaseRequest.Status.APPROVED, granted_limit=400, reviewer=make_reviewer(),
        decided_at=timezone.now(), granted_until=timezone.now() + timedelta(hours=2))
    assert search(client, world.issued)["RateLimit-Limit"] == "400"


def test_a_copy_never_outlives_the_grant_it_read(client, world):
    ends = timezone.now() + timedelta(seconds=30)
    RateLimitIncreaseRequest.objects.create(
        app=world.app, use_case="Nightly sync", calls_per_period=1000, processing_time="1 hour",
        optimisations="Batching", requested_limit=400, submitted_by=world.app.user,
        status=RateLimitIncreaseRequest.Status.APPROVED, granted_limit=400, reviewer=make_reviewer(),
        decided_at=timezone.now(), granted_until=ends)

    warm(client, world.issued)

    copy = token_cache.cached(token_checksum(world.issued.token))
    assert copy.until == pytest.approx(ends.timestamp(), abs=0.01)


def test_a_change_announced_by_another_process_is_seen(client, world):
    # given a copy, and a change this process did not make (written without signals, announced in Redis as
    # another process's announcement would be)
    warm(client, world.issued)
    Installation.objects.filter(pk=world.issued.installation.pk).update(is_enabled=False)
    assert search(client, world.issued).status_code == 200  # not announced: the copy is still used

    api_redis().incr(token_cache.generation_key(world.issued.installation.pk))

    # then the script finds the stamp moved, and the gateway reads the database
    response = search(client, world.issued)
    assert response.status_code == 401 and "turned off" in refusal_of(response)


def test_a_redis_that_lost_its_data_invalidates_every_copy(client, world):
    warm(client, world.issued)
    Installation.objects.filter(pk=world.issued.installation.pk).update(is_enabled=False)

    api_redis().delete(token_cache.EPOCH_KEY)  # as after a restart of a Redis that keeps nothing

    assert search(client, world.issued).status_code == 401


def test_a_stale_copy_costs_nothing_from_the_pool(client, world):
    # given a copy, then a change
    warm(client, world.issued)
    before = int(search(client, world.issued)["RateLimit-Remaining"])
    api_redis().incr(token_cache.EPOCH_KEY)

    # then the call is decided once, not twice
    assert int(search(client, world.issued)["RateLimit-Remaining"]) == before - 1


def test_when_redis_fails_a_copy_is_not_trusted(client, world, settings):
    # given a copy, and a change nobody could announce
    warm(client, world.issued)
    Installation.objects.filter(pk=world.issued.installation.pk).update(is_enabled=False)

    # when Redis is unreachable
    settings.REDIS_URL = f"redis://127.0.0.1:{_closed_port()}/0"

    # then the gateway reads the database (and fails open on the limiter only), and drops its copies
    assert search(client, world.issued).status_code == 401
    assert token_cache._store.copies == {}


def test_a_change_inside_a_transaction_reaches_redis_when_it_commits(client, world, django_capture_on_commit_callbacks):
    # given a copy
    warm(client, world.issued)
    checksum = token_checksum(world.issued.token)
    generation = token_cache.generation_key(world.issued.installation.pk)
    api_redis().delete(generation)

    with django_capture_on_commit_callbacks(execute=True):
        installation = Installation.objects.get(pk=world.issued.installation.pk)
        installation.save()
        # this process stops using its copy at once; the others hear of the change once it is committed
        assert token_cache.cached(checksum) is None
        assert api_redis().get(generation) is None

    assert api_redis().get(generation) == b"1"


def test_many_changes_in_one_transaction_are_sent_in_one_round_trip(world, django_capture_on_commit_callbacks):
    for _ in range(3):
        issue_token(AppFactory(), world.account)
    installation_ids = list(Installation.objects.values_list("pk", flat=True))
    assert len(installation_ids) == 4
    for pk in installation_ids:
        api_redis().delete(token_cache.generation_key(pk))

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        for installation in Installation.objects.all():
            installation.save()
            installation.save()

    assert len(callbacks) == 2 * len(installation_ids)  # each sends what is pending: the first, all of it
    generations = [api_redis().get(token_cache.generation_key(pk)) for pk in installation_ids]
    assert generations == [b"1"] * len(installation_ids)
