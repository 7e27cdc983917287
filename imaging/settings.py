"""Settings for 360 Imaging: one file, every deploy-specific value read once from the environment.

DEBUG is off unless set: a process started without it runs as production and refuses to
start without its secrets. Development turns it on (``make run``, ``.env.example``, the
tests through pytest.ini) and then needs no other configuration (SQLite and generated dev
secrets under var/).
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# Development state (SQLite, dev secrets, the local SeaweedFS); production keeps nothing here.
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))

DEBUG = env.bool("DEBUG", default=False)


def _dev_secret(name: str) -> str:
    """A random per-checkout secret kept in var/, for development only."""
    if not DEBUG:
        raise environ.ImproperlyConfigured(f"Set {name}: it is required when DEBUG is off.")
    VAR_DIR.mkdir(exist_ok=True)
    path = VAR_DIR / f"dev-{name.lower()}"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = env.str("SECRET_KEY", default="") or _dev_secret("SECRET_KEY")
JWT_SIGNING_KEY = env.str("JWT_SIGNING_KEY", default="") or _dev_secret("JWT_SIGNING_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # django.contrib.admin with the review console's site (titles, SSO link on the login page)
    "imaging.admin_site.ConsoleAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "mozilla_django_oidc",
    "imaging",
    "accounts",
    "sessions_app",
    "images_app",
    "events_app",
    "publishing",
    "webhooks",
    "devtools",  # development commands only (make run, seed_demo); never imported
]

MIDDLEWARE = [
    "imaging.api.middleware.RequestIdMiddleware",
    "imaging.observability.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "imaging.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "imaging.api.middleware.BodySizeLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "imaging.urls"
WSGI_APPLICATION = "imaging.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # SQLite serialises writers; wait for the lock instead of failing at once.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("timeout", 20)
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend with a health check that needs no round trip on a healthy idle
    # connection (imaging/postgresql/base.py).
    DATABASES["default"]["ENGINE"] = "imaging.postgresql"
    # An unreachable database fails a request (and /readyz) in seconds instead of hanging.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
    if env.bool("DB_PREPARED_STATEMENTS", default=True):
        # Parameters bound by the server, and a statement run a few times on a connection
        # prepared there (psycopg), so PostgreSQL stops parsing and planning the same API
        # queries on every request. Off behind a pooler that cannot carry them (PgBouncer
        # in transaction mode before 1.21).
        DATABASES["default"]["OPTIONS"].setdefault("server_side_binding", True)
        DATABASES["default"]["OPTIONS"].setdefault("prepare_threshold", 2)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "accounts.oidc.AdminOIDCBackend",
    "django.contrib.auth.backends.ModelBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=str(VAR_DIR / "static"))
# WhiteNoise serves the admin's static files from gunicorn (collected into the image); in
# development it finds them in the apps, so no collectstatic is needed.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
DEV_PAGES = DEBUG  # /dev/: development-only pages (devtools/urls.py: the spin viewer's demo)

# --- Redis: broker, cache and rate-limit counters. Unset: local memory, in-process tasks.
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "imaging.cache.ReusingRedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# In each process: what is cheaper to keep than to fetch from Redis (sessions_app/api/
# extras.py: rendered session details by ETag). Bounded in entries and in time.
CACHES["process"] = {
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    "LOCATION": "process",
    "TIMEOUT": env.int("PROCESS_CACHE_SECONDS", default=60),
    "OPTIONS": {"MAX_ENTRIES": env.int("PROCESS_CACHE_ENTRIES", default=1000)},
}

# --- API
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES
API_MAX_JSON_DEPTH = 32
# How many reverse proxies in front of the app append to X-Forwarded-For; 0 = trust none.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
RATE_LIMITS_ENABLED = env.bool("RATE_LIMITS_ENABLED", default=True)
# Requests per minute, keyed as the contract's table says.
RATE_LIMITS = {
    "auth_device": 100,  # per client IP
    "presign": 500,  # per device (per user for user tokens)
    "events": 1000,  # per actor, each accepted event of a batch counts
    "events_refused": 300,  # per actor: refused /events requests (their events are given back)
    "default": 300,  # per caller (user or device, whichever of its tokens it sends)
    "anonymous": 300,  # per client IP, for requests without a valid token
}

# Admin password login (/admin/login/): failed attempts allowed per window, per account and
# per client IP; beyond them the form refuses without checking the password. Same store and
# fail-open behaviour as the API's limits.
ADMIN_LOGIN_FAILURES_PER_ACCOUNT = env.int("ADMIN_LOGIN_FAILURES_PER_ACCOUNT", default=5)
ADMIN_LOGIN_FAILURES_PER_IP = env.int("ADMIN_LOGIN_FAILURES_PER_IP", default=20)
ADMIN_LOGIN_WINDOW_SECONDS = env.int("ADMIN_LOGIN_WINDOW_SECONDS", default=15 * 60)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.TokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["imaging.api.ratelimit.ContractRateLimit"],
    "DEFAULT_PARSER_CLASSES": ["imaging.api.parsers.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["imaging.api.renderers.OrjsonRenderer"],
    "EXCEPTION_HANDLER": "imaging.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    "DATETIME_FORMAT": "%Y-%m-%dT%H:%M:%S.%fZ",
}

SIMPLE_JWT = {
    "ALGORITHM": "HS256",
    "SIGNING_KEY": JWT_SIGNING_KEY,
    "USER_ID_CLAIM": "sub",
    "USER_ID_FIELD": "id",
    "TOKEN_TYPE_CLAIM": "typ",
    "JTI_CLAIM": "jti",
    "LEEWAY": 0,
    "UPDATE_LAST_LOGIN": False,
}
# API tokens are signed with the current SigningKey (accounts/signing.py), kept in the
# database; JWT_SIGNING_KEY encrypts their private halves there and verifies the HS256
# tokens issued before signing keys existed (until they expire, or not when false).
JWT_ALGORITHM = env.str("JWT_ALGORITHM", default="EdDSA")  # of keys made from now on
JWT_KEYS_REFRESH_SECONDS = env.int("JWT_KEYS_REFRESH_SECONDS", default=60)
JWT_LEGACY_HS256 = env.bool("JWT_LEGACY_HS256", default=True)
DEVICE_TOKEN_LIFETIME = timedelta(days=30)
USER_TOKEN_LIFETIME = timedelta(hours=8)

SPECTACULAR_SETTINGS = {
    "TITLE": "360 Imaging API",
    "DESCRIPTION": "Capture sessions, direct-to-S3 uploads, processing and publishing of "
    "vehicle photos.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "SessionStatusEnum": "sessions_app.models.CaptureSession.Status",
        "SessionModeEnum": "sessions_app.models.CaptureSession.Mode",
        "ImageStatusEnum": "images_app.models.Image.Status",
        "PublicationStatusEnum": "publishing.models.Publication.Status",
        "PublicationActionEnum": "publishing.models.PublicationVersion.Action",
        "WebhookDeliveryStatusEnum": "webhooks.models.WebhookDelivery.Status",
        "WebhookEventTypeEnum": "webhooks.api.serializers.EVENT_TYPE_CHOICES",
        # Named for what they are, not for the field (``TypeEnum``, ``UseEnum``...).
        "EventTypeEnum": "images_app.api.event_serializers.CLIENT_EVENT_TYPE_CHOICES",
        "SessionFinishStatusEnum": "sessions_app.api.serializers.FINISHED_STATUS_CHOICES",
        "JwkKeyTypeEnum": ["OKP", "RSA"],
        "JwkAlgorithmEnum": ["EdDSA", "RS256"],
        "JwkUseEnum": ["sig"],
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "imaging.api.schema.postprocess_operations",
    ],
}

# --- OIDC (API login and admin browser flow)
OIDC_OP_ISSUER = env.str("OIDC_OP_ISSUER", default="")
OIDC_OP_JWKS_ENDPOINT = env.str("OIDC_OP_JWKS_ENDPOINT", default="")
OIDC_RP_CLIENT_ID = env.str("OIDC_RP_CLIENT_ID", default="")
OIDC_RP_CLIENT_SECRET = env.str("OIDC_RP_CLIENT_SECRET", default="")
OIDC_RP_SIGN_ALGO = env.str("OIDC_RP_SIGN_ALGO", default="RS256")
OIDC_OP_AUTHORIZATION_ENDPOINT = env.str("OIDC_OP_AUTHORIZATION_ENDPOINT", default="")
OIDC_OP_TOKEN_ENDPOINT = env.str("OIDC_OP_TOKEN_ENDPOINT", default="")
OIDC_OP_USER_ENDPOINT = env.str("OIDC_OP_USER_ENDPOINT", default="")
OIDC_RP_SCOPES = "openid email profile"
OIDC_VERIFY_SSL = env.bool("OIDC_VERIFY_SSL", default=True)
OIDC_TIMEOUT = env.float("OIDC_TIMEOUT", default=3.0)
OIDC_JWKS_CACHE_SECONDS = env.int("OIDC_JWKS_CACHE_SECONDS", default=300)
OIDC_MAX_TOKEN_AGE_SECONDS = env.int("OIDC_MAX_TOKEN_AGE_SECONDS", default=600)
OIDC_CREATE_USER = False
LOGIN_REDIRECT_URL = "/admin/"
LOGOUT_REDIRECT_URL = "/admin/"
# A refused OIDC admin login lands back on the admin login page (the default "/" is no page).
LOGIN_REDIRECT_URL_FAILURE = "/admin/login/"

# --- S3 (SeaweedFS in development and tests, AWS S3 or compatible in production)
S3_ENDPOINT_URL = env.str("S3_ENDPOINT_URL", default="http://127.0.0.1:8333")
S3_PUBLIC_ENDPOINT_URL = env.str("S3_PUBLIC_ENDPOINT_URL", default="") or S3_ENDPOINT_URL
S3_BUCKET = env.str("S3_BUCKET", default="imaging")
S3_REGION = env.str("S3_REGION", default="us-east-1")
AWS_ACCESS_KEY_ID = env.str("AWS_ACCESS_KEY_ID", default="dev-access-key" if DEBUG else "")
AWS_SECRET_ACCESS_KEY = env.str(
    "AWS_SECRET_ACCESS_KEY", default="dev-secret-key-not-for-production" if DEBUG else ""
)
UPLOAD_URL_TTL_SECONDS = 15 * 60
# Published web renditions and manifests (publishing/): a bucket of their own, readable
# anonymously, served from PUBLIC_MEDIA_BASE_URL (default: the bucket at the public S3
# endpoint; a CDN in production). Originals and thumbnails stay in S3_BUCKET, private.
PUBLIC_S3_BUCKET = env.str("PUBLIC_S3_BUCKET", default="imaging-public")
PUBLIC_MEDIA_BASE_URL = env.str("PUBLIC_MEDIA_BASE_URL", default="")
# A withdrawn vehicle's renditions are deleted by the sweeper after this many days.
PUBLICATION_WITHDRAW_GRACE_DAYS = env.int("PUBLICATION_WITHDRAW_GRACE_DAYS", default=7)
THUMB_URL_TTL_SECONDS = env.int("THUMB_URL_TTL_SECONDS", default=300)

# --- Celery: without REDIS_URL tasks run in-process once the transaction commits.
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
# Must exceed the longest task, or Redis hands the same task to a second worker.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_TIME_LIMIT = 600
CELERY_TASK_SOFT_TIME_LIMIT = 540
# The sweeper re-enqueues uploads nobody reported and tasks the broker lost (beat).
CELERY_BEAT_SCHEDULE = {
    "sweep-uploads": {"task": "images_app.tasks.sweep_uploads", "schedule": 300.0},
    "sweep-publications": {"task": "publishing.tasks.sweep_publications", "schedule": 3600.0},
    # Webhook attempts that are due and not in the broker (long retries, lost tasks).
    "sweep-webhooks": {
        "task": "webhooks.tasks.sweep_deliveries",
        "schedule": float(env.int("WEBHOOK_SWEEP_SECONDS", default=10)),
    },
}
# Tasks a worker process runs on one database connection before Celery closes it (0: it
# closes it around every task). The webhooks role sets it (scripts/entrypoint.sh): its task
# checks the connection first, as a request does; a new connection per delivery would cost
# more than the delivery.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=0)
# Webhook deliveries have a queue (and workers) of their own: image backlogs never delay them.
CELERY_TASK_ROUTES = {"webhooks.tasks.*": {"queue": "webhooks"}}

# --- Webhooks (webhooks/, docs/webhooks.md)
# Development and tests only: also allows http URLs and loopback addresses. Never in production.
WEBHOOKS_ALLOW_INSECURE = env.bool("WEBHOOKS_ALLOW_INSECURE", default=False)
# The API's public base URL for the links in payloads ("https://api.example.com"); empty:
# links are paths from the API root ("/v1/images/…").
WEBHOOKS_API_BASE_URL = env.str("WEBHOOKS_API_BASE_URL", default="")
# Multiplies the retry schedule (5 s … 10 h); tests compress it.
WEBHOOK_RETRY_SCALE = env.float("WEBHOOK_RETRY_SCALE", default=1.0)
WEBHOOK_CONNECT_TIMEOUT = env.float("WEBHOOK_CONNECT_TIMEOUT", default=5.0)
WEBHOOK_REQUEST_TIMEOUT = env.float("WEBHOOK_REQUEST_TIMEOUT", default=15.0)
# At most this much of a response is read; the console keeps the first 1 KB of it.
WEBHOOK_RESPONSE_MAX_BYTES = env.int("WEBHOOK_RESPONSE_MAX_BYTES", default=64 * 1024)
WEBHOOK_RESPONSE_KEEP_BYTES = env.int("WEBHOOK_RESPONSE_KEEP_BYTES", default=1024)
# An endpoint whose every attempt failed for this long is disabled.
WEBHOOK_DISABLE_AFTER_DAYS = env.int("WEBHOOK_DISABLE_AFTER_DAYS", default=5)
# An attempt's claim: past it, a worker that died mid-attempt is presumed dead and the
# attempt is sent again. Must exceed WEBHOOK_REQUEST_TIMEOUT.
WEBHOOK_CLAIM_SECONDS = env.float("WEBHOOK_CLAIM_SECONDS", default=30.0)
# Retries due within this many seconds wait in the broker (countdown); later ones are
# enqueued by the sweeper. Keep it well below the broker's visibility timeout.
WEBHOOK_COUNTDOWN_MAX_SECONDS = env.float("WEBHOOK_COUNTDOWN_MAX_SECONDS", default=600.0)
# The sweeper enqueues a due attempt again when its task was sent longer ago than this.
WEBHOOK_REENQUEUE_SECONDS = env.float("WEBHOOK_REENQUEUE_SECONDS", default=60.0)
# A task delivers up to this many deliveries of one endpoint (claimed in one statement)...
WEBHOOK_BATCH_SIZE = env.int("WEBHOOK_BATCH_SIZE", default=50)
# ...and starts no new request after this many seconds (nor once the request could outlive
# the claim): the rest is enqueued again, behind other endpoints' deliveries.
WEBHOOK_BATCH_SECONDS = env.float("WEBHOOK_BATCH_SECONDS", default=5.0)
if not WEBHOOK_CLAIM_SECONDS > WEBHOOK_REQUEST_TIMEOUT >= WEBHOOK_CONNECT_TIMEOUT > 0:
    raise environ.ImproperlyConfigured(
        "Need WEBHOOK_CLAIM_SECONDS > WEBHOOK_REQUEST_TIMEOUT >= WEBHOOK_CONNECT_TIMEOUT > 0."
    )
if not WEBHOOK_BATCH_SIZE >= 1 or not WEBHOOK_BATCH_SECONDS > 0:
    raise environ.ImproperlyConfigured("Need WEBHOOK_BATCH_SIZE >= 1, WEBHOOK_BATCH_SECONDS > 0.")

# --- Processing
# A presigned PUT cannot bound the size: the worker refuses bigger objects (HEAD first).
MAX_UPLOAD_BYTES = env.int("MAX_UPLOAD_BYTES", default=50 * 1024 * 1024)
# Claims of one image before it fails with ``too_many_attempts`` (counted in the database).
PROCESS_MAX_ATTEMPTS = env.int("PROCESS_MAX_ATTEMPTS", default=5)
# Scans of one progressive JPEG before it fails with ``too_many_scans``, unread (photos
# have about 10; each scan costs a pass over the whole image however small it is).
PROCESS_MAX_JPEG_SCANS = env.int("PROCESS_MAX_JPEG_SCANS", default=100)
# The processing task's own time limits, far below the default ones above: a photo takes
# one to five seconds. At the soft limit the image fails with ``timeout`` (never retried)
# and the worker takes the next task; the hard limit kills a process stuck in C code.
PROCESS_SOFT_TIME_LIMIT = env.int("PROCESS_SOFT_TIME_LIMIT", default=60)
PROCESS_TIME_LIMIT = env.int("PROCESS_TIME_LIMIT", default=90)
# A claim older than CELERY_TASK_TIME_LIMIT is taken over as dead (images_app/services.py):
# no processing task may live that long.
if not 0 < PROCESS_SOFT_TIME_LIMIT < PROCESS_TIME_LIMIT <= CELERY_TASK_TIME_LIMIT:
    raise environ.ImproperlyConfigured(
        "Need 0 < PROCESS_SOFT_TIME_LIMIT < PROCESS_TIME_LIMIT <= CELERY_TASK_TIME_LIMIT."
    )
# Images of one organisation processed at once, across all workers (0: no cap). Keep it
# below the number of worker processes, so that another org always finds one free.
PROCESS_ORG_CONCURRENCY = env.int("PROCESS_ORG_CONCURRENCY", default=1)

# --- Logs and metrics (imaging/observability.py)
# "json": one JSON object per line on stdout (production); "text": readable lines (DEBUG).
LOG_FORMAT = env.str("LOG_FORMAT", default="") or ("text" if DEBUG else "json")
if LOG_FORMAT not in ("text", "json"):
    raise environ.ImproperlyConfigured("LOG_FORMAT must be text or json.")
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "imaging.observability.JsonFormatter"},
        "text": {"()": "imaging.observability.TextFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.request": {"level": "ERROR"},
        # imaging.task logs one richer line per task (observability.py).
        "celery.app.trace": {"level": "WARNING"},
    },
}
# Celery keeps the handlers above instead of installing its own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# /metrics answers a request bearing this token, or one from these networks (CIDRs).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_NETWORKS = env.list("METRICS_ALLOWED_NETWORKS", default=["127.0.0.1/32", "::1/128"])
# A Celery worker serves its own metrics on this port when set (0: off).
METRICS_WORKER_PORT = env.int("METRICS_WORKER_PORT", default=0)
METRICS_WORKER_ADDRESS = env.str("METRICS_WORKER_ADDRESS", default="127.0.0.1")

# --- The admin console in the browser
if not DEBUG:
    # The TLS proxy in front says the request came over HTTPS.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Cookies only over HTTPS in production; never readable from scripts; not sent on
# cross-site subrequests or POSTs (SameSite=Lax).
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# A reviewer's login lasts a working day (as a user API token does), then asks again.
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 60 * 60)
# HSTS on responses to HTTPS requests (Django sends none over plain HTTP); off in development.
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 365 * 24 * 60 * 60)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
# Pages that get the console's Content-Security-Policy (imaging/csp.py).
CSP_PATH_PREFIXES = ["/admin/"]

# Covering indexes (INCLUDE columns, images_app.ImageSignature) are PostgreSQL's; the embedded
# SQLite database of `make run` ignores the extra columns, which is all the warning says.
SILENCED_SYSTEM_CHECKS = ["models.W040"]
