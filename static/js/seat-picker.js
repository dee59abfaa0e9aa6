// The event's seat picker: an SVG map drawn from /api/events/{id}/seats, live over the event
// websocket, with "best available" beside it. Big venues open on a section overview and zoom
// into one section, so a 20,000-seat arena never puts 20,000 nodes on a phone.

import { api, describe, showError } from "./api.js";
import { connectEvent, kindOf, seatChanges, sectionCounts } from "./live.js";
import { PanZoom } from "./panzoom.js";
import { money, normalize, number, priceColours, stageOf } from "./seatmap-data.js";
import { initWaitlist } from "./waitlist-live.js";

// Django's JavaScriptCatalog (loaded by base.html) provides gettext; English without it.
const gettext = window.gettext || ((text) => text);
const ngettext = window.ngettext || ((one, many, n) => (n === 1 ? one : many));
const fmt = (text, values) => text.replace(/%\((\w+)\)s/g, (_, key) => String(values[key]));

const SVG = "http://www.w3.org/2000/svg";
// Above this many seats the map starts on the section overview.
const OVERVIEW_ABOVE = 1500;
// WCAG 2.2 target size: seats are at least this many CSS px wide at the picking zoom.
const TARGET_PX = 24;
const ZOOM_STEP = 1.6;

const root = document.getElementById("seat-picker");
const $ = (selector) => root.querySelector(selector);
const config = {
  eventId: Number(root.dataset.eventId),
  eventUrl: root.dataset.eventUrl,
  seatsUrl: root.dataset.seatsUrl,
  holdsUrl: root.dataset.holdsUrl,
  holdPage: root.dataset.holdPage,
  loginUrl: root.dataset.loginUrl,
  signedIn: root.dataset.signedIn === "1",
  salesOpen: root.dataset.salesOpen === "1",
  maxSeats: Number(root.dataset.maxSeats) || 10,
};

const state = {
  sections: [],
  seats: new Map(), // id -> seat (with .section)
  selected: new Set(),
  colours: new Map(),
  stage: null, // the marker staff drew (venue.stage), else inferred from the layout
  view: null, // null = everything / overview; a section id = zoomed in
  overview: false,
  loaded: false,
  pending: [],
  busy: false,
};

const mapEl = $("[data-map]");
const errorEl = $("[data-error]");
const statusEl = $("[data-live-status]");
const holdButton = $('[data-action="hold"]');
const overviewButton = $('[data-action="overview"]');
const titleEl = root.querySelector(".map-title");
const hintEl = $("[data-map-hint]");
// Seats named in the URL (?seats=1,2: "try the same seats again") are picked once loaded.
const wanted = new Set(
  (new URLSearchParams(location.search).get("seats") || "")
    .split(",")
    .map(Number)
    .filter((id) => id > 0),
);
const panzoom = new PanZoom(mapEl, { onChange: afterZoom });

function el(name, attrs = {}, parent = null) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (parent) parent.appendChild(node);
  return node;
}

function announce(text) {
  statusEl.textContent = text;
}

// After a failed hold the button that was pressed is disabled mid-request, which drops the
// keyboard focus to the page; put it on the message instead, so it is read and its link
// ("Go to your held seats") is one Tab away.
function focusError() {
  errorEl.setAttribute("tabindex", "-1");
  errorEl.focus();
}

function seatName(seat, withSection) {
  const place = seat.row
    ? fmt(gettext("Row %(row)s seat %(seat)s"), { row: seat.row, seat: seat.label })
    : fmt(gettext("Spot %(seat)s"), { seat: seat.label });
  return withSection ? `${seat.section.name}, ${place}` : place;
}

function seatLabel(seat) {
  const many = state.view === null && state.sections.filter((s) => s.kind !== "general").length > 1;
  const parts = [seatName(seat, many), money(seat.section.price, seat.section.currency)];
  if (seat.accessible) parts.push(gettext("wheelchair accessible"));
  if (!seat.free && !state.selected.has(seat.id)) parts.push(gettext("taken"));
  return parts.filter(Boolean).join(", ");
}

