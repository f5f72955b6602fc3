#!/usr/bin/env python3
"""Connect with the client libraries of a Nautobot pod, configured as assets/nautobot_config.py configures them.

    servername_clients.py postgres HOSTADDR    psycopg2 (libpq) with DATABASES["default"] and its OPTIONS
    servername_clients.py redis                kombu's Redis transport (the Celery broker, CELERY_BROKER_URL with
                                               CELERY_BROKER_USE_SSL), redis-py's pool as django-redis builds the
                                               cache's (CACHES LOCATION with CONNECTION_POOL_KWARGS), and Celery's
                                               Redis result backend (CELERY_REDIS_BACKEND_USE_SSL)

The settings come from loading the shipped config on the Nautobot stand-in (assets/tests/configloader.py) with
the process environment, so the host each library checks the server certificate against is NAUTOBOT_DB_HOST or
NAUTOBOT_REDIS_HOST. HOSTADDR is libpq's hostaddr: where to connect, while host stays the name that is checked
(and sent as SNI). Redis has no such setting, so the caller makes its names resolve (see servernames_test.go).
Prints one line per client, "<client>: <reply>" or "<client>: <ExceptionType>: <message>"; exits 1 if any failed.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "assets", "tests"))
from configloader import load_config  # noqa: E402


def postgres(config, hostaddr):
    import psycopg2

    db = config.DATABASES["default"]
    conn = psycopg2.connect(
        host=db["HOST"], hostaddr=hostaddr, port=db["PORT"], user=db["USER"], dbname=db["NAME"],
        connect_timeout=5, **db.get("OPTIONS", {}),
    )
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT ssl, version, client_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            return "|".join(str(v) for v in cur.fetchone())
    finally:
        conn.close()


def broker(config):
    from kombu import Connection

    with Connection(config.CELERY_BROKER_URL, ssl=config.CELERY_BROKER_USE_SSL, connect_timeout=5) as conn:
        # One attempt: kombu's own retries would only repeat the error.
        conn.ensure_connection(max_retries=1)
        return str(conn.default_channel.client.ping())


def cache(config):
    import redis

    location = config.CACHES["default"]["LOCATION"]
    pool = redis.ConnectionPool.from_url(location, socket_connect_timeout=5,
                                         **config.CACHES["default"]["OPTIONS"]["CONNECTION_POOL_KWARGS"])
    return str(redis.Redis(connection_pool=pool).ping())


def result_backend(config):
    from celery import Celery

    app = Celery("servername", broker=config.CELERY_BROKER_URL, backend=config.CELERY_BROKER_URL)
    app.conf.redis_backend_use_ssl = config.CELERY_REDIS_BACKEND_USE_SSL
    app.conf.redis_socket_connect_timeout = 5
    app.conf.redis_retry_on_timeout = False
    return str(app.backend.client.ping())


def main():
    config = load_config()
    if sys.argv[1] == "postgres":
        clients = [("psycopg2", lambda: postgres(config, sys.argv[2]))]
    else:
        clients = [("kombu", lambda: broker(config)), ("cache", lambda: cache(config)),
                   ("result backend", lambda: result_backend(config))]
    failed = False
    for name, connect in clients:
        try:
            print(f"{name}: {connect()}")
        except Exception as err:  # noqa: BLE001 - the test asserts each library's own error
            failed = True
            print(f"{name}: {type(err).__name__}: {str(err).strip()}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
