from django.apps import AppConfig


class CheckoutConfig(AppConfig):
    name = "checkout"
    verbose_name = "Inventory and orders"

    def ready(self) -> None:
        from checkout.metrics import CheckoutCollector
        from ticketing.ops import metrics

        metrics.collector_register(CheckoutCollector())
