"""gunicorn settings the command line does not carry (scripts/entrypoint.sh passes this file).

- Logs: gunicorn's own lines use the app's formatter (JSON in production); there is no
  access log, since the app logs one line per request with more in it (request id, org,
  actor, route).
- Prometheus multiprocess mode: a dead worker's live gauges are dropped.
"""

import os

from prometheus_client import multiprocess

_format = os.environ.get("LOG_FORMAT") or (
    "text" if os.environ.get("DEBUG", "false").lower() in ("1", "true", "yes", "on") else "json"
)

accesslog = None
# gunicorn's control socket lives in $HOME: several servers of one user would fight over it.
control_socket_disable = True
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# Recycle workers now and then: a slow leak never takes a machine down.
# A worker is replaced after this many requests (a guard against slow leaks). Not much
# sooner: each new worker reconnects to PostgreSQL and re-prepares its statements, and
# starts without its compiled queries and verified tokens.
max_requests = 20000
max_requests_jitter = 2000
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "imaging.observability.JsonFormatter"},
        "text": {"()": "imaging.observability.TextFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": _format}},
    "loggers": {
        "gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # Settings load before Django configures logging; a missing .env is no news.
        "environ": {"level": "WARNING"},
    },
}


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
