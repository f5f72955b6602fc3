"""Stand-in for nautobot.core.settings, for testing assets/nautobot_config.py without Nautobot.

Nautobot (and Django) cannot be installed here, so this module defines only the defaults that
nautobot_config.py reads or extends, with the same names, shapes and environment variables as Nautobot 2.x:
DATABASES from NAUTOBOT_DB_*, a django-redis CACHES entry with OPTIONS, CELERY_BROKER_URL from
NAUTOBOT_CELERY_BROKER_URL or the NAUTOBOT_REDIS_* variables. Written for these tests, not copied.
"""

import os

from nautobot.core.settings_funcs import is_truthy, parse_redis_connection

METRICS_ENABLED = is_truthy(os.getenv("NAUTOBOT_METRICS_ENABLED", "False"))

SECRET_KEY = os.getenv("NAUTOBOT_SECRET_KEY", "")

DATABASES = {
    "default": {
        "NAME": os.getenv("NAUTOBOT_DB_NAME", "nautobot"),
        "USER": os.getenv("NAUTOBOT_DB_USER", ""),
        "PASSWORD": os.getenv("NAUTOBOT_DB_PASSWORD", ""),
        "HOST": os.getenv("NAUTOBOT_DB_HOST", "localhost"),
        "PORT": os.getenv("NAUTOBOT_DB_PORT", ""),
        "CONN_MAX_AGE": int(os.getenv("NAUTOBOT_DB_TIMEOUT", "300")),
        "ENGINE": os.getenv(
            "NAUTOBOT_DB_ENGINE",
            "django_prometheus.db.backends.postgresql" if METRICS_ENABLED else "django.db.backends.postgresql",
        ),
    }
}

# Nautobot sets OPTIONS itself only for MySQL.
if DATABASES["default"]["ENGINE"] == "django.db.backends.mysql":
    DATABASES["default"]["OPTIONS"] = {"charset": "utf8mb4"}

CACHES = {
    "default": {
        "BACKEND": os.getenv(
            "NAUTOBOT_CACHES_BACKEND",
            "django_prometheus.cache.backends.redis.RedisCache" if METRICS_ENABLED else "django_redis.cache.RedisCache",
        ),
        "LOCATION": parse_redis_connection(redis_database=1),
        "TIMEOUT": int(os.getenv("NAUTOBOT_CACHES_TIMEOUT", "300")),
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "PASSWORD": "",
        },
    }
}

CELERY_BROKER_URL = os.getenv("NAUTOBOT_CELERY_BROKER_URL", parse_redis_connection(redis_database=0))
CELERY_RESULT_BACKEND = "nautobot.core.celery.backends.NautobotDatabaseBackend"
CELERY_TASK_DEFAULT_QUEUE = os.getenv("NAUTOBOT_CELERY_TASK_DEFAULT_QUEUE", "default")
