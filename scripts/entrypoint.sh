#!/bin/sh
# The container's roles: web | worker | beat | migrate | any other command as given.
set -e
case "${1:-web}" in
  web)
    exec gunicorn imaging.wsgi:application --bind "0.0.0.0:${PORT:-8000}" \
      --workers "${WEB_CONCURRENCY:-2}" --threads "${WEB_THREADS:-4}" \
      --access-logfile - --graceful-timeout 30 --timeout 60 ;;
  worker)
    exec celery -A imaging worker --loglevel "${LOG_LEVEL:-INFO}" \
      --concurrency "${WORKER_CONCURRENCY:-2}" ;;
  beat)
    exec celery -A imaging beat --loglevel "${LOG_LEVEL:-INFO}" \
      --schedule /app/var/celerybeat-schedule ;;
  migrate)
    exec python manage.py migrate --noinput ;;
  *)
    exec "$@" ;;
esac
