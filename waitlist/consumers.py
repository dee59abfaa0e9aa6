"""The live feed of one event page: ``/ws/events/<event_id>/``.

Every viewer gets the seat map and section availability (checkout's reads); a signed-in
user also gets their place in the waitlist and their offers. It composes both, so it lives
in the waitlist app, the one above checkout. Message
types are documented in docs/realtime.md. Thin: state is read through selectors, and
nothing here writes.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.utils import timezone

from checkout.selectors.availability import section_availability_cached
from events.models import Event, EventStatus
from ticketing.core import realtime
from ticketing.core.errors import ApplicationError, RateLimited, Unauthenticated
from ticketing.ops import metrics
from ticketing.server.throttles import allow_on_loop, queue_join_throttles
from waitlist import queue_loop, queue_services
from waitlist import selectors as waitlist_selectors

# Close codes (4000-4999 are the application's).
CLOSE_NO_SUCH_EVENT = 4404


@database_sync_to_async
def _event_snapshot(event_id: int) -> dict | None:
    if not Event.objects.filter(pk=event_id).exclude(status=EventStatus.DRAFT).exists():
        return None
    sections = section_availability_cached(event_id=event_id, now=timezone.now())
    return {"sections": [[sid, s["free"], s["total"]] for sid, s in sections.items()]}


@database_sync_to_async
def _waitlist_state(user_id: int, event_id: int) -> dict | None:
    entry = waitlist_selectors.active_entry(user_id=user_id, event_id=event_id)
    if entry is None:
        return None
    return {
        "entry_id": entry.pk,
        "status": entry.status,
        "quantity": entry.quantity,
        "position": waitlist_selectors.entry_position(entry=entry),
    }


# The same limits as the API's join (per account, per address), counted in the same cache.
_JOIN_THROTTLES = queue_join_throttles()


class EventConsumer(AsyncJsonWebsocketConsumer):
    """Seat status and availability for everyone; waitlist place and offers for the signed-in user."""

    event_id: int
    user_id: int | None = None
    # The user's waiting entry for this event and its place in line, tracked from
    # ``waitlist.moved`` deltas so a move costs no query per waiting viewer.
    entry_id: int | None = None
    position: int | None = None
    counted: bool = False

    async def connect(self) -> None:
        # Accept before touching the database: daphne drops a handshake that is not
        # answered within its connect timeout, and during an on-sale the database hops of
        # thousands of handshakes queue up. An unknown event is closed with 4404 after
        # accepting, which browsers can read (a refused handshake only shows 1006).
        self.event_id = int(self.scope["url_route"]["kwargs"]["event_id"])
        self.groups_joined: set[str] = set()
        user = self.scope.get("user")
        if user is not None and user.is_authenticated:
            self.user_id = user.pk
            await self._join(realtime.user_group(user.pk))
        if parse_qs(self.scope.get("query_string", b"").decode()).get("view") == ["queue"]:
            # The waiting room's page (``?view=queue``) shows no seat map: it follows the
            # event's queue group only, so 2,000 waiting buyers are not sent every seat change.
            await self._join(realtime.queue_group(self.event_id))
            await self.accept()
            self.counted = True
            metrics.websocket_opened()
            await self.send_json({"type": "stream.hello", "event_id": self.event_id, "view": "queue"})
            return
        # Join before reading the snapshot, so a change committed after the read is pushed.
        await self._join(realtime.event_group(self.event_id))
        await self.accept()
        snapshot = await _event_snapshot(self.event_id)
        if snapshot is None:
            await self.close(code=CLOSE_NO_SUCH_EVENT)
            return
        self.counted = True
        metrics.websocket_opened()
        waitlist = await self._waitlist_reload()
        await self.send_json(
            {"type": "stream.hello", "event_id": self.event_id, **snapshot, "waitlist": waitlist}
        )

    async def dispatch(self, message: dict) -> None:
        # Channels' dispatch hops to a thread to close stale database connections before
        # every handler; with 1,500 viewers a seat-map push made 1,500 hops, and that was
        # 45% of a daphne process's CPU in the on-sale benchmark. Every database call here
        # goes through database_sync_to_async, which does that tidying itself.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def disconnect(self, code: int) -> None:
        if self.counted:  # refused connections were never counted
            self.counted = False
            metrics.websocket_closed()
        for group in getattr(self, "groups_joined", ()):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content, **kwargs) -> None:
        if not isinstance(content, dict):
            return
        if content.get("type") == "ping":
            await self.send_json({"type": "pong"})
        elif content.get("type") == "queue.join":
            await self._queue_join()

    async def _queue_join(self) -> None:
        """Join the event's waiting room over this socket: the page's way in at an on-sale.

        The socket's user was signed in by the session at the handshake (whose origin was
        checked), so a join here needs no request thread and no CSRF token: the common join is
        batched on the event loop (``queue_loop``) like a token's; the rest take the full path.
        Answers ``queue.joined`` (the place, as the API's ``QueueOut``, and ``created``) or
        ``queue.error`` (``code``, ``message``, ``extra`` as the API's errors).
        """
        user = self.scope.get("user")
        if not (user and user.is_authenticated):
            await self.send_json({"type": "queue.error", **Unauthenticated().as_dict()})
            return
        if not allow_on_loop(_JOIN_THROTTLES, scope=self.scope, user_id=user.pk):
            await self.send_json({"type": "queue.error", **RateLimited().as_dict()})
            return
        outcome = await queue_loop.batcher.join(
            event_id=self.event_id, user_id=user.pk, allowed=lambda _: True
        )
        if outcome is not None:
            view, created = outcome.view, outcome.created
        else:
            try:
                joined = await database_sync_to_async(queue_services.queue_join)(
                    user=user, event_id=self.event_id
                )
            except ApplicationError as exc:
                await self.send_json({"type": "queue.error", **exc.as_dict()})
                return
            view, created = joined.view, joined.created
        await self.send(text_data=queue_loop.place_json(view, type="queue.joined", created=created))

    async def _join(self, group: str) -> None:
        await self.channel_layer.group_add(group, self.channel_name)
        self.groups_joined.add(group)

    async def _leave(self, group: str) -> None:
        await self.channel_layer.group_discard(group, self.channel_name)
        self.groups_joined.discard(group)

    async def _waitlist_reload(self) -> dict | None:
        """Re-read the user's entry for this event (connect, resync)."""
        if self.user_id is None:
            return None
        group = realtime.waitlist_group(self.event_id)
        # Join before reading, so a move committed after the read is not missed.
        await self._join(group)
        state = await _waitlist_state(self.user_id, self.event_id)
        if state is None or state["status"] != "waiting":
            self.entry_id = self.position = None
            await self._leave(group)
        else:
            self.entry_id, self.position = state["entry_id"], state["position"]
        return state

    # --- event group ------------------------------------------------------------------

    async def seats_update(self, message: dict) -> None:
        await self.send_json(message)

    async def sections_update(self, message: dict) -> None:
        await self.send_json(message)

    async def event_cancelled(self, message: dict) -> None:
        await self.send_json(message)

    # --- queue group: the waiting room's pages ---------------------------------------------
    # One coalesced "now serving" per change, and the queue closing on a sell-out; each buyer
    # works out their own place from it.

    async def queue_moved(self, message: dict) -> None:
        await self.send_json(message)

    async def queue_closed(self, message: dict) -> None:
        await self.send_json(message)

    async def stream_resync(self, message: dict) -> None:
        # The layer reconnected: messages may be lost. Re-read what we track; the page
        # re-fetches the seat map.
        waitlist = await self._waitlist_reload()
        await self.send_json({"type": "stream.resync", "event_id": self.event_id, "waitlist": waitlist})

    # --- waitlist group: only consumers of users waiting for this event ----------------

    async def waitlist_moved(self, message: dict) -> None:
        if self.entry_id is None:
            return
        ahead = sum(1 for entry_id in message["left"] if entry_id < self.entry_id)
        if ahead and self.entry_id not in message["left"]:
            self.position = max(1, self.position - ahead)
            await self.send_json(
                {
                    "type": "waitlist.position",
                    "event_id": self.event_id,
                    "entry_id": self.entry_id,
                    "position": self.position,
                }
            )

    # --- user group: this user's own messages, for any event ---------------------------

    async def waitlist_joined(self, message: dict) -> None:
        if message["event_id"] == self.event_id:
            await self._join(realtime.waitlist_group(self.event_id))
            self.entry_id, self.position = message["entry_id"], message["position"]
        await self.send_json(message)

    async def waitlist_offer(self, message: dict) -> None:
        await self._stop_tracking(message)
        await self.send_json(message)

    async def waitlist_left(self, message: dict) -> None:
        await self._stop_tracking(message)
        await self.send_json(message)

    async def waitlist_lapsed(self, message: dict) -> None:
        await self.send_json(message)

    async def waitlist_closed(self, message: dict) -> None:
        await self._stop_tracking(message)
        await self.send_json(message)

    async def waitlist_fulfilled(self, message: dict) -> None:
        await self.send_json(message)

    async def queue_admitted(self, message: dict) -> None:
        # This buyer's turn (sent to them alone); only the page of that event shows it.
        if message["event_id"] == self.event_id:
            await self.send_json(message)

    async def _stop_tracking(self, message: dict) -> None:
        if message["event_id"] == self.event_id and message["entry_id"] == self.entry_id:
            self.entry_id = self.position = None
            await self._leave(realtime.waitlist_group(self.event_id))