function seatRadius(section) {
  const rows = new Map();
  for (const seat of section.seats) rows.set(seat.row, (rows.get(seat.row) || 0) + 1);
  const perRow = Math.max(1, ...rows.values());
  const g = section.geometry;
  // Nearly touching, so the tap target is most of the seat's pitch; capped so a tiny section
  // does not draw seats the size of a stage (the map is 1000 wide).
  return Math.min(24, Math.max(0.6, 0.45 * Math.min(g.width / perRow, g.height / Math.max(1, rows.size))));
}

function bounds(boxes) {
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (const g of boxes) {
    minX = Math.min(minX, g.x);
    minY = Math.min(minY, g.y);
    maxX = Math.max(maxX, g.x + g.width);
    maxY = Math.max(maxY, g.y + g.height);
  }
  const pad = Math.max(maxX - minX, maxY - minY) * 0.03 + 2;
  return [minX - pad, minY - pad, maxX - minX + 2 * pad, maxY - minY + 2 * pad];
}

function sectionText(section) {
  if (section.available === 0) return gettext("sold out");
  return fmt(gettext("%(count)s free"), { count: number(section.available) });
}

function drawDefs(svg) {
  // Taken seats and sold-out blocks are hatched, not only grey: colour is never the only sign.
  const defs = el("defs", {}, svg);
  const hatch = el("pattern", { id: "taken-hatch", width: 4, height: 4, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" }, defs);
  el("rect", { width: 4, height: 4, fill: "#d0d5dd" }, hatch);
  el("line", { x1: 0, y1: 0, x2: 0, y2: 4, stroke: "#667085", "stroke-width": 1.6 }, hatch);
}

function drawStage(svg, stage) {
  const group = el("g", { class: `stage ${stage.kind}`, "aria-hidden": "true" }, svg);
  el("rect", { x: stage.x, y: stage.y, width: stage.width, height: stage.height, rx: 6 }, group);
  const size = Math.max(8, Math.min(stage.height * 0.5, stage.width / 10, 36));
  const text = el("text", { x: stage.x + stage.width / 2, y: stage.y + stage.height / 2 + size * 0.35, "font-size": size }, group);
  text.textContent = stage.label || (stage.kind === "field" ? gettext("Field") : gettext("Stage"));
}

function draw({ keepView = false } = {}) {
  mapEl.replaceChildren();
  mapEl.removeAttribute("aria-busy");
  const shown = state.view === null ? state.sections : state.sections.filter((s) => s.id === state.view);
  const stage = stageOf(state.sections, state.stage);
  const home = bounds([
    ...shown.map((s) => s.geometry),
    ...(stage && state.view === null ? [stage] : []),
  ]);
  const svg = el("svg", {
    viewBox: home.join(" "),
    role: "group",
    "aria-label": state.view === null ? gettext("Seat map") : fmt(gettext("Seats in %(section)s"), { section: shown[0].name }),
    preserveAspectRatio: "xMidYMid meet",
    class: "seat-map",
  });
  drawDefs(svg);
  if (stage) drawStage(svg, stage);
  overviewButton.hidden = !(state.overview && state.view !== null);
  titleEl.textContent = state.view === null ? gettext("Seat map") : shown[0].name;

  for (const section of shown) {
    const g = section.geometry;
    const colour = state.colours.get(section.price) || "#475467";
    const group = el("g", { class: "section", "data-section": section.id }, svg);
    const rect = el(
      "rect",
      // Rotated about its centre like the section editor draws it (seats are placed rotated).
      { x: g.x, y: g.y, width: g.width, height: g.height, rx: 4, fill: colour, class: "section-area", transform: `rotate(${g.rotation || 0} ${g.x + g.width / 2} ${g.y + g.height / 2})` },
      group,
    );
    const asBlock = section.kind === "general" || (state.overview && state.view === null);
    if (asBlock) {
      // A section to choose rather than seats to pick: its price colour, hatched when sold out.
      const soldOut = section.available === 0;
      if (soldOut) rect.setAttribute("fill", "url(#taken-hatch)");
      group.classList.add("choosable");
      if (soldOut) group.classList.add("sold-out");
      group.setAttribute("tabindex", soldOut ? "-1" : "0");
      group.setAttribute("role", "button");
      // The visible words ("Block 102", "500 free") lead the name, so speech input finds it.
      group.setAttribute("aria-label", `${section.name}, ${sectionText(section)}, ${money(section.price, section.currency)}`);
      if (soldOut) group.setAttribute("aria-disabled", "true");
      const size = Math.max(8, Math.min(g.height / 4, g.width / 8));
      const text = el("text", { x: g.x + g.width / 2, y: g.y + g.height / 2, "font-size": size, class: "section-name" }, group);
      text.textContent = section.name;
      const sub = el("text", { x: g.x + g.width / 2, y: g.y + g.height / 2 + size * 1.1, "font-size": size * 0.8, class: "section-free" }, group);
      sub.textContent = sectionText(section);
      continue;
    }
    rect.setAttribute("fill-opacity", "0.1");
    const r = seatRadius(section);
    group.style.setProperty("--r", String(r));
    for (const seat of section.seats) {
      const circle = el("circle", { cx: seat.x, cy: seat.y, r, "data-seat": seat.id }, group);
      seat.node = circle;
      seat.r = r;
      paintSeat(seat);
    }
  }
  // As tall as the layout needs at this width (a small hall leaves no empty band), capped
  // by the stylesheet so the map and the buttons under it fit the screen.
  svg.style.aspectRatio = `${home[2]} / ${home[3]}`;
  mapEl.appendChild(svg);
  panzoom.attach(svg, home, { keep: keepView });
}

// The smallest seat in view, in CSS px: below the target size the hint asks to zoom in.
function seatPixels() {
  const seats = [...mapEl.querySelectorAll("[data-seat]")];
  if (!seats.length) return null;
  const r = Math.min(...state.sections.filter((s) => s.seats[0]?.node?.isConnected).map((s) => s.seats[0].r));
  return 2 * r * panzoom.pixelsPerUnit();
}

function afterZoom() {
  const px = seatPixels();
  const small = px !== null && px < TARGET_PX;
  mapEl.dataset.zoom = panzoom.zoom.toFixed(2);
  mapEl.dataset.seatPx = px === null ? "" : px.toFixed(1);
  if (state.overview && state.view === null) {
    hintEl.textContent = gettext("Choose a section to see its seats.");
    hintEl.hidden = false;
  } else if (small) {
    hintEl.textContent = gettext("Zoom in (+, pinch or mouse wheel) to make the seats bigger.");
    hintEl.hidden = false;
  } else {
    hintEl.hidden = true;
  }
}

function paintSeat(seat) {
  const node = seat.node;
  if (!node) return;
  const selected = state.selected.has(seat.id);
  const colour = state.colours.get(seat.section.price) || "#1d4ed8";
  node.setAttribute("class", `seat ${selected ? "selected" : seat.free ? "free" : "taken"}${seat.accessible ? " accessible" : ""}`);
  node.setAttribute("fill", selected ? "#111827" : seat.free ? colour : "url(#taken-hatch)");
  node.setAttribute("role", "checkbox");
  node.setAttribute("aria-checked", selected ? "true" : "false");
  node.setAttribute("aria-label", seatLabel(seat));
  const usable = seat.free || selected;
  node.setAttribute("tabindex", usable && config.salesOpen ? "0" : "-1");
  if (usable) node.removeAttribute("aria-disabled");
  else node.setAttribute("aria-disabled", "true");
}

function toggleSeat(seat) {
  if (!config.salesOpen) return;
  showError(errorEl, "");
  if (state.selected.has(seat.id)) {
    state.selected.delete(seat.id);
  } else if (seat.free) {
    if (state.selected.size >= config.maxSeats) {
      showError(errorEl, fmt(gettext("You can pick up to %(count)s seats at a time."), { count: config.maxSeats }));
      return;
    }
    state.selected.add(seat.id);
  } else {
    return;
  }
  paintSeat(seat);
  renderSelection();
  announce(
    fmt(state.selected.has(seat.id) ? gettext("%(seat)s selected.") : gettext("%(seat)s removed."), {
      seat: seatName(seat, true),
    }),
  );
}

function renderSelection() {
  const list = $("[data-selected-list]");
  list.replaceChildren();
  let total = 0;
  let currency = "";
  for (const id of state.selected) {
    const seat = state.seats.get(id);
    total += seat.section.price || 0;
    currency = seat.section.currency;
    const item = document.createElement("li");
    item.dataset.selectedSeat = String(id);
    const text = document.createElement("span");
    text.textContent = `${seat.section.name} · ${seatName(seat, false)} — ${money(seat.section.price, seat.section.currency)}`;
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "link";
    remove.textContent = gettext("Remove");
    remove.setAttribute("aria-label", fmt(gettext("Remove %(seat)s"), { seat: seatName(seat, true) }));
    remove.addEventListener("click", () => toggleSeat(seat));
    item.append(text, " ", remove);
    list.appendChild(item);
  }
  $("[data-selection-empty]").hidden = state.selected.size > 0;
  $("[data-total]").textContent = state.selected.size
    ? fmt(gettext("Total: %(amount)s"), { amount: money(total, currency) })
    : "";
  holdButton.disabled = state.selected.size === 0 || state.busy || !config.salesOpen;
  holdButton.textContent = state.selected.size
    ? fmt(ngettext("Hold %(count)s seat", "Hold %(count)s seats", state.selected.size), { count: state.selected.size })
    : gettext("Hold these seats");
}

function zoom(sectionId) {
  state.view = sectionId;
  draw();
  const first = mapEl.querySelector('.seat[tabindex="0"]');
  if (first) first.focus();
}

// A seat reached with Tab is brought into view when the map is zoomed in.
mapEl.addEventListener("focusin", (event) => {
  const node = event.target.closest?.("[data-seat]");
  const seat = node && state.seats.get(Number(node.dataset.seat));
  if (seat && !panzoom.contains(seat.x, seat.y)) panzoom.centreOn(seat.x, seat.y);
});
root.querySelector("[data-zoom]").addEventListener("click", (event) => {
  const button = event.target.closest("button[data-zoom-action]");
  if (!button) return;
  const action = button.dataset.zoomAction;
  if (action === "in") panzoom.zoomBy(ZOOM_STEP);
  else if (action === "out") panzoom.zoomBy(1 / ZOOM_STEP);
  else panzoom.reset();
});
mapEl.addEventListener("keydown", (event) => {
  if (event.key === "+" || event.key === "=") panzoom.zoomBy(ZOOM_STEP);
  else if (event.key === "-") panzoom.zoomBy(1 / ZOOM_STEP);
});

function onMapActivate(target) {
  const seatNode = target.closest("[data-seat]");
  if (seatNode) {
    const seat = state.seats.get(Number(seatNode.dataset.seat));
    if (seat) toggleSeat(seat);
    return;
  }
  const sectionNode = target.closest(".choosable");
  if (!sectionNode || sectionNode.getAttribute("aria-disabled") === "true") return;
  const section = state.sections.find((s) => s.id === Number(sectionNode.dataset.section));
  if (section.kind === "general") {
    const select = $("[data-best-section]");
    select.value = String(section.id);
    $("[data-best] input[name=quantity]").focus();
  } else {
    zoom(section.id);
  }
}

mapEl.addEventListener("click", (event) => onMapActivate(event.target));
mapEl.addEventListener("keydown", (event) => {
  if (event.key === "Enter" || event.key === " ") {
    event.preventDefault();
    onMapActivate(event.target);
  }
});
overviewButton.addEventListener("click", () => {
  const from = state.view;
  state.view = null;
  draw();
  const node = mapEl.querySelector(`[data-section="${from}"]`);
  if (node) node.focus();
});

function salesClosedText(eventInfo) {
  switch (eventInfo.status) {
    case "not_open": {
      const opens = eventInfo.sales_open_at ? new Date(eventInfo.sales_open_at) : null;
      if (!opens) return gettext("Sales open soon.");
      const when = opens.toLocaleString(document.documentElement.lang || undefined, {
        dateStyle: "full",
        timeStyle: "short",
        timeZone: eventInfo.timezone || undefined,
      });
      return fmt(gettext("Sales open on %(when)s (%(zone)s)."), { when, zone: eventInfo.timezone || "" });
    }
    case "sales_closed":
      return gettext("Sales for this event have closed.");
    case "cancelled":
      return gettext("This event was cancelled.");
    case "past":
      return gettext("This event has already taken place.");
    default:
      return gettext("Tickets for this event are not on sale right now.");
  }
}

function holdPageUrl(id) {
  return config.holdPage.replace(/\/0\/$/, `/${id}/`);
}

async function createHold(body) {
  if (!config.signedIn) {
    location.assign(config.loginUrl);
    return;
  }
  state.busy = true;
  renderSelection();
  showError(errorEl, "");
  try {
    const hold = await api("POST", config.holdsUrl, body);
    location.assign(holdPageUrl(hold.id));
  } catch (error) {
    state.busy = false;
    renderSelection();
    if (error.code === "HOLD_EXISTS" && error.extra && error.extra.hold_id) {
      errorEl.replaceChildren(`${error.message} `);
      const link = document.createElement("a");
      link.href = holdPageUrl(error.extra.hold_id);
      link.textContent = gettext("Go to your held seats");
      errorEl.appendChild(link);
      errorEl.hidden = false;
      focusError();
      return;
    }
    if (error.code === "SEATS_UNAVAILABLE") {
      // Grey the taken seats out first: markSeat writes its own message, this one stands.
      for (const id of (error.extra && error.extra.seat_ids) || []) markSeat(Number(id), false);
      refetch();
    }
    showError(errorEl, describe(error));
    offerAlternatives(error.code === "SEATS_UNAVAILABLE" ? error.extra?.alternatives : null);
    focusError();
  }
}

// "Seats taken" comes with the nearest free block: one button picks it instead.
function offerAlternatives(alternatives) {
  const seats = (alternatives || []).map((a) => state.seats.get(Number(a.seat_id))).filter((s) => s && s.free);
  if (!seats.length) return;
  const button = document.createElement("button");
  button.type = "button";
  button.className = "secondary alternatives";
  button.dataset.action = "alternatives";
  button.textContent = fmt(gettext("Pick the nearest free seats instead: %(seats)s"), {
    seats: seats.map((s) => seatName(s, true)).join("; "),
  });
  const ids = seats.map((s) => s.id);
  button.addEventListener("click", () => {
    // The map may have been fetched again since: look the seats up afresh.
    const fresh = ids.map((id) => state.seats.get(id)).filter((s) => s && s.free);
    if (!fresh.length) return;
    for (const id of [...state.selected]) {
      state.selected.delete(id);
      paintSeat(state.seats.get(id));
    }
    for (const seat of fresh) {
      state.selected.add(seat.id);
      paintSeat(seat);
    }
    if (state.overview && state.view !== fresh[0].section.id) zoom(fresh[0].section.id);
    renderSelection();
    showError(errorEl, "");
    announce(fmt(gettext("Picked instead: %(seats)s."), { seats: fresh.map((s) => seatName(s, true)).join("; ") }));
    holdButton.focus();
  });
  errorEl.append(" ", button);
}

holdButton.addEventListener("click", () => createHold({ seat_ids: [...state.selected] }));
$("[data-best]").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  createHold({ section_id: Number(form.section_id.value), quantity: Number(form.quantity.value) });
});

