"""Sends siteprobe.record(marker) to a queue through the Nautobot Celery app and its settings (the global side).

    python3 send_task.py <queue> <marker>        prints the task id
    python3 send_task.py migrate                 creates the test app's tables (Django's migrate)
"""

import sys


def main():
    if sys.argv[1] == "migrate":
        from nautobot.core.standin import setup

        setup()
        from django.core.management import call_command

        call_command("migrate", "siteprobe", verbosity=1)
        return 0
    from nautobot.core.celery import app

    queue, marker = sys.argv[1], sys.argv[2]
    result = app.send_task("siteprobe.record", args=[marker], queue=queue)
    print(result.id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
