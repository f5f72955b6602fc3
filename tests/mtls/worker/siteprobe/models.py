from django.db import models


class TaskRun(models.Model):
    """One row per executed siteprobe.record task, with the TLS facts of the connection that wrote it."""

    marker = models.CharField(max_length=100)
    queue = models.CharField(max_length=100)
    site = models.CharField(max_length=100)
    ssl = models.BooleanField()
    ssl_version = models.CharField(max_length=20)
    client_dn = models.CharField(max_length=200)
    client_serial = models.CharField(max_length=100)


class TaskResult(models.Model):
    """What the stand-in of NautobotDatabaseBackend stores."""

    task_id = models.CharField(max_length=255, unique=True)
    status = models.CharField(max_length=50)
    result = models.TextField()
    traceback = models.TextField()
