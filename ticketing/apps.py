from django.apps import AppConfig


class TicketingConfig(AppConfig):
    """The project package doubles as the app for accounts and cross-cutting pieces."""

    name = "ticketing"
    verbose_name = "Accounts"
