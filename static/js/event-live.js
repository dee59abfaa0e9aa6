// Live feed of an event page: /ws/events/<id>/ (message types: docs/realtime.md).
//
// Usage: <script src="{% static 'js/event-live.js' %}" data-event-id="{{ event.id }}" defer></script>
// Every server message is re-dispatched on `document` as a CustomEvent named
// "live:<type>" (e.g. "live:seats.update", "live:waitlist.offer") with the message as
// `detail`, so the seat map and waitlist widgets stay independent of the socket.
// Reconnects with backoff; after a reconnect it dispatches "live:stream.resync" so the
// page re-fetches state it may have missed.
(function () {
  "use strict";
  var script = document.currentScript;
  var eventId = script && script.dataset.eventId;
  if (!eventId || !("WebSocket" in window)) return;

  var scheme = location.protocol === "https:" ? "wss://" : "ws://";
  var url = scheme + location.host + "/ws/events/" + encodeURIComponent(eventId) + "/";
  var backoff = 500;
  var connectedBefore = false;
  var pingTimer = null;

  function emit(message) {
    document.dispatchEvent(new CustomEvent("live:" + message.type, { detail: message }));
  }

  function open() {
    var socket = new WebSocket(url);
    socket.addEventListener("open", function () {
      backoff = 500;
      if (connectedBefore) emit({ type: "stream.resync", event_id: Number(eventId) });
      connectedBefore = true;
      // Keeps proxies from closing an idle socket.
      pingTimer = setInterval(function () {
        if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "ping" }));
      }, 25000);
    });
    socket.addEventListener("message", function (e) {
      try {
        emit(JSON.parse(e.data));
      } catch (err) {
        // A malformed frame is dropped; the next update or resync repairs the view.
      }
    });
    socket.addEventListener("close", function (e) {
      clearInterval(pingTimer);
      if (e.code === 4404) return; // no such event: retrying cannot help
      setTimeout(open, backoff + Math.random() * backoff);
      backoff = Math.min(backoff * 2, 15000);
    });
  }

  open();
})();
