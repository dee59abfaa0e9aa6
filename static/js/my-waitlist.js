// "My waitlist": each entry with its live position, and offers with a countdown and a pay link.

import { api, describe, showError } from "./api.js";
import { clockOffset } from "./countdown.js";
import { connectEvent, kindOf } from "./live.js";
import { entryEventId, lapse, offerOf, ordinal, renderOffer } from "./waitlist-live.js";

const gettext = (text) => (window.gettext ? window.gettext(text) : text);
const fmt = (text, values) => text.replace(/%\((\w+)\)s/g, (_, key) => String(values[key]));

const root = document.getElementById("my-waitlist");
const list = root.querySelector("[data-entries]");
const errorEl = root.querySelector("[data-error]");
const holdPageUrl = (id) => root.dataset.holdPage.replace(/\/0\/$/, `/${id}/`);
const eventPageUrl = (id) => root.dataset.eventPage.replace(/\/0\/$/, `/${id}/#seat-picker`);
const titles = JSON.parse(document.getElementById("event-titles")?.textContent || "{}");
// Only these can still change; finished entries are history and need no socket.
const ACTIVE = ["waiting", "offered"];
const FINISHED = {
  fulfilled: gettext("You bought these seats."),
  left: gettext("You left the waitlist."),
  lapsed: gettext("Your offer lapsed."),
};
const sockets = new Map();
const offset = clockOffset(root.dataset.serverNow);

function bannerTemplate() {
  const banner = document.createElement("div");
  banner.className = "offer-banner";
  banner.setAttribute("role", "alert");
  banner.hidden = true;
  banner.innerHTML =
    `<p><strong>${gettext("Seats are waiting for you!")}</strong> <span data-offer-seats></span></p>` +
    `<p>${fmt(gettext("They are yours for %(time)s."), {
      time: '<span class="countdown" data-offer-countdown role="timer">--:--</span>',
    })}</p>` +
    `<a class="button" data-offer-pay href="#">${gettext("Pay now")}</a>`;
  return banner;
}

function renderEntry(entry) {
  const item = document.createElement("li");
  item.className = "card";
  item.dataset.entry = String(entry.id);
  const eventId = entryEventId(entry);
  const known = entry.event_title || titles[String(eventId)];
  const link = document.createElement("a");
  link.href = eventPageUrl(eventId);
  link.textContent = known || fmt(gettext("Event %(id)s"), { id: eventId });
  if (!known) {
    // Joined after this page was rendered (another tab): the event's public detail has the title.
    api("GET", `/api/events/${eventId}`)
      .then((event) => {
        if (event && event.title) link.textContent = event.title;
      })
      .catch(() => {});
  }
  const position = document.createElement("p");
  position.setAttribute("role", "status");
  position.dataset.position = "";
  const update = () => {
    position.textContent = fmt(gettext("You are %(position)s in line for %(count)s seats."), {
      position: entry.position ? ordinal(Number(entry.position)) : "…",
      count: entry.quantity,
    });
  };
  update();
  if (!ACTIVE.includes(entry.status)) {
    item.classList.add("finished");
    position.textContent = FINISHED[entry.status] || entry.status;
    item.append(link, position);
    return item;
  }
  const leave = document.createElement("button");
  leave.type = "button";
  leave.className = "secondary";
  leave.textContent = gettext("Leave the waitlist");
  leave.addEventListener("click", async () => {
    try {
      await api("DELETE", `/api/waitlist/${entry.id}`);
      item.remove();
      sockets.get(entry.id)?.close();
    } catch (error) {
      showError(errorEl, describe(error));
    }
  });
  const banner = bannerTemplate();
  item.append(link, position, banner, leave);
  if (entry.offer) {
    renderOffer(banner, offerOf(entry), holdPageUrl, offset);
    position.textContent = gettext("Your seats are ready.");
  }
  sockets.set(
    entry.id,
    connectEvent(`/ws/events/${eventId}/`, {
      onMessage(message) {
        // Each socket also carries the user's messages about other events and entries.
        if (message.entry_id === undefined || Number(message.entry_id) !== Number(entry.id)) return;
        const kind = kindOf(message);
        if (kind === "waitlist") {
          entry.position = message.position ?? entry.position;
          update();
        } else if (kind === "offer") {
          renderOffer(banner, offerOf(message), holdPageUrl, offset);
          position.textContent = gettext("Your seats are ready.");
        } else if (kind === "lapsed") {
          lapse(banner);
          position.textContent = gettext("Your offer lapsed.");
        } else if (kind === "left") {
          item.remove();
        }
      },
    }),
  );
  return item;
}

async function load() {
  try {
    const data = await api("GET", root.dataset.listUrl);
    const entries = Array.isArray(data) ? data : data.items || data.entries || [];
    list.replaceChildren(...entries.map(renderEntry));
    if (!entries.length) {
      const empty = document.createElement("li");
      empty.className = "muted";
      empty.textContent = gettext("You are not waiting for any event.");
      list.appendChild(empty);
    }
  } catch (error) {
    showError(errorEl, describe(error));
  } finally {
    list.removeAttribute("aria-busy");
  }
}

load();
