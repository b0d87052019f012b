#!/usr/bin/env bash
# Beat role: wait until the database is migrated, then run the Celery scheduler.
# Run exactly one beat per deployment, however many workers there are.
set -euo pipefail
cd "$(dirname "$0")/.."

deadline=$((SECONDS + ${MIGRATIONS_WAIT_SECONDS:-300}))
until python manage.py migrate --check >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
        echo "start-beat: the database is unreachable or not migrated after ${MIGRATIONS_WAIT_SECONDS:-300}s" >&2
        exit 1
    fi
    echo "start-beat: waiting for the database to be migrated"
    sleep 3
done

# The schedule file only records when each entry last ran; a temporary path is enough.
exec celery -A config beat \
    --loglevel "${LOG_LEVEL:-INFO}" \
    --schedule "${CELERY_BEAT_SCHEDULE_FILE:-/tmp/celerybeat-schedule}"
