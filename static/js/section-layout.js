// Geometry of the venue map for the admin's section editor: a port of
// events/services/layout.py (seat_positions, spot_positions, overlaps) and of
// events/services/venues.py (parse_row_labels). The server's result is what is stored;
// this only draws the live preview, so the two are kept line for line alike.
"use strict";

window.SectionLayout = (() => {
  const rad = (deg) => (deg * Math.PI) / 180;

  function corners(g) {
    const cx = g.x + g.width / 2;
    const cy = g.y + g.height / 2;
    const a = rad(g.rotation || 0);
    const cos = Math.cos(a);
    const sin = Math.sin(a);
    return [
      [g.x, g.y],
      [g.x + g.width, g.y],
      [g.x + g.width, g.y + g.height],
      [g.x, g.y + g.height],
    ].map(([px, py]) => {
      const dx = px - cx;
      const dy = py - cy;
      return [cx + dx * cos - dy * sin, cy + dx * sin + dy * cos];
    });
  }

  function overlaps(a, b, tolerance = 0.01) {
    const pa = corners(a);
    const pb = corners(b);
    for (const poly of [pa, pb]) {
      for (let i = 0; i < 4; i++) {
        const [x1, y1] = poly[i];
        const [x2, y2] = poly[(i + 1) % 4];
        let nx = y2 - y1;
        let ny = x1 - x2;
        const len = Math.hypot(nx, ny) || 1;
        nx /= len;
        ny /= len;
        const da = pa.map(([x, y]) => x * nx + y * ny);
        const db = pb.map(([x, y]) => x * nx + y * ny);
        if (Math.max(...da) <= Math.min(...db) + tolerance || Math.max(...db) <= Math.min(...da) + tolerance) {
          return false;
        }
      }
    }
    return true;
  }

  function rotateAbout(g) {
    const cx = g.x + g.width / 2;
    const cy = g.y + g.height / 2;
    const a = rad(g.rotation || 0);
    return (x, y) => {
      const dx = x - cx;
      const dy = y - cy;
      return [cx + dx * Math.cos(a) - dy * Math.sin(a), cy + dx * Math.sin(a) + dy * Math.cos(a)];
    };
  }

  function seatPositions(g, plan) {
    const rotate = rotateAbout(g);
    const aisles = [...new Set(plan.aislesAfter)].sort((a, b) => a - b);
    const widest = Math.max(...plan.rows.map(([, n]) => n));
    const columns = widest + aisles.filter((a) => a < widest).length;
    const depth = (Math.max(0, Math.min(1, plan.curve || 0)) * g.height) / 4;
    const rowHeight = (g.height - depth) / plan.rows.length;
    const out = [];
    plan.rows.forEach(([row, count], rank) => {
      const offset = (widest - count) / 2;
      for (let i = 0; i < count; i++) {
        const column = offset + i + aisles.filter((a) => a <= i).length;
        const fx = (column + 0.5) / columns;
        const t = 2 * fx - 1;
        const [x, y] = rotate(g.x + fx * g.width, g.y + (rank + 0.5) * rowHeight + depth * (1 - t * t));
        out.push({ row, label: String(plan.numbering === "rtl" ? count - i : i + 1), x, y });
      }
    });
    return out;
  }

  function spotPositions(g, capacity) {
    const rotate = rotateAbout(g);
    const cols = Math.max(1, Math.ceil(Math.sqrt((capacity * g.width) / g.height)));
    const rows = Math.ceil(capacity / cols);
    const out = [];
    for (let i = 0; i < capacity; i++) {
      const r = Math.floor(i / cols);
      const c = i % cols;
      const [x, y] = rotate(g.x + ((c + 0.5) * g.width) / cols, g.y + ((r + 0.5) * g.height) / rows);
      out.push({ row: "", label: String(i + 1), x, y });
    }
    return out;
  }

  const LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";

  function letterRange(a, b) {
    const toNum = (s) => [...s].reduce((n, ch) => n * 26 + LETTERS.indexOf(ch), 0);
    const toStr = (n, width) => {
      let out = "";
      for (let i = 0; i < width; i++) {
        out = LETTERS[n % 26] + out;
        n = Math.floor(n / 26);
      }
      return out;
    };
    const out = [];
    for (let n = toNum(a); n <= toNum(b); n++) out.push(toStr(n, a.length));
    return out;
  }

  // Returns null when the spec cannot be read (the server then says why, on save).
  function parseRowLabels(spec) {
    const labels = [];
    for (const part of spec.split(",").map((p) => p.trim()).filter(Boolean)) {
      const m = part.match(/^([A-Za-z]+|\d+)\s*-\s*([A-Za-z]+|\d+)$/);
      if (!m) {
        labels.push(part);
        continue;
      }
      const [, a, b] = m;
      if (/^\d+$/.test(a) && /^\d+$/.test(b)) {
        if (+b < +a) return null;
        for (let n = +a; n <= +b; n++) labels.push(String(n));
      } else if (/^[A-Za-z]+$/.test(a) && /^[A-Za-z]+$/.test(b) && a.length === b.length) {
        labels.push(...letterRange(a.toUpperCase(), b.toUpperCase()));
      } else {
        return null;
      }
    }
    return labels.length && labels.length <= 500 ? labels : null;
  }

  // Point on the map -> [u, v] across the rectangle (0..1), and back.
  function toLocal(g, x, y) {
    const cx = g.x + g.width / 2;
    const cy = g.y + g.height / 2;
    const a = -rad(g.rotation || 0);
    const dx = x - cx;
    const dy = y - cy;
    return [(dx * Math.cos(a) - dy * Math.sin(a)) / g.width + 0.5, (dx * Math.sin(a) + dy * Math.cos(a)) / g.height + 0.5];
  }

  function toMap(g, u, v) {
    const cx = g.x + g.width / 2;
    const cy = g.y + g.height / 2;
    const a = rad(g.rotation || 0);
    const lx = (u - 0.5) * g.width;
    const ly = (v - 0.5) * g.height;
    return [cx + lx * Math.cos(a) - ly * Math.sin(a), cy + lx * Math.sin(a) + ly * Math.cos(a)];
  }

  return { corners, overlaps, seatPositions, spotPositions, parseRowLabels, toLocal, toMap };
})();
