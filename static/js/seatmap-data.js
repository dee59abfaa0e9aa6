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

// Prices in the page's language: "1.234,50 €" in German, "€1,234.50" in English.
export function money(amount, currency) {
  if (amount === null || amount === undefined || Number.isNaN(amount)) return "";
  const lang = document.documentElement.lang || undefined;
  try {
    return new Intl.NumberFormat(lang, {
      style: "currency",
      currency: currency || "EUR",
      minimumFractionDigits: Number.isInteger(amount) ? 0 : 2,
    }).format(amount);
  } catch {
    return `${amount} ${currency}`;
  }
}

export function number(value) {
  return new Intl.NumberFormat(document.documentElement.lang || undefined).format(value);
}

// Distinct prices, cheapest first, each with a colour of at least 4.5:1 against white, so
// seats stand out and white text on a section block stays readable.
const PALETTE = ["#1d4ed8", "#047857", "#b45309", "#7e22ce", "#be123c", "#0e7490", "#4d7c0f", "#a21caf"];
export function priceColours(sections) {
  const prices = [...new Set(sections.map((s) => s.price).filter((p) => p !== null))].sort((a, b) => a - b);
  return new Map(prices.map((p, i) => [p, PALETTE[i % PALETTE.length]]));
}

function overlaps(g, x, y, w, h) {
  return g.x < x + w && g.x + g.width > x && g.y < y + h && g.y + g.height > y;
}

// The stage or the field: the marker staff drew in the section editor when there is one
// (``venue.stage`` of GET /api/events/{id}); otherwise drawn from the layout. Seats are laid out with the best row
// (row A, nearest the stage) at the top of each section, so a venue whose sections leave
// its middle empty (an arena round a field) gets the field there, grown from the middle
// until it meets a section; any other venue faces a stage above its top edge.
export function stageOf(sections, drawn = null) {
  if (drawn && drawn.width > 0 && drawn.height > 0) {
    const { x, y, width, height } = drawn;
    return { kind: "stage", x, y, width, height, label: drawn.label || null };
  }
  if (!sections.length) return null;
  const xs = sections.map((s) => s.geometry);
  const minX = Math.min(...xs.map((g) => g.x));
  const minY = Math.min(...xs.map((g) => g.y));
  const maxX = Math.max(...xs.map((g) => g.x + g.width));
  const maxY = Math.max(...xs.map((g) => g.y + g.height));
  const width = maxX - minX;
  const height = maxY - minY;
  const cx = minX + width / 2;
  const cy = minY + height / 2;
  const step = Math.max(width, height) / 200;
  if (sections.length > 2 && !xs.some((g) => overlaps(g, cx - step, cy - step, 2 * step, 2 * step))) {
    let box = { x: cx - step, y: cy - step, width: 2 * step, height: 2 * step };
    const free = (b) => !xs.some((g) => overlaps(g, b.x, b.y, b.width, b.height));
    for (let grew = true; grew; ) {
      grew = false;
      for (const grow of [
        (b) => ({ ...b, x: b.x - step, width: b.width + step }),
        (b) => ({ ...b, width: b.width + step }),
        (b) => ({ ...b, y: b.y - step, height: b.height + step }),
        (b) => ({ ...b, height: b.height + step }),
      ]) {
        const next = grow(box);
        if (next.x >= minX && next.y >= minY && next.x + next.width <= maxX && next.y + next.height <= maxY && free(next)) {
          box = next;
          grew = true;
        }
      }
    }
    const inset = step * 2;
    return {
      kind: "field",
      x: box.x + inset,
      y: box.y + inset,
      width: Math.max(step, box.width - 2 * inset),
      height: Math.max(step, box.height - 2 * inset),
    };
  }
  const depth = Math.max(18, height * 0.07);
  return { kind: "stage", x: minX + width * 0.2, y: minY - depth * 1.6, width: width * 0.6, height: depth };
}
