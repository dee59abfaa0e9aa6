"""Read-only view of waitlists for staff; joins, leaves and offers go through services."""

from django.contrib import admin
from django.utils import timezone

from checkout.services import admission
from ticketing.admin import ReadOnlyAdmin
from waitlist import queue_selectors
from waitlist.models import EventQueue, QueueEntry, WaitlistEntry


@admin.register(WaitlistEntry)
class WaitlistEntryAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "event",
        "user",
        "quantity",
        "section",
        "status",
        "created_at",
        "offered_at",
        "offer_hold",
    ]
    list_filter = ["status"]
    search_fields = ["user__email", "event__title"]
    list_select_related = ["event", "user", "section", "offer_hold"]
    raw_id_fields = ["event", "user", "section", "offer_hold"]


@admin.register(EventQueue)
class EventQueueAdmin(ReadOnlyAdmin):
    """Each waiting room's queue while it runs: waiting, admitted, checking out, admitted per
    minute. Pause and resume are actions; the limit and the switch are on "Waiting rooms"."""

    list_display = [
        "event",
        "room",
        "waiting",
        "admitted",
        "checking_out",
        "admitted_per_minute_now",
        "now_serving",
        "last_number",
        "opened_at",
        "closed_at",
    ]
    list_select_related = ["event"]
    actions = ["pause", "resume"]

    def _stats(self, obj: EventQueue) -> dict:
        cache = self.__dict__.setdefault("_stats_cache", {})
        if obj.pk not in cache:
            cache[obj.pk] = queue_selectors.queue_stats(event_id=obj.pk, now=timezone.now())
        return cache[obj.pk]

    def changelist_view(self, request, extra_context=None):
        self.__dict__["_stats_cache"] = {}
        return super().changelist_view(request, extra_context)

    @admin.display(description="room")
    def room(self, obj: EventQueue) -> str:
        stats = self._stats(obj)
        state = "paused" if stats["paused"] else ("on" if stats["enabled"] else "off")
        return f"{state}, limit {stats['checkout_limit']}"

    @admin.display(description="waiting")
    def waiting(self, obj: EventQueue) -> int:
        return self._stats(obj)["waiting"]

    @admin.display(description="admitted")
    def admitted(self, obj: EventQueue) -> int:
        return self._stats(obj)["admitted"]

    @admin.display(description="checking out")
    def checking_out(self, obj: EventQueue) -> int:
        return self._stats(obj)["checking_out"]

    @admin.display(description="admitted / minute")
    def admitted_per_minute_now(self, obj: EventQueue) -> float:
        return self._stats(obj)["admitted_per_minute"]

    @admin.action(description="Pause admission")
    def pause(self, request, queryset) -> None:
        for event_id in queryset.values_list("pk", flat=True):
            admission.room_update(event_id=event_id, paused=True)

    @admin.action(description="Resume admission")
    def resume(self, request, queryset) -> None:
        for event_id in queryset.values_list("pk", flat=True):
            admission.room_update(event_id=event_id, paused=False)


@admin.register(QueueEntry)
class QueueEntryAdmin(ReadOnlyAdmin):
    list_display = ["id", "event", "user", "number", "state", "joined_at", "last_seen_at", "admitted_at"]
    list_filter = ["state"]
    search_fields = ["user__email", "event__title"]
    list_select_related = ["event", "user"]
    raw_id_fields = ["event", "user", "admission_pass"]
