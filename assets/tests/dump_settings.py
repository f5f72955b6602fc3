#!/usr/bin/env python3
"""Print, as JSON, the TLS settings assets/nautobot_config.py produces for the current environment.

    NAUTOBOT_DB_SSLMODE=verify-ca NAUTOBOT_DB_SSLCERT=... python3 assets/tests/dump_settings.py

The config runs on the Nautobot stand-in in stub/ (Nautobot cannot be installed here). The mTLS end-to-end
tests (tests/mtls) build their libpq/pgx connection strings and Redis TLS settings from this output, so what
they prove against real servers is what the shipped config produces. Keys: database_options (libpq options
from DATABASES["default"]["OPTIONS"]), cache_connection_pool_kwargs, celery_broker_use_ssl and
celery_redis_backend_use_ssl (redis-py SSL kwargs; ssl_cert_reqs by name, e.g. "CERT_REQUIRED", or null when
Redis TLS is off), plus the Redis URLs and UNDERSTACK_* settings.

A configuration error exits 1 with "<ExceptionType>: <message>" on stderr, as the pod would log it.
"""

import json
import sys

from configloader import load_config, tls_summary


def main():
    try:
        config = load_config()
    except (FileNotFoundError, ValueError) as err:
        print(f"{type(err).__name__}: {err}", file=sys.stderr)
        return 1
    json.dump(tls_summary(config), sys.stdout, indent=2, sort_keys=True)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
