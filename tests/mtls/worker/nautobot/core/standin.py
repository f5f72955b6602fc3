"""What nautobot.setup() does before Django starts, for the stand-in (nautobot.core.runner.configure_app).

The file named by NAUTOBOT_CONFIG (the chart mounts assets/nautobot_config.py there) is loaded as module
nautobot_config and becomes DJANGO_SETTINGS_MODULE. Nautobot's own settings define INSTALLED_APPS; the
stand-in of nautobot.core.settings does not, so the one app of this test is added here.
"""

import importlib.util
import os
import sys


def setup():
    if "nautobot_config" in sys.modules:
        return
    path = os.environ.get("NAUTOBOT_CONFIG", "/opt/nautobot/nautobot_config.py")
    spec = importlib.util.spec_from_file_location("nautobot_config", path)
    config = importlib.util.module_from_spec(spec)
    sys.modules["nautobot_config"] = config
    try:
        spec.loader.exec_module(config)
    except BaseException:
        del sys.modules["nautobot_config"]
        raise
    config.INSTALLED_APPS = ["siteprobe"]
    config.USE_TZ = True
    config.DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
    # Nautobot: CELERY_HEALTH_PROBES_AS_FILES = is_truthy(os.getenv("NAUTOBOT_CELERY_HEALTH_PROBES_AS_FILES", "False"))
    value = os.getenv("NAUTOBOT_CELERY_HEALTH_PROBES_AS_FILES", "False").strip().lower()
    config.CELERY_HEALTH_PROBES_AS_FILES = value in ("y", "yes", "t", "true", "on", "1")
    os.environ["DJANGO_SETTINGS_MODULE"] = "nautobot_config"

    import django

    django.setup()
