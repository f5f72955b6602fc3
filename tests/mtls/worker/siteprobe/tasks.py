from celery import shared_task
from django.conf import settings
from django.db import connection

from siteprobe.models import TaskRun


@shared_task(name="siteprobe.record", bind=True)
def record(self, marker):
    with connection.cursor() as cursor:
        cursor.execute("SELECT ssl, coalesce(version, ''), coalesce(client_dn, ''), coalesce(client_serial::text, '')"
            " FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        ssl, version, client_dn, client_serial = cursor.fetchone()
    row = TaskRun.objects.create(
        marker=marker,
        queue=(self.request.delivery_info or {}).get("routing_key", ""),
        site=settings.UNDERSTACK_SITE,
        ssl=ssl,
        ssl_version=version,
        client_dn=client_dn,
        client_serial=client_serial,
    )
    return row.pk
