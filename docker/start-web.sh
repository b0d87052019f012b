#!/usr/bin/env bash
# Web role: apply migrations, then serve config.wsgi with gunicorn (static files come from whitenoise).
# More gunicorn options can be passed in GUNICORN_CMD_ARGS, which gunicorn reads itself.
# The access log has no query string and no referer (OAuth codes, state and tokens travel there), and its
# logger redacts any that still slip into a line (config/gunicorn_logging.py).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "start-web: applying migrations"
python manage.py migrate --noinput

# Multiprocess metrics (docs/operations-monitoring.md): every gunicorn worker writes its counters to files in
# PROMETHEUS_MULTIPROC_DIR and /metrics sums them. Files of an earlier run would be summed too: start empty.
if [[ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]]; then
    rm -rf "${PROMETHEUS_MULTIPROC_DIR:?}"
    mkdir -p "${PROMETHEUS_MULTIPROC_DIR}"
fi

echo "start-web: gunicorn on 0.0.0.0:${PORT:-8000} with ${WEB_CONCURRENCY:-3} workers"
exec gunicorn config.wsgi:application \
    --bind "0.0.0.0:${PORT:-8000}" \
    --workers "${WEB_CONCURRENCY:-3}" \
    --control-socket "${TMPDIR:-/tmp}/gunicorn.ctl" \
    --access-logfile - \
    --access-logformat '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)ss "%(a)s"' \
    --logger-class config.gunicorn_logging.RedactingLogger \
    --error-logfile -
