from django.apps import AppConfig


class WaitlistConfig(AppConfig):
    name = "waitlist"
    verbose_name = "Waitlist"

    def ready(self) -> None:
        # Checkout sits below the waitlist and may not import it: the waitlist subscribes to
        # the inventory changes it reacts to. This is the one place these reactions are wired.
        from checkout.selectors import dashboard
        from checkout.services import hooks
        from waitlist import queue_selectors, queue_services, selectors, services

        hooks.subscribe(hooks.SEATS_RELEASED, services.waitlist_seats_released)
        hooks.subscribe(hooks.OFFER_BOUGHT, services.waitlist_offer_bought)
        hooks.subscribe(hooks.EVENT_CANCELLED, services.waitlist_event_close)
        hooks.subscribe(hooks.ADMISSION_FREED, queue_services.queue_admission_freed)
        hooks.subscribe(hooks.EVENT_SOLD_OUT, queue_services.queue_sold_out)
        dashboard.panel_register(selectors.waitlist_dashboard_figures)
        dashboard.panel_register(queue_selectors.queue_dashboard_figures)
