"""Order links: a random secret per order. Existing orders each get their own (a callable
default in ``AddField`` would give every existing row the same one)."""

from django.db import migrations, models

import checkout.models


def fill_tokens(apps, schema_editor):
    Order = apps.get_model("checkout", "Order")
    for order in Order.objects.filter(access_token__isnull=True).only("pk").iterator():
        Order.objects.filter(pk=order.pk).update(access_token=checkout.models.new_order_token())


class Migration(migrations.Migration):
    dependencies = [("checkout", "0008_stripe_intents")]

    operations = [
        migrations.AddField(
            model_name="order",
            name="access_token",
            field=models.CharField(max_length=64, null=True, editable=False),
        ),
        migrations.RunPython(fill_tokens, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="order",
            name="access_token",
            field=models.CharField(default=checkout.models.new_order_token, editable=False, max_length=64),
        ),
    ]
