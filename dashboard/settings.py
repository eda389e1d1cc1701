"""Settings for Lambda Triage, read from environment variables.

Defaults are safe for production: DEBUG is off and there is no start without a secret key
unless DJANGO_DEBUG=true. Every variable is listed, with its default, in the README.
"""

from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from dashboard.env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_str("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Set it, or set DJANGO_DEBUG=true for local development."
        )
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "axes",
    "invocations",
    "alerts",
]
# The local AWS stand-in (its `sandbox` and `seed_sandbox` commands) is an app only where it is
# used: `make run` and the tests set SANDBOX_ENABLED; production neither needs nor installs moto.
SANDBOX_ENABLED = env_bool("SANDBOX_ENABLED", False)
if SANDBOX_ENABLED:
    INSTALLED_APPS.append("sandbox")

MIDDLEWARE = [
    # First, so that every answer carries them, the 400 for a bad Host header included (that
    # one is made inside CommonMiddleware and would skip anything listed after it).
    "invocations.middleware.ContentSecurityPolicyMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # A NUL anywhere in the request is a 400 before anything reads it (PostgreSQL refuses it).
    "invocations.middleware.RefuseNulMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "invocations.middleware.CurrentEnvironmentMiddleware",
    # Last, so that its lockout page goes out through the security headers above.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "dashboard.urls"
WSGI_APPLICATION = "dashboard.wsgi.application"

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
                "invocations.context_processors.environments",
            ],
        },
    },
]

# Connections are kept for a minute, SQLite's too, and tested before reuse: in the worker as well
# (dashboard/task_connections.py), where opening one for every task cost about 1 ms of CPU.
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=60,
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web process and the worker write at the same time: WAL lets readers go on, IMMEDIATE
    # takes the write lock up front so that two writers queue instead of failing mid-transaction.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A database host that does not answer (down, or its network cut) is an error after this
    # long, not a connection attempt that waits for the kernel to give up (minutes).
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
# How long a worker keeps trying to write an invoke's outcome while the database is unreachable
# (invocations/invoking/persist.py).
DATABASE_RETRY_SECONDS = env_int("DATABASE_RETRY_SECONDS", 300, minimum=0)
# An invocation queued this long, never claimed, whose task is neither waiting in Redis nor
# taken by a worker, was lost by a broker crash: beat sends it again
# (invocations/ops/lost_tasks.py).
LOST_TASK_SECONDS = env_int("LOST_TASK_SECONDS", 120, minimum=10)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "triage"
LOGOUT_REDIRECT_URL = "login"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 12 * 3600, minimum=300)
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
LOGIN_FAILURE_WINDOW_SECONDS = env_int("LOGIN_FAILURE_WINDOW_SECONDS", 900, minimum=60)
# django-axes throttles every login (the login page and the admin's): failures are counted per
# account, whatever the address, and a locked account is refused before its password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(seconds=LOGIN_FAILURE_WINDOW_SECONDS)
AXES_LOCKOUT_PARAMETERS = ["username"]
# Axes warns that this lets an attacker rotate user agents; that holds only when the user agent is
# part of the key. The count here is per account alone, so no header changes it. Locking by
# address as well would lock a whole office behind one NAT after five typos.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_RESET_ON_SUCCESS = True
# A locked account opens again when the window has passed, however often it was tried meanwhile.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True
# A synchronous invoke payload may be 6 MB: accept a little more, so that an oversized one is
# a form error with its size rather than a bare 400.
DATA_UPLOAD_MAX_MEMORY_SIZE = 7 * 1024 * 1024

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# In development static files are served from the app folders as they change, without collectstatic.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Behind HTTPS (a proxy that sets X-Forwarded-Proto) cookies are secure and HTTP redirects.
SECURE_HTTPS = env_bool("DJANGO_SECURE_HTTPS", not DEBUG)
SESSION_COOKIE_SECURE = SECURE_HTTPS
CSRF_COOKIE_SECURE = SECURE_HTTPS
SECURE_SSL_REDIRECT = SECURE_HTTPS
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if SECURE_HTTPS else None
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31536000 if SECURE_HTTPS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# AWS: one default environment comes from these; more are added in the admin.
AWS_REGION = env_str("AWS_REGION", "us-east-1")
AWS_ENDPOINT_URL = env_str("AWS_ENDPOINT_URL")
AWS_PROFILE = env_str("AWS_PROFILE")
AWS_ROLE_ARN = env_str("AWS_ROLE_ARN")
AWS_ENVIRONMENT_NAME = env_str("AWS_ENVIRONMENT_NAME", "default")
AWS_ALLOWED_FUNCTIONS = env_str("AWS_ALLOWED_FUNCTIONS", "*")
AWS_CONNECT_TIMEOUT = env_float("AWS_CONNECT_TIMEOUT", 5.0, minimum=0.1)
# Synchronous invokes wait for the function: Lambda's maximum timeout is 900 s.
AWS_READ_TIMEOUT = env_float("AWS_READ_TIMEOUT", 905.0, minimum=1.0)
# Every other call (list, describe, logs, queues) answers in seconds.
AWS_SHORT_READ_TIMEOUT = env_float("AWS_SHORT_READ_TIMEOUT", 10.0, minimum=1.0)