function fillBestAvailable() {
  const select = $("[data-best-section]");
  const current = select.value;
  select.replaceChildren();
  for (const section of state.sections) {
    const option = document.createElement("option");
    option.value = String(section.id);
    option.textContent = `${section.name} — ${money(section.price, section.currency)}${section.available === 0 ? ` (${gettext("sold out")})` : ""}`;
    option.disabled = section.available === 0;
    select.appendChild(option);
  }
  if (current) select.value = current;
  if (!select.value || select.selectedOptions[0]?.disabled) {
    const open = [...select.options].find((o) => !o.disabled);
    if (open) select.value = open.value;
  }
}

function renderLegend() {
  const legend = root.querySelector("[data-legend]");
  legend.replaceChildren();
  for (const [price, colour] of state.colours) {
    const currency = state.sections.find((s) => s.price === price)?.currency || "";
    const item = document.createElement("li");
    item.innerHTML = `<span class="swatch" style="background:${colour}"></span>`;
    item.append(money(price, currency));
    legend.appendChild(item);
  }
  const kinds = [
    ["selected", gettext("Your pick")],
    ["taken", gettext("Taken")],
  ];
  if ([...state.seats.values()].some((seat) => seat.accessible)) {
    kinds.push(["accessible", gettext("Wheelchair accessible")]);
  }
  for (const [kind, text] of kinds) {
    const item = document.createElement("li");
    item.innerHTML = `<span class="swatch ${kind}"></span>`;
    item.append(text);
    legend.appendChild(item);
  }
}

