"""Logs and metrics: one log line per request and per task, and Prometheus metrics.

Logs go to stdout through the root logger's handler (settings.LOGGING): one JSON object per
line in production (``LOG_FORMAT=json``), readable text in development. Request lines
(logger ``imaging.request``) carry ``request_id``, ``method``, ``path``, ``route``,
``status``, ``duration_ms``, ``org_id``, ``actor`` and ``client_ip``; task lines (logger
``imaging.task``) carry ``task``, ``task_id``, ``attempt``, ``duration_ms``, ``outcome`` and,
for image processing, ``image_id`` and ``error_code``.

Metrics (``/metrics``, not public: ``METRICS_TOKEN`` as a Bearer token, or a client address in
``METRICS_ALLOWED_NETWORKS``):
- ``imaging_http_requests_total{method,route,status}`` and
  ``imaging_http_request_duration_seconds{method,route}``: routes are URL patterns, never
  raw paths, so ids do not multiply the series;
- ``imaging_images_processed_total``, ``imaging_images_failed_total{code}``,
  ``imaging_image_processing_seconds{outcome}``, ``imaging_tasks_total{task,outcome}``:
  counted where the task runs (the web process when tasks run in-process, else the worker);
- ``imaging_queue_depth{queue}`` (tasks waiting in Redis) and
  ``imaging_images_unfinished{status}`` (pending and processing images), read at scrape time.

Several processes: counters live in the process that counts. With gunicorn's workers or
Celery's prefork pool, set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory per machine and
role (scripts/entrypoint.sh does): every process writes its values there and a scrape adds
them up. A worker serves its own metrics on ``METRICS_WORKER_PORT``; the web's ``/metrics``
shows the web's counters plus the queue and backlog gauges.
"""

from __future__ import annotations

import datetime as dt
import hmac
import ipaddress
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.functional import empty
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

request_logger = logging.getLogger("imaging.request")
task_logger = logging.getLogger("imaging.task")

_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

# --- log formatting ----------------------------------------------------------------------

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_RECORD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)


def _extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    return {
        key: value
        for key, value in vars(record).items()
        if key not in _RECORD_ATTRIBUTES and not key.startswith("_")
    }


