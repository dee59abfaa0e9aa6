// The waitlist part of the event page: join for N seats when sold out, the live position,
// and the offer banner (its own countdown, one click to the payment page).

import { api, describe, showError } from "./api.js";
import { clockOffset, startCountdown } from "./countdown.js";

const ACTIVE = new Set(["waiting", "offered", "active", "pending", ""]);

export function ordinal(n) {
  const tens = n % 100;
  if (tens >= 11 && tens <= 13) return `${n}th`;
  return `${n}${{ 1: "st", 2: "nd", 3: "rd" }[n % 10] || "th"}`;
}

export function entryEventId(entry) {
  return Number(entry.event_id ?? (entry.event && (entry.event.id ?? entry.event)));
}

export function offerOf(source) {
  // An offer arrives either as a message ({hold_id, expires_at, seats}) or inside an entry.
  const offer = source.offer || source.hold || source;
  const holdId = offer.hold_id ?? offer.id ?? source.hold_id;
  const expiresAt = offer.expires_at ?? source.offer_expires_at ?? source.expires_at;
  if (!holdId || !expiresAt) return null;
  return { holdId: Number(holdId), expiresAt, seats: offer.seats || source.seats || [], serverNow: source.server_now || source.now };
}

export function describeSeats(seats) {
  if (!seats || !seats.length) return "";
  const names = seats.map((s) => (s.row ? `Row ${s.row} seat ${s.label}` : s.label ? `Spot ${s.label}` : "a seat"));
  return `${seats[0].section ? `${seats[0].section}: ` : ""}${names.join(", ")}`;
}

export function renderOffer(banner, offer, holdPageUrl) {
  banner.querySelector("[data-offer-seats]").textContent = describeSeats(offer.seats);
  const pay = banner.querySelector("[data-offer-pay]");
  pay.href = holdPageUrl(offer.holdId);
  pay.hidden = false;
  banner.hidden = false;
  banner.classList.remove("lapsed");
  const countdown = banner.querySelector("[data-offer-countdown]");
  if (banner._countdown) banner._countdown.stop();
  banner._countdown = startCountdown(countdown, offer.expiresAt, {
    offset: offer.serverNow ? clockOffset(offer.serverNow) : 0,
    onExpire: () => {
      banner.classList.add("lapsed");
      pay.hidden = true;
      banner.querySelector("p").textContent = "Your offer lapsed and the seats went to the next person in line.";
    },
  });
}

export function initWaitlist(root, { eventId, waitlistUrl, signedIn, loginUrl, holdPageUrl }) {
  const panel = root.querySelector("[data-waitlist]");
  const form = root.querySelector("[data-waitlist-join]");
  const entryBox = root.querySelector("[data-waitlist-entry]");
  const positionEl = root.querySelector("[data-waitlist-position]");
  const quantityEl = root.querySelector("[data-waitlist-quantity]");
  const banner = root.querySelector("[data-offer-banner]");
  const errorEl = root.querySelector("[data-error]");
  let entry = null;
  let soldOut = false;

  function render() {
    panel.hidden = !(soldOut || entry);
    form.hidden = Boolean(entry);
    entryBox.hidden = !entry;
    if (entry) {
      positionEl.textContent = entry.position ? ordinal(Number(entry.position)) : "…";
      quantityEl.textContent = String(entry.quantity);
    }
  }

  function showOffer(source) {
    const offer = offerOf(source);
    if (!offer) return;
    renderOffer(banner, offer, holdPageUrl);
    entryBox.hidden = true;
  }

  async function loadMine() {
    if (!signedIn) return;
    try {
      const data = await api("GET", "/api/waitlist");
      const entries = Array.isArray(data) ? data : data.items || data.entries || [];
      entry = entries.find((e) => entryEventId(e) === eventId && ACTIVE.has(String(e.status || "").toLowerCase())) || null;
      render();
      if (entry && (entry.offer || entry.hold_id)) showOffer(entry);
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
      if (kind === "waitlist") {
        if (entry && message.entry_id !== undefined && Number(message.entry_id) !== Number(entry.id)) return;
        const status = String(message.status || "").toLowerCase();
        if (status && !ACTIVE.has(status)) {
          entry = null;
        } else if (entry) {
          entry.position = message.position ?? entry.position;
        } else if (message.position !== undefined) {
          entry = { id: message.entry_id, position: message.position, quantity: message.quantity };
        }
        render();
      } else if (kind === "offer") {
        showOffer(message);
      }
    },
  };
}
