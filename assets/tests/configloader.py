"""Loads assets/nautobot_config.py on top of the Nautobot stand-in in stub/ (shared by the tests and dump_settings).

Nautobot cannot be installed here, so stub/nautobot provides nautobot.core.settings and settings_funcs with
Nautobot's default shapes. Each load imports the stand-in and the config afresh, so module-level state (the
settings dicts the config mutates) never leaks from one load into the next.
"""

import importlib.util
import os
import ssl
import sys

# No __pycache__ next to the shipped config or in the stand-in.
sys.dont_write_bytecode = True

HERE = os.path.dirname(os.path.abspath(__file__))
STUB_DIR = os.path.join(HERE, "stub")
CONFIG_PATH = os.path.join(os.path.dirname(HERE), "nautobot_config.py")


def load_config(prepare=None):
    """Execute nautobot_config.py with the current os.environ and return it as a module.

    prepare(settings_module), if given, runs after the stand-in is imported and before the config, to give
    Nautobot's defaults a shape a test needs (e.g. existing DATABASES OPTIONS).
    """
    for name in [m for m in sys.modules if m == "nautobot" or m.startswith("nautobot.")]:
        del sys.modules[name]
    sys.modules.pop("nautobot_config", None)
    if STUB_DIR not in sys.path:
        sys.path.insert(0, STUB_DIR)
    settings = importlib.import_module("nautobot.core.settings")
    if prepare is not None:
        prepare(settings)
    spec = importlib.util.spec_from_file_location("nautobot_config", CONFIG_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _jsonable(value):
    """ssl.VerifyMode values by name (CERT_REQUIRED, ...), dicts recursively; the rest unchanged."""
    if isinstance(value, ssl.VerifyMode):
        return value.name
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    return value


def tls_summary(config):
    """The TLS-relevant settings a loaded config produced, JSON-ready."""
    return _jsonable(
        {
            "database_options": config.DATABASES["default"].get("OPTIONS", {}),
            "cache_location": config.CACHES["default"]["LOCATION"],
            "cache_connection_pool_kwargs": config.CACHES["default"].get("OPTIONS", {}).get("CONNECTION_POOL_KWARGS"),
            "celery_broker_url": config.CELERY_BROKER_URL,
            "celery_broker_use_ssl": getattr(config, "CELERY_BROKER_USE_SSL", None),
            "celery_redis_backend_use_ssl": getattr(config, "CELERY_REDIS_BACKEND_USE_SSL", None),
            "understack_partition": config.UNDERSTACK_PARTITION,
            "understack_site": config.UNDERSTACK_SITE,
        }
    )
