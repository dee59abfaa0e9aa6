from django.core.management import call_command
from django.core.management.base import BaseCommand

from events.models import Venue


class Command(BaseCommand):
    help = "Load the demo data when the catalog is empty (used by bin/run)."

    def handle(self, *args, **options):
        if Venue.objects.exists():
            self.stdout.write("Catalog not empty; demo data not loaded.")
            return
        call_command("seed_demo")
