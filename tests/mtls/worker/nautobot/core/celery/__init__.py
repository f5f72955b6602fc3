"""Stand-in for Nautobot's nautobot.core.celery: the Celery app `nautobot-server celery worker` runs.

Loads the configuration as nautobot.setup() does, then builds the app exactly as Nautobot does (Celery("nautobot"),
settings from Django with the CELERY_ namespace, tasks autodiscovered), plus the health-probe files of
Nautobot 3 (CELERY_HEALTH_PROBES_AS_FILES), which the chart's readiness and liveness probes look for.
"""

import os
import tempfile
from pathlib import Path

from nautobot.core.standin import setup

setup()

from celery import Celery, bootsteps  # noqa: E402
from celery.signals import worker_ready, worker_shutdown  # noqa: E402
from django.conf import settings  # noqa: E402

app = Celery("nautobot")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

HEARTBEAT_FILE = Path(os.getenv("NAUTOBOT_CELERY_WORKER_HEARTBEAT_FILE", Path(tempfile.gettempdir()) / "nautobot_celery_worker_heartbeat"))
READINESS_FILE = Path(os.getenv("NAUTOBOT_CELERY_WORKER_READINESS_FILE", Path(tempfile.gettempdir()) / "nautobot_celery_worker_ready"))


class LivenessProbe(bootsteps.StartStopStep):
    """Touches the heartbeat file every second from the worker's timer (the event loop)."""

    requires = {"celery.worker.components:Timer"}

    def __init__(self, parent, **kwargs):
        super().__init__(parent, **kwargs)
        self.tref = None

    def start(self, parent):
        self.tref = parent.timer.call_repeatedly(1.0, self.beat, (parent,), priority=10)

    def stop(self, parent):
        HEARTBEAT_FILE.unlink(missing_ok=True)

    def beat(self, parent):
        HEARTBEAT_FILE.touch()


if settings.CELERY_HEALTH_PROBES_AS_FILES:
    app.steps["worker"].add(LivenessProbe)

    @worker_ready.connect
    def _ready(**_):
        READINESS_FILE.touch()

    @worker_shutdown.connect
    def _shutdown(**_):
        READINESS_FILE.unlink(missing_ok=True)