def _timestamp(created: float) -> str:
    moment = dt.datetime.fromtimestamp(created, tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, then the record's extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": _timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in _extra_fields(record).items():
            payload.setdefault(key, value)
        if record.exc_info:
            payload["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            payload["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(payload, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """Development: ``12:00:01 INFO imaging.request: GET /v1/sessions 200  duration_ms=12.3``."""

    # Already in the message of a request line, or noise on a developer's terminal.
    quiet_fields = frozenset({"method", "path", "status", "route", "client_ip", "task"})

    def format(self, record: logging.LogRecord) -> str:
        clock = dt.datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        line = f"{clock} {record.levelname:<7} {record.name}: {record.getMessage()}"
        extras = {
            key: value
            for key, value in _extra_fields(record).items()
            if key not in self.quiet_fields and value is not None
        }
        if extras:
            line += "  " + " ".join(f"{key}={value}" for key, value in extras.items())
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


# --- metrics -----------------------------------------------------------------------------

# The ``*_created`` series double every counter's output and no dashboard reads them.
disable_created_metrics()

HTTP_REQUESTS = Counter(
    "imaging_http_requests",
    "HTTP requests by method, route (URL pattern) and status.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "imaging_http_request_duration_seconds",
    "Time from the request reaching Django to the response leaving it.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
TASKS = Counter("imaging_tasks", "Celery task runs by task name and outcome.", ["task", "outcome"])


class BacklogCollector:
    """Gauges read at scrape time: broker queue depth, and what apps register."""

    def describe(self) -> list[GaugeMetricFamily]:
        return []  # registering must not query anything (the app registry may not be ready)

    def collect(self) -> Iterable[GaugeMetricFamily]:
        queue = getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", "celery")
        if settings.REDIS_URL:
            depth = GaugeMetricFamily(
                "imaging_queue_depth", "Tasks waiting in the broker queue.", labels=["queue"]
            )
            try:
                import redis

                client = redis.Redis.from_url(
                    settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1
                )
                depth.add_metric([queue], float(client.llen(queue)))
                yield depth
            except Exception as exc:
                logging.getLogger(__name__).warning(
                    "queue depth unavailable: %s", exc.__class__.__name__
                )
        for collect in _BACKLOG_GAUGES:
            try:
                yield from collect()
            except Exception as exc:
                logging.getLogger(__name__).warning(
                    "%s unavailable: %s", collect.__name__, exc.__class__.__name__
                )


# Gauges an app adds to the backlog (read at scrape time); see ``backlog_gauge``.
_BACKLOG_GAUGES: list[Callable[[], Iterable[GaugeMetricFamily]]] = []


def backlog_gauge(collect: Callable[[], Iterable[GaugeMetricFamily]]) -> Callable:
    """Register a scrape-time gauge (a domain app's backlog); the platform names no app."""
    _BACKLOG_GAUGES.append(collect)
    return collect


_BACKLOG = BacklogCollector()
REGISTRY.register(_BACKLOG)


def multiprocess_mode() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def metrics_registry(*, include_backlog: bool = True) -> CollectorRegistry:
    """What a scrape shows: this process's metrics, or every process's in multiprocess mode."""
    if not multiprocess_mode():
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    if include_backlog:
        registry.register(_BACKLOG)
    return registry


def metrics_access_allowed(*, client_ip: str, authorization: str) -> bool:
    """A Bearer ``METRICS_TOKEN`` (when one is set), or a client address in an allowed network."""
    token = settings.METRICS_TOKEN
    if token:
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            credentials.strip().encode(), token.encode()
        ):
            return True
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return False
    for network in settings.METRICS_ALLOWED_NETWORKS:
        if not network.strip():
            continue  # METRICS_ALLOWED_NETWORKS="" allows no network
        try:
            if address in ipaddress.ip_network(network, strict=False):
                return True
        except ValueError:
            logging.getLogger(__name__).warning("METRICS_ALLOWED_NETWORKS: bad entry %r", network)
    return False


def metrics_view(request: HttpRequest) -> HttpResponse:
    """``GET /metrics`` in Prometheus' text format, for allowed scrapers only."""
    from imaging.api.errors import error_response
    from imaging.api.ratelimit import client_ip

    if not metrics_access_allowed(
        client_ip=client_ip(request), authorization=request.headers.get("Authorization", "")
    ):
        return error_response(request, 403, "FORBIDDEN", "Metrics are not public.")
    return HttpResponse(generate_latest(metrics_registry()), content_type=CONTENT_TYPE_LATEST)


# --- request log -------------------------------------------------------------------------


def _route(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None or getattr(match.func, "__name__", "") == "not_found":
        return "unmatched"
    return "/" + match.route if match.route else match.view_name or "unmatched"


def _principal(request: HttpRequest) -> tuple[str | None, str]:
    """(org id, "user:<id>" | "device:<id>" | "anonymous"), without a query of its own.

    The API's authentication puts the User or Device on the request; the admin's session
    middleware leaves a lazy user, read only if the view already evaluated it.
    """
    user = getattr(request, "user", None)
    if user is None or getattr(user, "_wrapped", None) is empty:
        return None, "anonymous"
    if not getattr(user, "is_authenticated", False):
        return None, "anonymous"
    # A User (console or user token) or a Device (device token), named by its model.
    kind = getattr(getattr(user, "_meta", None), "model_name", "user")
    org_id = getattr(user, "org_id", None)
    return (str(org_id) if org_id else None), f"{kind}:{user.pk}"


class RequestLogMiddleware:
    """One log line and the request metrics per request (static files excepted)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.static_prefix = "/" + settings.STATIC_URL.lstrip("/") if settings.STATIC_URL else None

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self.static_prefix and request.path.startswith(self.static_prefix):
            return self.get_response(request)
        started = time.perf_counter()
        response = self.get_response(request)
        duration = time.perf_counter() - started
        from imaging.api.ratelimit import client_ip

        route = _route(request)
        method = request.method if request.method in _KNOWN_METHODS else "OTHER"
        org_id, actor = _principal(request)
        status = response.status_code
        HTTP_REQUESTS.labels(method, route, str(status)).inc()
        HTTP_LATENCY.labels(method, route).observe(duration)
        request_logger.log(
            logging.ERROR if status >= 500 else logging.INFO,
            "%s %s %s",
            request.method,
            request.path,
            status,
            extra={
                "request_id": getattr(request, "request_id", None),
                "method": request.method,
                "path": request.path,
                "route": route,
                "status": status,
                "duration_ms": round(duration * 1000, 1),
                "org_id": org_id,
                "actor": actor,
                "client_ip": client_ip(request),
            },
        )
        return response


# --- task log and metrics (Celery signals) -----------------------------------------------

_task_started: dict[str, float] = {}
_task_started_lock = threading.Lock()


# Per task name, what its log line adds (ids, error codes) and its outcome: see ``task_outcome``.
_TASK_OUTCOMES: dict[str, Callable[..., tuple[str, dict[str, Any]]]] = {}


def task_outcome(task_name: str) -> Callable:
    """Register ``describe(args, kwargs, retval, state, duration) -> (outcome, fields)`` for
    a task, so its log line and metrics say what happened in the app's own words."""

    def register(describe: Callable[..., tuple[str, dict[str, Any]]]) -> Callable:
        _TASK_OUTCOMES[task_name] = describe
        return describe

    return register


def _on_task_prerun(task_id: str | None = None, **_: Any) -> None:
    if task_id:
        with _task_started_lock:
            _task_started[task_id] = time.perf_counter()


def _on_task_postrun(
    task_id: str | None = None,
    task: Any = None,
    args: Any = None,
    kwargs: Any = None,
    retval: Any = None,
    state: str | None = None,
    **_: Any,
) -> None:
    with _task_started_lock:
        started = _task_started.pop(task_id or "", None)
    duration = time.perf_counter() - started if started is not None else None
    name = getattr(task, "name", "unknown")
    request = getattr(task, "request", None)
    retries = getattr(request, "retries", 0) or 0
    outcome = "success" if state == "SUCCESS" else (state or "unknown").lower()
    fields: dict[str, Any] = {
        "task": name,
        "task_id": task_id,
        "attempt": retries + 1,
        "duration_ms": round(duration * 1000, 1) if duration is not None else None,
        "outcome": outcome,
    }
    if isinstance(retval, BaseException):
        fields["error"] = f"{retval.__class__.__name__}: {retval}"[:300]
    describe = _TASK_OUTCOMES.get(name)
    if describe is not None:
        try:
            outcome, extra = describe(
                args=args, kwargs=kwargs, retval=retval, state=state, duration=duration
            )
        except Exception:  # a log line must never fail a task
            logging.getLogger(__name__).exception("describing task %s failed", name)
            extra = {}
        fields.update(extra, outcome=outcome)
    elif state == "SUCCESS" and retval is not None:
        fields["result"] = str(retval)[:300]
    TASKS.labels(name, outcome).inc()
    level = logging.INFO if state == "SUCCESS" else logging.WARNING
    task_logger.log(level, "task %s %s", name, outcome, extra=fields)


_worker_metrics_server: Any = None


def _on_worker_ready(**_: Any) -> None:
    """The worker's main process serves ``/metrics`` on ``METRICS_WORKER_PORT`` (if set)."""
    global _worker_metrics_server
    port = settings.METRICS_WORKER_PORT
    if not port or _worker_metrics_server is not None:
        return
    if not multiprocess_mode():
        logging.getLogger(__name__).warning(
            "METRICS_WORKER_PORT without PROMETHEUS_MULTIPROC_DIR: the pool's processes' "
            "metrics are not visible to the main process"
        )
    _worker_metrics_server = serve_worker_metrics(
        address=settings.METRICS_WORKER_ADDRESS, port=port
    )


def serve_worker_metrics(*, address: str, port: int) -> Any:
    """A small HTTP server in a daemon thread: the same access rule as the web's /metrics."""
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        allowed = metrics_access_allowed(
            client_ip=environ.get("REMOTE_ADDR", ""),
            authorization=environ.get("HTTP_AUTHORIZATION", ""),
        )
        if not allowed:
            start_response("403 Forbidden", [("Content-Type", "text/plain")])
            return [b"Metrics are not public.\n"]
        body = generate_latest(metrics_registry(include_backlog=False))
        start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST)])
        return [body]

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = make_server(address, port, app, handler_class=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="metrics", daemon=True)
    thread.start()
    logging.getLogger(__name__).info("worker metrics on http://%s:%s/metrics", address, port)
    return server


def connect_celery_signals() -> None:
    """Called once from the app config: task lines and metrics wherever tasks run."""
    from celery.signals import task_postrun, task_prerun, worker_ready

    task_prerun.connect(_on_task_prerun, weak=False, dispatch_uid="imaging.obs.prerun")
    task_postrun.connect(_on_task_postrun, weak=False, dispatch_uid="imaging.obs.postrun")
    worker_ready.connect(_on_worker_ready, weak=False, dispatch_uid="imaging.obs.worker_ready")
