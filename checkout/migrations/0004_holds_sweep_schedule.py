"""The django-q2 schedule of the hold sweeper, created once (idempotently) by migrating.

A migration, not ``AppConfig.ready``: ready() runs in every process (web, workers, shell,
tests) and would race to insert; a migration runs once per database and is recorded.
"""

from django.db import migrations
from django.utils import timezone

NAME = "checkout.holds_sweep"


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=NAME,
        defaults={
            "func": "checkout.tasks.holds_sweep",
            "schedule_type": "I",  # Schedule.MINUTES
            "minutes": 1,
            "repeats": -1,
            "next_run": timezone.now(),
        },
    )


def delete_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("checkout", "0003_inventory_version"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedule, delete_schedule)]
