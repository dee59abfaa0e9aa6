"""The django-q2 schedule of payment recovery and outbox delivery, created once by migrating
(see 0004 for why a migration)."""

from django.db import migrations
from django.utils import timezone

NAME = "checkout.payments_recover"


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=NAME,
        defaults={
            "func": "checkout.tasks.payments_recover_run",
            "schedule_type": "I",  # Schedule.MINUTES
            "minutes": 1,
            "repeats": -1,
            "next_run": timezone.now(),
        },
    )


def delete_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("checkout", "0006_payment_attempts_outbox")]

    operations = [migrations.RunPython(create_schedule, delete_schedule)]
