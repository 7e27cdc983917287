#!/bin/sh
# The image's roles, chosen by the first argument; the same commands run outside Docker
# (make run's Procfile uses them too):
#   web        gunicorn on ${WEB_BIND:-0.0.0.0}:${PORT:-8000}
#   worker     celery worker (image processing)
#   webhooks   celery worker of the webhooks queue only (deliveries never wait behind images)
#   beat       celery beat (the upload sweeper); run exactly one per deployment
#   migrate    database migrations, then the bucket when S3_CREATE_BUCKET=true; exits
#   healthcheck  the container's HEALTHCHECK for the role this container runs
#   anything else is run as given (e.g. "python manage.py purge --abandoned-older-than 30")
set -eu

APP_DIR=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
cd "$APP_DIR"
VAR_DIR=${VAR_DIR:-$APP_DIR/var}
ROLE_FILE=${TMPDIR:-/tmp}/imaging-role

role=${1:-web}
[ "$#" -gt 0 ] && shift

# Prometheus multiprocess mode (several gunicorn workers or pool processes per container):
# one directory per role and process tree; stale values of an earlier run are removed.
metrics_dir() {
  PROMETHEUS_MULTIPROC_DIR=${PROMETHEUS_MULTIPROC_DIR:-${TMPDIR:-/tmp}/imaging-metrics-$1-$$}
  mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
  find "$PROMETHEUS_MULTIPROC_DIR" -maxdepth 1 -name '*.db' -type f -delete
  export PROMETHEUS_MULTIPROC_DIR
}

case "$role" in
  web)
    echo web > "$ROLE_FILE" 2>/dev/null || true
    metrics_dir web
    exec gunicorn imaging.wsgi:application \
      --config "$APP_DIR/scripts/gunicorn.conf.py" \
      --bind "${WEB_BIND:-0.0.0.0}:${PORT:-8000}" \
      --workers "${WEB_CONCURRENCY:-4}" --threads "${WEB_THREADS:-2}" \
      --graceful-timeout 30 --timeout 60 "$@" ;;
  worker)
    echo worker > "$ROLE_FILE" 2>/dev/null || true
    metrics_dir worker
    exec celery -A imaging --quiet worker --loglevel "${LOG_LEVEL:-INFO}" \
      --concurrency "${WORKER_CONCURRENCY:-2}" "$@" ;;
  webhooks)
    echo webhooks > "$ROLE_FILE" 2>/dev/null || true
    metrics_dir webhooks
    # One database connection per pool process across deliveries (settings.py).
    export CELERY_DB_REUSE_MAX="${CELERY_DB_REUSE_MAX:-1000}"
    exec celery -A imaging --quiet worker --queues webhooks --loglevel "${LOG_LEVEL:-INFO}" \
      --hostname "webhooks@%h" --concurrency "${WEBHOOK_WORKER_CONCURRENCY:-2}" \
      --prefetch-multiplier "${WEBHOOK_WORKER_PREFETCH:-8}" "$@" ;;
  beat)
    echo beat > "$ROLE_FILE" 2>/dev/null || true
    mkdir -p "$VAR_DIR"
    exec celery -A imaging --quiet beat --loglevel "${LOG_LEVEL:-INFO}" \
      --schedule "$VAR_DIR/celerybeat-schedule" "$@" ;;
  migrate)
    python manage.py migrate --noinput "$@"
    if [ "${S3_CREATE_BUCKET:-false}" = "true" ]; then
      # The public bucket (web renditions, manifests) first; the private one is printed last.
      python manage.py ensure_public_bucket --wait 60
      exec python manage.py ensure_bucket --wait 60
    fi ;;
  healthcheck)
    case "$(cat "$ROLE_FILE" 2>/dev/null || echo web)" in
      web)
        # The Host header must be one Django accepts: the first of ALLOWED_HOSTS.
        exec python - <<'PY'
import os
import urllib.request

host = os.environ.get("ALLOWED_HOSTS", "localhost").split(",")[0].strip().lstrip(".")
if host in ("", "*"):
    host = "localhost"
port = os.environ.get("PORT", "8000")
request = urllib.request.Request(f"http://127.0.0.1:{port}/healthz", headers={"Host": host})
urllib.request.urlopen(request, timeout=3).close()
PY
        ;;
      worker)
        exec celery -A imaging inspect ping --timeout 5 \
          --destination "celery@$(hostname)" >/dev/null ;;
      webhooks)
        exec celery -A imaging inspect ping --timeout 5 \
          --destination "webhooks@$(hostname)" >/dev/null ;;
      *)
        exit 0 ;;
    esac ;;
  *)
    exec "$role" "$@" ;;
esac