function updateSoldOut() {
  const free = state.sections.reduce((sum, s) => sum + (s.available || 0), 0);
  const soldOut = state.loaded && free === 0;
  $("[data-selection]").hidden = soldOut && state.selected.size === 0;
  $("[data-best]").hidden = soldOut || !config.salesOpen;
  waitlist.setSoldOut(soldOut && config.salesOpen);
}

function recount(section) {
  if (section.seats.length) section.available = section.seats.filter((s) => s.free).length;
}

function markSeat(id, free) {
  const seat = state.seats.get(id);
  if (!seat || seat.free === free) return false;
  seat.free = free;
  if (!free && state.selected.has(id)) {
    state.selected.delete(id);
    renderSelection();
    announce(fmt(gettext("%(seat)s was just taken by someone else."), { seat: seatName(seat, true) }));
    showError(
      errorEl,
      fmt(gettext("%(seat)s was just taken by someone else and removed from your selection."), {
        seat: seatName(seat, true),
      }),
    );
  }
  paintSeat(seat);
  return true;
}

function applySeatChanges(message) {
  let unknown = false;
  const touched = new Set();
  for (const [id, free] of seatChanges(message)) {
    if (free === null) {
      unknown = true;
      continue;
    }
    if (markSeat(id, free)) touched.add(state.seats.get(id).section);
  }
  for (const section of touched) recount(section);
  if (touched.size) afterAvailabilityChange();
  if (unknown) refetch();
}

