"""ticketing/tasks.py moved to ticketing/ops/tasks.py: point stored schedules at the new path.

django-q2 stores each schedule's task as a dotted path and imports it when the schedule
fires, so a schedule still naming ``ticketing.tasks.*`` would fail after the move.
"""

from django.db import migrations

OLD = "ticketing.tasks."
NEW = "ticketing.ops.tasks."


def _repoint(apps, old, new):
    Schedule = apps.get_model("django_q", "Schedule")
    for schedule in Schedule.objects.filter(func__startswith=old):
        schedule.func = new + schedule.func.removeprefix(old)
        schedule.save(update_fields=["func"])


def forwards(apps, schema_editor):
    _repoint(apps, OLD, NEW)


def backwards(apps, schema_editor):
    _repoint(apps, NEW, OLD)


class Migration(migrations.Migration):
    dependencies = [
        ("ticketing", "0003_ops_schedules"),
        ("django_q", "0018_task_success_index"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
