"""Sends siteprobe.record(marker) to a queue through the Nautobot Celery app and its settings (the global side).

    python3 send_task.py <queue> <marker>        prints the task id
"""

import sys


def main():
    from nautobot.core.celery import app

    queue, marker = sys.argv[1], sys.argv[2]
    result = app.send_task("siteprobe.record", args=[marker], queue=queue)
    print(result.id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
