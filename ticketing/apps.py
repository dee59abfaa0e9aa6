from django.apps import AppConfig


class TicketingConfig(AppConfig):
    """The project package doubles as the app for accounts and cross-cutting pieces."""

    name = "ticketing"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from django_q.signals import post_spawn

        from ticketing.ops.tasks import cluster_worker_started

        post_spawn.connect(cluster_worker_started, dispatch_uid="ticketing.cluster_worker_started")
