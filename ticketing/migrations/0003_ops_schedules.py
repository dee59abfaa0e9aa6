"""The operations schedules, created once (and left alone if staff changed them since)."""

import datetime as dt

from django.db import migrations
from django.utils import timezone

# name -> (func, schedule_type, minutes, first run at this UTC time of day or None for "now")
SCHEDULES = {
    "ops: heartbeat": ("ticketing.tasks.heartbeat_record", "I", 1, None),
    "ops: reconcile": ("ticketing.tasks.reconcile_run", "D", None, dt.time(3, 30)),
    "ops: retention": ("ticketing.tasks.retention_run", "D", None, dt.time(4, 0)),
}


def _first_run(at):
    now = timezone.now()
    if at is None:
        return now
    first = now.replace(hour=at.hour, minute=at.minute, second=0, microsecond=0)
    return first if first > now else first + dt.timedelta(days=1)


def create(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    for name, (func, kind, minutes, at) in SCHEDULES.items():
        Schedule.objects.get_or_create(
            name=name,
            defaults={
                "func": func,
                "schedule_type": kind,
                "minutes": minutes,
                "repeats": -1,
                "next_run": _first_run(at),
            },
        )


def remove(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name__in=list(SCHEDULES)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("ticketing", "0002_heartbeat"),
        ("django_q", "0018_task_success_index"),
    ]

    operations = [migrations.RunPython(create, remove)]
