"""The reconcile and retention tasks moved to checkout/tasks.py (they run checkout's services,
and ticketing's base packages do not import the apps): point their stored schedules there."""

from django.db import migrations

MOVES = {
    "ticketing.ops.tasks.reconcile_run": "checkout.tasks.reconcile_run",
    "ticketing.ops.tasks.retention_run": "checkout.tasks.retention_run",
}


def _repoint(apps, moves):
    Schedule = apps.get_model("django_q", "Schedule")
    for old, new in moves.items():
        Schedule.objects.filter(func=old).update(func=new)


def forwards(apps, schema_editor):
    _repoint(apps, MOVES)


def backwards(apps, schema_editor):
    _repoint(apps, {new: old for old, new in MOVES.items()})


class Migration(migrations.Migration):
    dependencies = [("ticketing", "0004_schedules_ops_tasks_path")]

    operations = [migrations.RunPython(forwards, backwards)]
