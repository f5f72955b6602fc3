"""Stand-in for nautobot.core.settings_funcs: the two helpers Nautobot's settings and configs import.

Written for these tests (Nautobot cannot be installed here); behaves like Nautobot 2.x for the inputs used.
"""

import os


def is_truthy(arg):
    """True for a bool True or a string such as "true", "yes", "on", "1" (any case)."""
    if isinstance(arg, bool):
        return arg
    value = str(arg).strip().lower()
    if value in ("y", "yes", "t", "true", "on", "1"):
        return True
    if value in ("n", "no", "f", "false", "off", "0", ""):
        return False
    raise ValueError(f"invalid truth value {arg!r}")


def parse_redis_connection(redis_database):
    """Redis URL from NAUTOBOT_REDIS_{SCHEME,SSL,HOST,PORT,USERNAME,PASSWORD}, as Nautobot builds it."""
    scheme = os.getenv("NAUTOBOT_REDIS_SCHEME") or (
        "rediss" if is_truthy(os.getenv("NAUTOBOT_REDIS_SSL", "False")) else "redis"
    )
    host = os.getenv("NAUTOBOT_REDIS_HOST", "localhost")
    port = int(os.getenv("NAUTOBOT_REDIS_PORT", "6379"))
    username = os.getenv("NAUTOBOT_REDIS_USERNAME", "")
    password = os.getenv("NAUTOBOT_REDIS_PASSWORD", "")
    credentials = f"{username}:{password}@" if username or password else ""
    if scheme == "unix":
        return f"unix://{credentials}{host}?db={redis_database}"
    return f"{scheme}://{credentials}{host}:{port}/{redis_database}"
