// The waitlist part of the event page: join for N seats when sold out, the live position,
// and the offer banner (its own countdown, one click to the payment page).

import { api, describe, showError } from "./api.js";
import { clockOffset, startCountdown } from "./countdown.js";

const gettext = (text) => (window.gettext ? window.gettext(text) : text);
const ngettext = (one, many, n) => (window.ngettext ? window.ngettext(one, many, n) : n === 1 ? one : many);
const fmt = (text, values) => text.replace(/%\((\w+)\)s/g, (_, key) => String(values[key]));

const ACTIVE = new Set(["waiting", "offered", "active", "pending", ""]);

export function ordinal(n) {
  // German (and most languages here) write "1." for "1st".
  if (!(document.documentElement.lang || "en").startsWith("en")) return `${n}.`;
  const tens = n % 100;
  if (tens >= 11 && tens <= 13) return `${n}th`;
  return `${n}${{ 1: "st", 2: "nd", 3: "rd" }[n % 10] || "th"}`;
}

export function entryEventId(entry) {
  return Number(entry.event_id ?? (entry.event && (entry.event.id ?? entry.event)));
}

export function offerOf(source, seatsById = () => []) {
  // An offer arrives as a waitlist.offer message or inside an entry of GET /api/waitlist.
  const offer = source.offer || source;
  const holdId = offer.hold_id;
  const expiresAt = offer.expires_at;
  if (!holdId || !expiresAt) return null;
  const seats = offer.seats || seatsById(offer.seat_ids || []);
  return { holdId: Number(holdId), expiresAt, seats, count: (offer.seat_ids || seats).length };
}

export function describeSeats(seats) {
  if (!seats || !seats.length) return "";
  const names = seats.map((s) =>
    s.row
      ? fmt(gettext("Row %(row)s seat %(seat)s"), { row: s.row, seat: s.label })
      : s.label
        ? fmt(gettext("Spot %(seat)s"), { seat: s.label })
        : gettext("a seat"),
  );
  return `${seats[0].section ? `${seats[0].section}: ` : ""}${names.join(", ")}`;
}

export function renderOffer(banner, offer, holdPageUrl, offset = 0) {
  banner.querySelector("[data-offer-seats]").textContent =
    describeSeats(offer.seats) ||
    (offer.count
      ? fmt(ngettext("%(count)s seat held for you.", "%(count)s seats held for you.", offer.count), { count: offer.count })
      : "");
  const pay = banner.querySelector("[data-offer-pay]");
  pay.href = holdPageUrl(offer.holdId);
  pay.hidden = false;
  banner.hidden = false;
  banner.classList.remove("lapsed");
  const countdown = banner.querySelector("[data-offer-countdown]");
  if (banner._countdown) banner._countdown.stop();
  banner._countdown = startCountdown(countdown, offer.expiresAt, { offset, onExpire: () => lapse(banner) });
}

export function lapse(banner) {
  if (banner.hidden) return;
  banner._countdown?.stop();
  banner.classList.add("lapsed");
  banner.querySelector("[data-offer-pay]").hidden = true;
  banner.querySelector("p").textContent = gettext("Your offer lapsed and the seats went to the next person in line.");
}

export function initWaitlist(root, { eventId, waitlistUrl, signedIn, loginUrl, holdPageUrl, seatsById }) {
  const panel = root.querySelector("[data-waitlist]");
  const form = root.querySelector("[data-waitlist-join]");
  const entryBox = root.querySelector("[data-waitlist-entry]");
  const positionEl = root.querySelector("[data-waitlist-position]");
  const quantityEl = root.querySelector("[data-waitlist-quantity]");
  const banner = root.querySelector("[data-offer-banner]");
  const errorEl = root.querySelector("[data-error]");
  let entry = null;
  let soldOut = false;
  const offset = clockOffset(root.dataset.serverNow);

  function render() {
    // With an offer open the banner says it all; the place in line no longer applies.
    const offered = Boolean(entry) && String(entry.status) === "offered";
    panel.hidden = offered || !(soldOut || entry);
    form.hidden = Boolean(entry);
    entryBox.hidden = !entry;
    if (entry) {
      positionEl.textContent = entry.position ? ordinal(Number(entry.position)) : "…";
      quantityEl.textContent = String(entry.quantity);
    }
  }

  function showOffer(source) {
    const offer = offerOf(source, seatsById);
    if (!offer) return;
    renderOffer(banner, offer, holdPageUrl, offset);
    entryBox.hidden = true;
  }

  async function loadMine() {
    if (!signedIn) return;
    try {
      const data = await api("GET", "/api/waitlist");
      const entries = Array.isArray(data) ? data : data.items || data.entries || [];
      entry = entries.find((e) => entryEventId(e) === eventId && ACTIVE.has(String(e.status || "").toLowerCase())) || null;
      render();
      if (entry && entry.offer) showOffer(entry);
    } catch {
      // The page still works without it; the websocket brings positions and offers.
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!signedIn) {
      location.assign(loginUrl);
      return;
    }
    const button = form.querySelector("button");
    button.disabled = true;
    showError(errorEl, "");
    try {
      entry = await api("POST", waitlistUrl, { quantity: Number(form.quantity.value) });
      render();
    } catch (error) {
      showError(errorEl, describe(error));
    } finally {
      button.disabled = false;
    }
  });

  root.querySelector('[data-action="leave-waitlist"]').addEventListener("click", async () => {
    if (!entry) return;
    try {
      await api("DELETE", `/api/waitlist/${entry.id}`);
      entry = null;
      render();
    } catch (error) {
      showError(errorEl, describe(error));
    }
  });

  loadMine();
  return {
    setSoldOut(value) {
      soldOut = value;
      render();
    },
    onMessage(kind, message) {
      const mine = !entry || message === null || message.entry_id === undefined || Number(message.entry_id) === Number(entry.id);
      if (kind === "state") {
        // The server's view on (re)connect: waiting with a place, offered, or nothing.
        if (message === null) {
          if (entry && String(entry.status) !== "offered") entry = null;
        } else if (message.status === "waiting") {
          entry = { ...(entry || {}), id: message.entry_id, status: "waiting", position: message.position, quantity: message.quantity };
        }
        render();
      } else if (kind === "waitlist" && mine) {
        entry = {
          ...(entry || {}),
          id: message.entry_id ?? entry?.id,
          status: "waiting",
          position: message.position ?? entry?.position,
          quantity: message.quantity ?? entry?.quantity,
        };
        render();
      } else if (kind === "offer" && mine) {
        if (entry) entry.status = "offered";
        showOffer(message);
      } else if ((kind === "left" || kind === "lapsed") && mine) {
        entry = null;
        if (kind === "lapsed") lapse(banner);
        else banner.hidden = true;
        render();
      }
    },
  };
}