function applySectionCounts(message) {
  let stale = false;
  for (const [id, free] of sectionCounts(message)) {
    const section = state.sections.find((s) => s.id === id);
    if (!section) continue;
    if (!section.seats.length) section.available = free;
    // Seats we know disagree with the server's count: a message was missed (or a hold
    // lapsed on its own), so fetch the map again rather than guess which seats.
    else if (section.available !== free) stale = true;
  }
  afterAvailabilityChange();
  if (stale) refetch();
}

// On the event page the picker sits under the event's own counts ("12 of 24 seats
// available", the sections table); keep them in step with the map instead of stale.
function updateEventSummary() {
  const free = state.sections.reduce((sum, s) => sum + (s.available || 0), 0);
  const left = document.getElementById("seats-left");
  if (left) left.textContent = number(free);
  // Only the on-sale/sold-out badge follows the seats; "sales closed" and the like do not.
  const badge = document.querySelector(".event-detail h1 .badge");
  if (badge && config.salesOpen && state.loaded && /\b(on_sale|sold_out)\b/.test(badge.className)) {
    badge.className = `badge ${free ? "on_sale" : "sold_out"}`;
    badge.textContent = free ? gettext("On sale") : gettext("Sold out");
  }
  for (const section of state.sections) {
    const cell = document.querySelector(`#sections tr[data-section-id="${section.id}"] .available`);
    if (!cell) continue;
    if (section.available > 0) {
      cell.textContent = fmt(gettext("%(left)s of %(total)s"), {
        left: number(section.available),
        total: number(section.seats.length || section.total),
      });
    } else cell.innerHTML = `<span class="badge sold_out">${gettext("Sold out")}</span>`;
  }
}

