"""Reading the gateway's per-minute counters back (integrations.usage.read_minutes / read_staff_minutes): the
rollup's one script call per batch must give what HGETALL gives, for every minute with counts and no other."""

from integrations import usage
from tests.portal.test_usage import redis_client  # noqa: F401  (the rollup's Redis without usage counters)


def test_read_minutes_gives_every_minute_with_counts_across_script_calls(redis_client, monkeypatch):
    # given counters of 40 installations over 5 minutes, some minutes empty, read 7 keys per script call
    monkeypatch.setattr(usage, "READ_KEYS_PER_CALL", 7)
    now = 29_000_000
    expected = {}
    for pk in range(1, 41):
        for minute in range(now - 4, now + 1):
            if (pk + minute) % 3 == 0:
                continue
            key = usage.minute_key(pk, minute)
            redis_client.hset(key, mapping={"calls": pk, "throttled": minute % 2, "e|GET a single": 2,
                                            "sq|0123456789ab": 2, "rep|GET b-search search": 1})
            expected[(pk, minute)] = usage.UsageCount(
                installation_id=pk, minute=minute, calls=pk, throttled=minute % 2,
                endpoints={"GET a single": 2}, repeated_searches={"GET b-search search": 1})

    # when
    counts = usage.read_minutes(range(1, 41), now - 6, now + 1, client=redis_client)

    # then every minute with counts comes once, in installation and minute order, with its figures
    assert [(c.installation_id, c.minute) for c in counts] == sorted(expected)
    assert all(c.figures() == expected[(c.installation_id, c.minute)].figures() for c in counts)


def test_read_minutes_of_pools_without_counts_is_empty(redis_client):
    assert usage.read_minutes([1, 2, 3], 100, 107, client=redis_client) == []
    assert usage.read_staff_minutes([], 100, 107, client=redis_client) == []


def test_staff_minutes_are_read_from_their_own_keys(redis_client):
    redis_client.hset(usage.staff_minute_key(5, 100), mapping={"calls": 3, "5xx": 1})
    redis_client.hset(usage.minute_key(5, 100), mapping={"calls": 9})
    [staff] = usage.read_staff_minutes([5], 100, 101, client=redis_client)
    assert (staff.installation_id, staff.minute, staff.calls, staff.status_5xx) == (5, 100, 3, 1)
