#!/usr/bin/env bash
# Worker role: wait until the database is migrated (the web role migrates), then run a Celery worker
# on the default and sync queues. Start as many of these, on as many machines, as the load needs.
# The tasks wait on the network (API calls, webhooks, a sync slice sleeping until its paced slot), so the
# worker runs a pool of threads; the rate limits hold across all workers because they live in Redis.
set -euo pipefail
cd "$(dirname "$0")/.."

deadline=$((SECONDS + ${MIGRATIONS_WAIT_SECONDS:-300}))
until python manage.py migrate --check >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
        echo "start-worker: the database is unreachable or not migrated after ${MIGRATIONS_WAIT_SECONDS:-300}s" >&2
        exit 1
    fi
    echo "start-worker: waiting for the database to be migrated"
    sleep 3
done

exec celery -A config worker \
    --loglevel "${LOG_LEVEL:-INFO}" \
    --queues celery,sync \
    --pool "${CELERY_POOL:-threads}" \
    --concurrency "${CELERY_CONCURRENCY:-16}" \
    --without-mingle --without-gossip