# Invoking: our own retry of 429 throttling, with exponential backoff and full jitter.
THROTTLE_RETRY_ATTEMPTS = env_int("THROTTLE_RETRY_ATTEMPTS", 6, minimum=1)
THROTTLE_RETRY_BASE = env_float("THROTTLE_RETRY_BASE", 1.0, minimum=0.0)
THROTTLE_RETRY_CAP = env_float("THROTTLE_RETRY_CAP", 30.0, minimum=0.0)

# Ingestion.
POLL_INTERVAL_SECONDS = env_int("POLL_INTERVAL_SECONDS", 10, minimum=1)
POLL_TIME_BUDGET_SECONDS = env_int("POLL_TIME_BUDGET_SECONDS", 50, minimum=1)
# How often an open list (triage, records, a group's occurrences) asks for what changed.
LIVE_POLL_SECONDS = env_int("LIVE_POLL_SECONDS", 5, minimum=1)
# A poller's claim on a queue lasts this long unless renewed (polling.py): a dead poller's queue
# is polled again after at most this.
POLL_CLAIM_SECONDS = env_int("POLL_CLAIM_SECONDS", 60, minimum=1)
# How often the beat task measures each watched queue's depth (for /metrics).
QUEUE_DEPTH_SECONDS = env_int("QUEUE_DEPTH_SECONDS", 60, minimum=10)
# How many pollers may read one queue at once (each holds one of its leases): a deep queue is
# drained by several, a shallow one costs the extra pollers one empty receive each.
POLL_LEASES_PER_QUEUE = env_int("POLL_LEASES_PER_QUEUE", 4, minimum=1)
RECORD_RETENTION_DAYS = env_int("RECORD_RETENTION_DAYS", 90, minimum=1)
INVENTORY_SYNC_SECONDS = env_int("INVENTORY_SYNC_SECONDS", 300, minimum=10)

# /metrics (Prometheus) answers only requests that send `Authorization: Bearer <this token>`;
# empty (the default) turns the endpoint off (404).
METRICS_TOKEN = env_str("METRICS_TOKEN", "")

# Alerts. Links in notifications start with DASHBOARD_BASE_URL (how people reach this site).
DASHBOARD_BASE_URL = env_str("DASHBOARD_BASE_URL", "http://127.0.0.1:8000")
ALERT_EVALUATE_SECONDS = env_int("ALERT_EVALUATE_SECONDS", 15, minimum=1)
# A new group is notified only once it has existed this long: a group that the next poll merges
# away (one request's two records, from two queues) never is.
ALERT_SETTLE_SECONDS = env_int("ALERT_SETTLE_SECONDS", 2 * POLL_INTERVAL_SECONDS, minimum=0)
ALERT_SPIKE_QUIET_MINUTES = env_int("ALERT_SPIKE_QUIET_MINUTES", 30, minimum=1)
ALERT_DELIVERY_ATTEMPTS = env_int("ALERT_DELIVERY_ATTEMPTS", 6, minimum=1)
ALERT_RETRY_BASE = env_float("ALERT_RETRY_BASE", 5.0, minimum=0.0)
ALERT_RETRY_CAP = env_float("ALERT_RETRY_CAP", 600.0, minimum=0.0)
ALERT_WEBHOOK_TIMEOUT = env_float("ALERT_WEBHOOK_TIMEOUT", 10.0, minimum=0.1)

