#!/usr/bin/env bash
# Worker role: wait until the database is migrated (the web role migrates), then run a Celery worker
# on the default and sync queues. Start as many of these, on as many machines, as the load needs.
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

exec celery -A portal worker \
    --loglevel "${LOG_LEVEL:-INFO}" \
    --queues celery,sync \
    --concurrency "${CELERY_CONCURRENCY:-4}" \
    --without-mingle --without-gossip
