"""Database guarantees of staff setup (issue 19).

- An on-sale event has inventory: ``event_on_sale_has_inventory`` (CHECK) plus a composite
  foreign key (id, inventory_seat_id) -> checkout_seatinventory (event_id, seat_id). A
  constraint, not a trigger: it cannot be disabled by a forgotten code path, it is checked
  on every write (raw SQL included), and it costs one index probe at publish time.
- A price names a section of the event's venue: composite foreign keys through
  ``price.venue_id``.

Existing data is repaired first: on-sale events anchor on their inventory (or go back to
draft when they have none, which buyers saw as "sold out, 0 of 0"), and prices for another
venue's section are removed (no buyer could use them).
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('events', '0002_browse_search_soldout_catalog'),
        ('checkout', '0002_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='event',
            name='inventory_seat',
            field=models.ForeignKey(blank=True, editable=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='events.seat'),
        ),
        migrations.AddField(
            model_name='price',
            name='venue',
            field=models.ForeignKey(editable=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='events.venue'),
        ),
        migrations.AddField(
            model_name='venue',
            name='stage',
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.RunSQL(
            """
            UPDATE events_event e
               SET inventory_seat_id = (SELECT min(i.seat_id) FROM checkout_seatinventory i WHERE i.event_id = e.id);
            UPDATE events_event SET status = 'draft' WHERE status = 'on_sale' AND inventory_seat_id IS NULL;
            UPDATE events_price p SET venue_id = e.venue_id FROM events_event e WHERE e.id = p.event_id;
            DELETE FROM events_price p USING events_section s
             WHERE s.id = p.section_id AND s.venue_id <> p.venue_id;
            """,
            migrations.RunSQL.noop,
        ),
        migrations.AlterField(
            model_name='price',
            name='venue',
            field=models.ForeignKey(editable=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='events.venue'),
        ),
        migrations.AddConstraint(
            model_name='event',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('status', 'on_sale'), _negated=True), ('inventory_seat__isnull', False), _connector='OR'), name='event_on_sale_has_inventory', violation_error_message='An event goes on sale only by publishing it (the Publish action creates its inventory).'),
        ),
        migrations.AddConstraint(
            model_name='event',
            constraint=models.UniqueConstraint(fields=('id', 'venue'), name='event_id_venue_unique'),
        ),
        migrations.AddConstraint(
            model_name='section',
            constraint=models.UniqueConstraint(fields=('id', 'venue'), name='section_id_venue_unique'),
        ),
        migrations.RunSQL(
            """
            ALTER TABLE events_event ADD CONSTRAINT event_on_sale_inventory_fk
                FOREIGN KEY (id, inventory_seat_id) REFERENCES checkout_seatinventory (event_id, seat_id);
            ALTER TABLE events_price ADD CONSTRAINT price_event_venue_fk
                FOREIGN KEY (event_id, venue_id) REFERENCES events_event (id, venue_id);
            ALTER TABLE events_price ADD CONSTRAINT price_section_venue_fk
                FOREIGN KEY (section_id, venue_id) REFERENCES events_section (id, venue_id);
            """,
            """
            ALTER TABLE events_event DROP CONSTRAINT event_on_sale_inventory_fk;
            ALTER TABLE events_price DROP CONSTRAINT price_event_venue_fk;
            ALTER TABLE events_price DROP CONSTRAINT price_section_venue_fk;
            """,
        ),
    ]