# Keys whose values are hidden from people without the raw-payload permission (matched in any
# case, by substring, ignoring separators and percent-encoding). The redacted copies stored
# beside each text are made with these: a change re-redacts them in the worker.
REDACT_KEYS = env_list(
    "REDACT_KEYS",
    [
        "password",
        "passwd",
        "pwd",
        "secret",
        "secret_key",
        "private_key",
        "credential",
        "token",
        "authorization",
        "api_key",
        "x-api-key",
        "cookie",
        "session",
    ],
)

# Celery: Redis broker, JSON only, a task is acknowledged after it ran so that a lost worker's
# task is delivered again (the invoke task guards against running an invoke twice).
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = REDIS_URL
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A worker that lost Redis tries again for as long as it takes (every 30 s at most), instead of
# exiting after 100 attempts, about 45 minutes.
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # Longer than the longest task (a 900 s invoke): otherwise Redis hands it to a second worker.
    "visibility_timeout": 3600,
    "socket_connect_timeout": 3,
    "socket_timeout": 5,
}
# Celery's Django fixup would close the worker's database connections around every task; it does
# so only every 1000 tasks with this set, and dashboard/task_connections.py does the per-task
# housekeeping instead (connections kept for CONN_MAX_AGE, closed after an error or a failure).
CELERY_DB_REUSE_MAX = 1000
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SOFT_TIME_LIMIT = 960
CELERY_TASK_TIME_LIMIT = 1020
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    "poll-queues": {"task": "invocations.tasks.poll_queues", "schedule": POLL_INTERVAL_SECONDS},
    # Invocations and replay batches saved while Redis was down are sent once it is back.
    "requeue-unsent": {
        "task": "invocations.tasks.requeue_unsent",
        "schedule": 15,
    },
    "sync-functions": {
        "task": "invocations.tasks.sync_functions",
        "schedule": INVENTORY_SYNC_SECONDS,
    },
    "measure-queue-depths": {
        "task": "invocations.tasks.measure_queue_depths",
        "schedule": QUEUE_DEPTH_SECONDS,
    },
    "purge-old-records": {"task": "invocations.tasks.purge_old_records", "schedule": 24 * 3600},
    "evaluate-alerts": {"task": "alerts.tasks.evaluate", "schedule": ALERT_EVALUATE_SECONDS},
    # Notices a change of REDACT_KEYS and re-redacts the stored copies (access/reredaction.py).
    "reredact": {"task": "invocations.tasks.reredact", "schedule": 60},
}

# Beat runs on every worker host and only one of them schedules (dashboard/beat.py): a lock in
# Redis that the scheduling beat renews on every tick. If its host is lost, the lock runs out
# after one poll interval and a waiting beat takes over: polling pauses for at most about two.
CELERY_BEAT_SCHEDULER = "dashboard.beat:FailoverScheduler"
CELERY_BEAT_MAX_LOOP_INTERVAL = max(1, POLL_INTERVAL_SECONDS // 4)
CELERY_REDBEAT_REDIS_URL = REDIS_URL
CELERY_REDBEAT_KEY_PREFIX = "lambda-triage:beat:"
CELERY_REDBEAT_LOCK_TIMEOUT = max(2 * CELERY_BEAT_MAX_LOOP_INTERVAL, POLL_INTERVAL_SECONDS)
CELERY_REDBEAT_REDIS_OPTIONS = {"socket_connect_timeout": 3, "socket_timeout": 5}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"forbidden_in_one_line": {"()": "dashboard.log_filters.ForbiddenInOneLine"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "botocore": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        "django.request": {"filters": ["forbidden_in_one_line"]},
    },
}
