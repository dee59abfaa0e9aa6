// Turns the API's seat-map and event payloads into one shape the map draws from:
// [{id, name, kind, geometry, price, currency, available, seats: [{id,row,label,x,y,accessible,free}]}].
// Tolerates seats sent as objects or as compact arrays described by ``seat_fields``.

const DEFAULT_FIELDS = ["id", "row", "label", "x", "y", "accessible", "free"];

function seatFrom(raw, fields) {
  const seat = Array.isArray(raw) ? Object.fromEntries(fields.map((name, i) => [name, raw[i]])) : raw;
  let free = seat.free ?? seat.available;
  if (free === undefined && seat.status !== undefined) free = seat.status === "available";
  return {
    id: Number(seat.id),
    row: String(seat.row ?? seat.row_label ?? ""),
    label: String(seat.label ?? ""),
    x: Number(seat.x),
    y: Number(seat.y),
    accessible: Boolean(seat.accessible),
    free: free === undefined ? true : Boolean(free),
    sectionId: seat.section_id ?? seat.section,
  };
}

export function normalize(seatMap, eventInfo) {
  const fields = seatMap.seat_fields || seatMap.fields || DEFAULT_FIELDS;
  const infoById = new Map();
  for (const s of (eventInfo && eventInfo.sections) || []) infoById.set(Number(s.id), s);
  const eventCurrency = (eventInfo && eventInfo.currency) || seatMap.currency || "EUR";
  const sections = (seatMap.sections || []).map((s) => {
    const info = infoById.get(Number(s.id)) || {};
    const price = s.price ?? s.amount ?? info.price ?? info.amount;
    return {
      id: Number(s.id),
      name: s.name ?? info.name ?? `Section ${s.id}`,
      kind: s.kind ?? info.kind ?? "reserved",
      geometry: { x: 0, y: 0, width: 200, height: 100, ...(s.geometry || info.geometry || {}) },
      price: price === undefined || price === null ? null : Number(price),
      currency: s.currency ?? info.currency ?? eventCurrency,
      available: s.available ?? info.available ?? null,
      total: s.total ?? info.total ?? null,
      seats: (s.seats || []).map((raw) => seatFrom(raw, fields)),
    };
  });
  // The columnar form (GET /api/events/{id}/seats): parallel arrays, ``section`` indexes into
  // ``sections``, ``accessible`` lists seat indexes, ``free`` is a string of "1"/"0".
  const columns = seatMap.seats;
  if (columns && !Array.isArray(columns) && Array.isArray(columns.id)) {
    const accessible = new Set(columns.accessible || []);
    columns.id.forEach((id, n) => {
      const section = sections[columns.section[n]];
      if (!section) return;
      section.seats.push({
        id: Number(id),
        row: String(columns.row[n] ?? ""),
        label: String(columns.label[n] ?? ""),
        x: Number(columns.x[n]),
        y: Number(columns.y[n]),
        accessible: accessible.has(n),
        free: columns.free ? columns.free[n] === "1" : true,
      });
    });
  } else if (Array.isArray(columns)) {
    // Seats may also come flat, each naming its section.
    const byId = new Map(sections.map((s) => [s.id, s]));
    for (const raw of columns) {
      const seat = seatFrom(raw, fields);
      const section = byId.get(Number(seat.sectionId));
      if (section) section.seats.push(seat);
    }
  }
  for (const section of sections) {
    // Counted from the seats themselves when there are any: one snapshot, one truth.
    if (section.seats.length) section.available = section.seats.filter((seat) => seat.free).length;
  }
  return sections;
}

export function money(amount, currency) {
  if (amount === null || amount === undefined || Number.isNaN(amount)) return "";
  const text = Number.isInteger(amount) ? String(amount) : amount.toFixed(2);
  return `${text} ${currency}`;
}

// Distinct prices, cheapest first, each with a colour that stays readable on white.
const PALETTE = ["#2f80ed", "#27ae60", "#f2994a", "#9b51e0", "#eb5757", "#00a3a3", "#c28e00", "#d63384"];
export function priceColours(sections) {
  const prices = [...new Set(sections.map((s) => s.price).filter((p) => p !== null))].sort((a, b) => a - b);
  return new Map(prices.map((p, i) => [p, PALETTE[i % PALETTE.length]]));
}
