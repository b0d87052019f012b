"""Counts of the sync engine that no table keeps: slice outcomes, summed over every worker in one Redis hash
(one HINCRBY per slice, which is tens of API calls) and read by ``/metrics`` (config/metrics.py)."""

import logging

import redis

from integrations.redis_client import worker_redis

logger = logging.getLogger(__name__)

SLICE_OUTCOMES_KEY = "sync:metrics:slices"
# What engine.run_slice answers (SliceResult.outcome), and "error" when a slice raised.
SLICE_OUTCOMES = ("stale", "inactive", "fenced", "more", "done", "waiting", "throttled", "retry", "failed",
                  "reauth", "error")


def slice_count(outcome: str, *, client: redis.Redis | None = None) -> None:
    """Count one finished slice. Best effort: monitoring must never fail a slice."""
    try:
        (client or worker_redis()).hincrby(SLICE_OUTCOMES_KEY, outcome if outcome in SLICE_OUTCOMES else "other", 1)
    except (redis.RedisError, OSError) as error:
        logger.warning("could not count a sync slice (%s): %s", outcome, error)


def slice_counts(*, client: redis.Redis | None = None) -> dict[str, int]:
    """Slices finished since Redis started counting, by outcome."""
    return {
        field.decode(): int(value) for field, value in (client or worker_redis()).hgetall(SLICE_OUTCOMES_KEY).items()
    }
