"""Nautobot configuration shared by the global Nautobot pods and the site Celery workers.

The Pulumi stacks pass this file as the Helm value ``nautobot.config`` (Go: ``assets.NautobotConfig``).
Nautobot's own defaults already build DATABASES, CACHES and CELERY_BROKER_URL from the chart's
``NAUTOBOT_DB_*`` / ``NAUTOBOT_REDIS_*`` environment; this file adds only what crossing clusters needs:

* PostgreSQL TLS with a client certificate (CNPG ``pg_hba ... cert``), driven by ``NAUTOBOT_DB_SSLMODE``,
  optionally with PostgreSQL 17 direct TLS (``NAUTOBOT_DB_SSLNEGOTIATION=direct``) so that the Envoy
  TLS-passthrough gateway can route the connection by SNI;
* Redis TLS with a client certificate (Redis ``tls-auth-clients yes``), switched on when the mTLS CA
  certificate is mounted, checking that the server certificate names the Redis host unless
  ``NAUTOBOT_REDIS_SSL_CHECK_HOSTNAME=false``;
* the ``UNDERSTACK_PARTITION`` and ``UNDERSTACK_SITE`` settings.

Every mistake this file can see is an error at start-up that names the variable, so a pod crash-loops
with a readable message instead of silently connecting without TLS or failing later inside a driver.
Values are matched exactly, case included; surrounding whitespace is ignored.
"""

import os
import ssl

from nautobot.core.settings import *  # noqa: F401,F403
# Imported as Nautobot's generated config does, for settings a deployment appends to this file.
from nautobot.core.settings_funcs import is_truthy, parse_redis_connection  # noqa: F401

# Lower-case module names below are helpers: Django only turns UPPER-CASE names into settings.

# Where the nautobot-mtls-client Secret (tls.crt, tls.key, ca.crt) is mounted in every pod.
_mtls_dir = "/etc/nautobot/mtls"

# libpq sslmode values. Only the verify modes present a client certificate, which CNPG's
# `hostssl all all all cert` rule requires; the others are accepted because they are legitimate libpq
# modes (e.g. for a local database), and are passed through as sslmode alone.
_db_sslmodes_with_client_cert = ("verify-ca", "verify-full")
_db_sslmodes_without_client_cert = ("require", "prefer", "allow", "disable")
# libpq 17 allows direct TLS only where TLS is mandatory: a weaker mode could fall back to plaintext.
_db_sslmodes_allowing_direct = ("require", "verify-ca", "verify-full")

_redis_cert_reqs = {
    "required": ssl.CERT_REQUIRED,
    "optional": ssl.CERT_OPTIONAL,
    "none": ssl.CERT_NONE,
}
# redis-py's ssl_check_hostname. redis-py 4.x/5.x defaults to off, under which any certificate the CA signed
# for server auth (PostgreSQL's, say) can stand in for Redis; here it is on unless switched off by name.
_redis_check_hostname = {"true": True, "false": False}


def _env(name, default=""):
    """The variable's value without surrounding whitespace (values often come from files with a newline)."""
    return os.environ.get(name, "").strip() or default


def _required_file(variable, default):
    """Path from `variable` (or its default) that must exist: a missing mount fails here, not in the driver."""
    path = _env(variable, default)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"SSL certificate file required by {variable} not found: {path}")
    return path


def _choice(variable, allowed):
    """Value of `variable`, which must be empty or one of `allowed`: a typo must not quietly disable TLS."""
    value = _env(variable)
    if value and value not in allowed:
        raise ValueError(f"{variable}={value!r} is not valid; allowed values: {', '.join(allowed)} (or unset)")
    return value


def database_ssl_options():
    """libpq options for DATABASES["default"]["OPTIONS"] from NAUTOBOT_DB_SSL*; {} when TLS is not configured."""
    sslmode = _choice("NAUTOBOT_DB_SSLMODE", _db_sslmodes_with_client_cert + _db_sslmodes_without_client_cert)
    options = {}
    if sslmode in _db_sslmodes_with_client_cert:
        # Checked in this order (certificate, key, CA); the first missing one is reported.
        options = {
            "sslmode": sslmode,
            "sslcert": _required_file("NAUTOBOT_DB_SSLCERT", f"{_mtls_dir}/tls.crt"),
            "sslkey": _required_file("NAUTOBOT_DB_SSLKEY", f"{_mtls_dir}/tls.key"),
            "sslrootcert": _required_file("NAUTOBOT_DB_SSLROOTCERT", f"{_mtls_dir}/ca.crt"),
        }
    elif sslmode:
        options = {"sslmode": sslmode}

    # "postgres" is libpq's default negotiation (SSLRequest first), so it needs no option.
    negotiation = _choice("NAUTOBOT_DB_SSLNEGOTIATION", ("direct", "postgres"))
    if negotiation == "direct":
        if sslmode not in _db_sslmodes_allowing_direct:
            current = f"{sslmode!r}" if sslmode else "unset"
            raise ValueError(
                f"NAUTOBOT_DB_SSLNEGOTIATION=direct needs NAUTOBOT_DB_SSLMODE set to one of "
                f"{', '.join(_db_sslmodes_allowing_direct)}; it is {current}"
            )
        # Needs libpq >= 17 in the image and PostgreSQL >= 17 on the server.
        options["sslnegotiation"] = "direct"
    return options


