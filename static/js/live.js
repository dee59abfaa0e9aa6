// The event websocket: reconnects with backoff, and tells the page when it reconnected so
// it can refetch what it may have missed while offline.

const NO_SUCH_EVENT = 4404;

export function connectEvent(path, { onMessage, onReconnect, onStatus } = {}) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  let socket = null;
  let attempts = 0;
  let closed = false;
  let everOpened = false;

  const open = () => {
    socket = new WebSocket(`${scheme}://${location.host}${path}`);
    let pinger = null;
    socket.addEventListener("open", () => {
      attempts = 0;
      // Keeps proxies from closing a quiet socket.
      pinger = setInterval(() => {
        if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "ping" }));
      }, 25_000);
      if (onStatus) onStatus("live");
      if (everOpened && onReconnect) onReconnect();
      everOpened = true;
    });
    socket.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (onMessage) onMessage(message);
    });
    socket.addEventListener("close", (event) => {
      clearInterval(pinger);
      // 4404: no such event; retrying cannot help.
      if (closed || event.code === NO_SUCH_EVENT) return;
      if (onStatus) onStatus("offline");
      attempts += 1;
      const delay = Math.min(15_000, 500 * 2 ** Math.min(attempts, 5)) * (0.75 + Math.random() / 2);
      setTimeout(open, delay);
    });
  };
  open();
  return {
    close() {
      closed = true;
      if (socket) socket.close();
    },
    // Send a message if the socket is open; false if it is not (the caller falls back to HTTP).
    send(message) {
      if (!socket || socket.readyState !== WebSocket.OPEN) return false;
      socket.send(JSON.stringify(message));
      return true;
    },
  };
}

// Message types (docs/realtime.md): stream.hello / stream.resync (on connect and after the
// server lost messages), seats.update {free: [ids], taken: [ids]}, sections.update
// {sections: [[id, free, total]]}, and the user's own waitlist.joined / waitlist.position /
// waitlist.offer / waitlist.left / waitlist.lapsed.
export function kindOf(message) {
  const type = String(message.type || "").toLowerCase();
  if (type.endsWith("hello")) return "hello";
  if (type.endsWith("resync")) return "resync";
  if (type.includes("offer")) return "offer";
  if (type.includes("lapsed")) return "lapsed";
  if (type.endsWith(".left")) return "left";
  if (type.includes("waitlist") || type.includes("position")) return "waitlist";
  if (type.includes("section") || type.includes("availability")) return "sections";
  if (type.includes("seat") || message.free || message.taken) return "seats";
  return type;
}

// [[sectionId, free]] from either [[id, free, total]] or [{id, available}].
export function sectionCounts(message) {
  return (message.sections || [])
    .map((item) =>
      Array.isArray(item) ? [Number(item[0]), Number(item[1])] : [Number(item.id ?? item.section_id), Number(item.available ?? item.free)],
    )
    .filter(([id, free]) => Number.isFinite(id) && Number.isFinite(free));
}

// [[seatId, free|null]]; null means "changed, status not given".
export function seatChanges(message) {
  const out = [];
  for (const id of message.free || message.available_ids || []) out.push([Number(id), true]);
  for (const id of message.taken || message.unavailable_ids || []) out.push([Number(id), false]);
  const list = message.seats || message.changes || message.seat_ids || [];
  for (const item of list) {
    if (Array.isArray(item)) {
      out.push([Number(item[0]), item.length > 1 ? isFree(item[1]) : null]);
    } else if (item !== null && typeof item === "object") {
      const id = Number(item.id ?? item.seat_id);
      const state = "free" in item ? item.free : "available" in item ? item.available : item.status;
      out.push([id, state === undefined ? null : isFree(state)]);
    } else {
      out.push([Number(item), null]);
    }
  }
  return out.filter(([id]) => Number.isFinite(id));
}

function isFree(state) {
  if (typeof state === "boolean") return state;
  if (typeof state === "number") return state === 1;
  return String(state).toLowerCase() === "available" || String(state).toLowerCase() === "free";
}