function afterAvailabilityChange() {
  if (state.overview && state.view === null) {
    // Redrawing the overview must not throw a keyboard user's focus away.
    const focused = document.activeElement && document.activeElement.closest?.("[data-section]");
    draw({ keepView: true });
    if (focused) mapEl.querySelector(`[data-section="${focused.dataset.section}"]`)?.focus();
  }
  fillBestAvailable();
  updateSoldOut();
  updateEventSummary();
}

function onMessage(message) {
  if (!state.loaded) {
    state.pending.push(message);
    return;
  }
  // The user's own messages arrive for every event they follow; keep this event's.
  if (message.event_id !== undefined && Number(message.event_id) !== config.eventId) return;
  const kind = kindOf(message);
  if (kind === "seats") applySeatChanges(message);
  else if (kind === "sections") applySectionCounts(message);
  else if (kind === "hello" || kind === "resync") {
    if (kind === "resync") refetch();
    else if (message.sections) applySectionCounts(message);
    waitlist.onMessage("state", message.waitlist || null);
  } else waitlist.onMessage(kind, message);
}

let refetchTimer = null;
function refetch() {
  clearTimeout(refetchTimer);
  refetchTimer = setTimeout(load, 300);
}

async function load() {
  try {
    const [seatMap, eventInfo] = await Promise.all([
      api("GET", config.seatsUrl),
      api("GET", config.eventUrl).catch(() => null),
    ]);
    const sections = normalize(seatMap, eventInfo);
    if (eventInfo && eventInfo.status) {
      config.salesOpen = ["on_sale", "sold_out"].includes(eventInfo.status);
      root.dataset.salesOpen = config.salesOpen ? "1" : "0";
      const notice = $("[data-sales-closed]");
      notice.hidden = config.salesOpen;
      if (!config.salesOpen) notice.textContent = salesClosedText(eventInfo);
    }
    state.sections = sections;
    state.stage = (eventInfo && eventInfo.venue && eventInfo.venue.stage) || null;
    state.seats = new Map();
    for (const section of sections) {
      for (const seat of section.seats) {
        seat.section = section;
        state.seats.set(seat.id, seat);
      }
    }
    for (const id of [...state.selected]) {
      const seat = state.seats.get(id);
      if (!seat || !seat.free) state.selected.delete(id);
      else seat.free = true;
    }
    const firstLoad = !state.loaded;
    if (firstLoad && wanted.size) {
      // "Try the same seats again": pick the ones still free, say which are not.
      const gone = [];
      for (const id of wanted) {
        const seat = state.seats.get(id);
        if (seat && seat.free && state.selected.size < config.maxSeats) state.selected.add(id);
        else if (seat) gone.push(seatName(seat, true));
      }
      if (gone.length) {
        showError(errorEl, fmt(gettext("No longer free: %(seats)s."), { seats: gone.join("; ") }));
      }
    }
    state.colours = priceColours(sections);
    const total = sections.reduce((sum, s) => sum + s.seats.length, 0);
    state.overview = total > OVERVIEW_ABOVE;
    if (state.view !== null && !sections.some((s) => s.id === state.view)) state.view = null;
    state.loaded = true;
    draw({ keepView: !firstLoad });
    renderLegend();
    renderSelection();
    fillBestAvailable();
    updateSoldOut();
    updateEventSummary();
    if (firstLoad) {
      root.dataset.ready = "1";
      for (const message of state.pending.splice(0)) onMessage(message);
    }
  } catch (error) {
    mapEl.removeAttribute("aria-busy");
    showError(errorEl, fmt(gettext("The seat map could not be loaded: %(error)s"), { error: describe(error) }));
  }
}

const waitlist = initWaitlist(root, {
  eventId: config.eventId,
  waitlistUrl: root.dataset.waitlistUrl,
  signedIn: config.signedIn,
  loginUrl: config.loginUrl,
  holdPageUrl,
  seatsById: (ids) => ids.map((id) => state.seats.get(Number(id))).filter(Boolean).map((seat) => ({
    section: seat.section.name,
    row: seat.row,
    label: seat.label,
  })),
});

// Open the socket before the first fetch: what changes in between is queued, not lost.
connectEvent(root.dataset.wsPath, {
  onMessage,
  onReconnect: refetch,
  onStatus: (status) => {
    root.dataset.live = status;
  },
});
load();
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && state.loaded) refetch();
});