def redis_ssl_kwargs():
    """redis-py SSL keyword arguments when the Redis CA certificate is present; None otherwise.

    Presence of the CA file is the switch (the same Secret is mounted wherever Redis requires client
    certificates). A CA path set explicitly in NAUTOBOT_REDIS_SSL_CA_CERTS must exist, though: a wrong path
    there is a mistake, not a request to go without TLS.
    """
    if _env("NAUTOBOT_REDIS_SSL_CA_CERTS"):
        ca_certs = _required_file("NAUTOBOT_REDIS_SSL_CA_CERTS", "")
    else:
        ca_certs = f"{_mtls_dir}/ca.crt"
        if not os.path.isfile(ca_certs):
            return None
    cert_reqs = _choice("NAUTOBOT_REDIS_SSL_CERT_REQS", tuple(_redis_cert_reqs)) or "required"
    check_hostname = _choice("NAUTOBOT_REDIS_SSL_CHECK_HOSTNAME", tuple(_redis_check_hostname)) or "true"
    if cert_reqs == "none" and check_hostname == "true":
        # Python's ssl refuses the pair at the first connection; say which variable to change instead.
        raise ValueError(
            "NAUTOBOT_REDIS_SSL_CERT_REQS=none does not verify the server, so its name cannot be checked either; "
            "set NAUTOBOT_REDIS_SSL_CHECK_HOSTNAME=false as well, or NAUTOBOT_REDIS_SSL_CERT_REQS=required"
        )
    return {
        "ssl_cert_reqs": _redis_cert_reqs[cert_reqs],
        "ssl_check_hostname": _redis_check_hostname[check_hostname],
        "ssl_ca_certs": ca_certs,
        "ssl_certfile": _required_file("NAUTOBOT_REDIS_SSL_CERTFILE", f"{_mtls_dir}/tls.crt"),
        "ssl_keyfile": _required_file("NAUTOBOT_REDIS_SSL_KEYFILE", f"{_mtls_dir}/tls.key"),
    }


def _check_rediss(setting, url):
    """SSL kwargs on a redis:// URL make redis-py fail later with a TypeError; say what to change instead."""
    scheme = str(url).partition("://")[0]
    if scheme in ("redis", "unix"):
        raise ValueError(
            f"Redis client certificates are configured (NAUTOBOT_REDIS_SSL_CA_CERTS) but {setting} uses {scheme}://; "
            "set NAUTOBOT_REDIS_SSL=true (Helm nautobot.redis.ssl: true) so that Nautobot connects with rediss://"
        )


# Merge rather than replace: Nautobot (MySQL charset) or a deployment may already have set other OPTIONS.
_db_ssl_options = database_ssl_options()
if _db_ssl_options:
    DATABASES["default"].setdefault("OPTIONS", {}).update(_db_ssl_options)  # noqa: F405

# The cache pool, the Celery broker and the Celery Redis result backend get the same TLS client settings.
_redis_ssl_kwargs = redis_ssl_kwargs()
if _redis_ssl_kwargs:
    _check_rediss('CACHES["default"]["LOCATION"]', CACHES["default"]["LOCATION"])  # noqa: F405
    _check_rediss("CELERY_BROKER_URL", CELERY_BROKER_URL)  # noqa: F405
    CACHES["default"].setdefault("OPTIONS", {}).setdefault("CONNECTION_POOL_KWARGS", {}).update(  # noqa: F405
        _redis_ssl_kwargs
    )
    # kombu and Celery take Redis TLS only from broker_use_ssl and redis_backend_use_ssl.
    # CELERY_BROKER_TRANSPORT_OPTIONS is deliberately left alone: no kombu transport reads an "ssl" entry
    # there, and replacing it would drop options (e.g. visibility_timeout) set by Nautobot or a deployment.
    CELERY_BROKER_USE_SSL = dict(_redis_ssl_kwargs)
    CELERY_REDIS_BACKEND_USE_SSL = dict(_redis_ssl_kwargs)

# Set per cluster by the cluster-data ConfigMap; computed fields (e.g. device URNs) and jobs read them.
UNDERSTACK_PARTITION = os.environ.get("UNDERSTACK_PARTITION", "")
UNDERSTACK_SITE = os.environ.get("UNDERSTACK_SITE", "")
