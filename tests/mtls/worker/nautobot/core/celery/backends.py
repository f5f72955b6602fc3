"""Stand-in for nautobot.core.celery.backends.NautobotDatabaseBackend: task results stored through the ORM."""

from celery.backends.base import BaseDictBackend


class NautobotDatabaseBackend(BaseDictBackend):
    def _store_result(self, task_id, result, state, traceback=None, request=None, **kwargs):
        from siteprobe.models import TaskResult

        TaskResult.objects.update_or_create(
            task_id=task_id, defaults={"status": state, "result": repr(result), "traceback": traceback or ""}
        )
        return result

    def _get_task_meta_for(self, task_id):
        from siteprobe.models import TaskResult

        row = TaskResult.objects.filter(task_id=task_id).first()
        if row is None:
            return {"status": "PENDING", "result": None}
        return {"status": row.status, "result": row.result, "traceback": row.traceback}
