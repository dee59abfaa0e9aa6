// The venue map editor in the admin (templates/admin/events/venue/change_form.html).
// The section inline forms stay the source of truth: every drag writes the section's hidden
// geometry input, the panel writes its generator fields, and the server validates and
// generates the seats on save (events/admin.py). No JSON is typed by hand.
"use strict";

(() => {
  const L = window.SectionLayout;
  const PREFIX = "sections";
  const SVG = "http://www.w3.org/2000/svg";
  const root = document.getElementById("section-editor");
  if (!root) return;
  const canvas = root.querySelector("[data-canvas]");
  const preview = root.querySelector("[data-preview]");
  const panel = root.querySelector("[data-panel]");
  const overlapNote = root.querySelector("[data-overlap]");
  const stageInput = document.querySelector('[name="stage"]');
  const stageLabel = root.querySelector("[data-stage-label]");
  const existingSeats = JSON.parse(document.getElementById("editor-seats")?.textContent || "{}");
  const initialGeo = new Map();
  let selected = null; // a section index, "stage", or null
  let pendingKind = null;
  let drag = null;

  const el = (name, attrs, parent) => {
    const node = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (parent) parent.appendChild(node);
    return node;
  };
  const field = (idx, name) => document.querySelector(`[name="${PREFIX}-${idx}-${name}"]`);
  const round = (n) => Math.round(n * 100) / 100;

  function indexes() {
    return [...document.querySelectorAll(`input[name^="${PREFIX}-"][name$="-geometry"]`)]
      .map((input) => input.name.split("-")[1])
      .filter((idx) => idx !== "__prefix__" && !field(idx, "DELETE")?.checked);
  }

  function readGeo(input) {
    try {
      const g = JSON.parse(input.value || "{}");
      return g && typeof g === "object" && "x" in g && "y" in g ? { width: 200, height: 100, rotation: 0, ...g } : null;
    } catch {
      return null;
    }
  }
  const geometry = (idx) => readGeo(field(idx, "geometry"));
  function setGeometry(idx, g) {
    const clean = { x: round(g.x), y: round(g.y), width: round(Math.max(10, g.width)), height: round(Math.max(10, g.height)), rotation: round(((g.rotation || 0) % 360 + 360) % 360) };
    field(idx, "geometry").value = JSON.stringify(clean);
  }
  function stage() {
    if (!stageInput) return null;
    const g = readGeo(stageInput);
    return g ? { label: "Stage", ...g } : null;
  }
  function setStage(g) {
    stageInput.value = JSON.stringify({ x: round(g.x), y: round(g.y), width: round(g.width), height: round(g.height), rotation: 0, label: g.label || "Stage" });
  }

  function sections() {
    return indexes().map((idx) => ({
      idx,
      id: field(idx, "id")?.value || "",
      name: field(idx, "name")?.value || `Section ${+idx + 1}`,
      kind: field(idx, "kind")?.value || "reserved",
      geo: geometry(idx),
    }));
  }

  // A free spot below everything placed (the server places the same way, in reading order).
  function freeSpot(width, height) {
    const taken = sections().filter((s) => s.geo).map((s) => s.geo);
    const st = stage();
    if (st) taken.push(st);
    let y = 0;
    for (const g of taken) y = Math.max(y, ...L.corners(g).map(([, py]) => py));
    return { x: 20, y: taken.length ? y + 20 : 80, width, height, rotation: 0 };
  }

  function svgPoint(event) {
    const pt = canvas.createSVGPoint();
    pt.x = event.clientX;
    pt.y = event.clientY;
    return pt.matrixTransform(canvas.getScreenCTM().inverse());
  }

  function overlapping(list) {
    const bad = new Set();
    const pairs = [];
    for (let i = 0; i < list.length; i++) {
      for (let j = i + 1; j < list.length; j++) {
        if (list[i].geo && list[j].geo && L.overlaps(list[i].geo, list[j].geo)) {
          bad.add(list[i].idx);
          bad.add(list[j].idx);
          pairs.push(`${list[i].name} and ${list[j].name}`);
        }
      }
    }
    return { bad, pairs };
  }

  function mapHeight(list) {
    let bottom = 600;
    const st = stage();
    for (const g of [...list.map((s) => s.geo), st].filter(Boolean)) {
      bottom = Math.max(bottom, ...L.corners(g).map(([, y]) => y + 40));
    }
    return Math.ceil(bottom);
  }

  function drawCanvas() {
    const list = sections();
    const height = mapHeight(list);
    canvas.setAttribute("viewBox", `0 0 1000 ${height}`);
    canvas.replaceChildren();
    el("rect", { x: 0, y: 0, width: 1000, height, fill: "#fafafa" }, canvas);
    const st = stage();
    if (st) {
      const g = el("g", { class: `ed-stage${selected === "stage" ? " selected" : ""}`, "data-stage": "" }, canvas);
      el("rect", { class: "body", x: st.x, y: st.y, width: st.width, height: st.height, rx: 6 }, g);
      el("text", { x: st.x + st.width / 2, y: st.y + st.height / 2 }, g).textContent = st.label;
      g.addEventListener("pointerdown", (e) => startDrag(e, "stage", "move"));
      if (selected === "stage") handles(st, "stage", false);
    }
    const { bad, pairs } = overlapping(list);
    overlapNote.hidden = pairs.length === 0;
    overlapNote.textContent = pairs.length ? `Overlapping: ${pairs.join("; ")}. Move them apart before saving.` : "";
    for (const s of list) {
      if (!s.geo) continue;
      const g = s.geo;
      const cls = ["ed-section", s.kind, selected === s.idx ? "selected" : "", bad.has(s.idx) ? "overlap" : ""].join(" ");
      const group = el("g", { class: cls, "data-section": s.idx, "data-name": s.name, tabindex: 0, role: "button", "aria-label": `${s.name}: drag to move` }, canvas);
      const cx = g.x + g.width / 2;
      const cy = g.y + g.height / 2;
      el("rect", { class: "body", x: g.x, y: g.y, width: g.width, height: g.height, rx: 4, transform: `rotate(${g.rotation || 0} ${cx} ${cy})` }, group);
      el("text", { x: cx, y: cy }, group).textContent = s.name;
      group.addEventListener("pointerdown", (e) => startDrag(e, s.idx, "move"));
      group.addEventListener("keydown", (e) => nudge(e, s.idx));
      group.addEventListener("focus", () => select(s.idx, false));
    }
    if (selected !== null && selected !== "stage") {
      const g = geometry(selected);
      if (g) handles(g, selected, true);
    }
  }

  function handles(g, target, rotatable) {
    const c = L.corners(g);
    const resize = el("circle", { class: "handle resize", cx: c[2][0], cy: c[2][1], r: 9, "data-handle": "resize" }, canvas);
    resize.addEventListener("pointerdown", (e) => startDrag(e, target, "resize"));
    if (rotatable) {
      // Above the middle of the top edge, along the section's own "up".
      const a = ((g.rotation || 0) * Math.PI) / 180;
      const mx = (c[0][0] + c[1][0]) / 2 + 30 * Math.sin(a);
      const my = (c[0][1] + c[1][1]) / 2 - 30 * Math.cos(a);
      el("line", { x1: (c[0][0] + c[1][0]) / 2, y1: (c[0][1] + c[1][1]) / 2, x2: mx, y2: my, stroke: "#111827" }, canvas);
      const rot = el("circle", { class: "handle rotate", cx: mx, cy: my, r: 9, "data-handle": "rotate" }, canvas);
      rot.addEventListener("pointerdown", (e) => startDrag(e, target, "rotate"));
    }
  }

  function startDrag(event, target, mode) {
    event.preventDefault();
    event.stopPropagation();
    select(target, false);
    const g = target === "stage" ? stage() : geometry(target);
    drag = { target, mode, start: svgPoint(event), g: { ...g } };
    canvas.setPointerCapture(event.pointerId);
  }

  canvas.addEventListener("pointermove", (event) => {
    if (!drag) return;
    const p = svgPoint(event);
    const g0 = drag.g;
    let g = { ...g0 };
    if (drag.mode === "move") {
      g.x = Math.round((g0.x + p.x - drag.start.x) / 5) * 5;
      g.y = Math.round((g0.y + p.y - drag.start.y) / 5) * 5;
    } else if (drag.mode === "resize") {
      // The top-left corner stays where it is, in the section's own frame.
      const a = ((g0.rotation || 0) * Math.PI) / 180;
      const cx0 = g0.x + g0.width / 2;
      const cy0 = g0.y + g0.height / 2;
      const dx = p.x - cx0;
      const dy = p.y - cy0;
      const lx = dx * Math.cos(-a) - dy * Math.sin(-a);
      const ly = dx * Math.sin(-a) + dy * Math.cos(-a);
      const w = Math.max(20, Math.round((lx + g0.width / 2) / 5) * 5);
      const h = Math.max(20, Math.round((ly + g0.height / 2) / 5) * 5);
      const ox = -g0.width / 2 + w / 2;
      const oy = -g0.height / 2 + h / 2;
      const cx = cx0 + ox * Math.cos(a) - oy * Math.sin(a);
      const cy = cy0 + ox * Math.sin(a) + oy * Math.cos(a);
      g = { ...g0, width: w, height: h, x: cx - w / 2, y: cy - h / 2 };
    } else if (drag.mode === "rotate") {
      const cx = g0.x + g0.width / 2;
      const cy = g0.y + g0.height / 2;
      let deg = (Math.atan2(p.y - cy, p.x - cx) * 180) / Math.PI + 90;
      if (!event.shiftKey) deg = Math.round(deg / 5) * 5;
      g.rotation = deg;
    }
    if (drag.target === "stage") setStage(g);
    else setGeometry(drag.target, g);
    render();
  });
  const endDrag = () => {
    drag = null;
  };
  canvas.addEventListener("pointerup", endDrag);
  canvas.addEventListener("pointercancel", endDrag);

  function nudge(event, idx) {
    const steps = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    const step = steps[event.key];
    if (!step) return;
    event.preventDefault();
    const g = geometry(idx);
    const n = event.shiftKey ? 20 : 5;
    setGeometry(idx, { ...g, x: g.x + step[0] * n, y: g.y + step[1] * n });
    render();
    canvas.querySelector(`[data-section="${idx}"]`)?.focus();
  }

  function rotateSelected(delta) {
    if (selected === null || selected === "stage") return;
    const g = geometry(selected);
    setGeometry(selected, { ...g, rotation: (g.rotation || 0) + delta });
    render();
  }

  // --- the generator panel, bound to the selected section's inline fields ----------------

  const bound = [...panel.querySelectorAll("[data-bind]")];
  function select(target, redraw = true) {
    selected = target;
    const fields = panel.querySelector("[data-panel-fields]");
    const title = panel.querySelector("[data-panel-title]");
    if (target === null || target === "stage") {
      fields.hidden = true;
      title.textContent = target === "stage" ? "Stage / field marker" : "No section selected";
    } else {
      fields.hidden = false;
      title.textContent = field(target, "name")?.value || "New section";
      for (const input of bound) {
        const source = field(target, input.dataset.bind);
        input.value = source ? source.value : "";
        if (input.dataset.bind === "curve" && !input.value) input.value = "0";
        if (input.dataset.bind === "numbering" && !input.value) input.value = "ltr";
      }
      showKind();
    }
    if (redraw) render();
  }
  function showKind() {
    const general = panel.querySelector('[data-bind="kind"]').value === "general";
    panel.querySelector("[data-reserved]").hidden = general;
    panel.querySelector("[data-general]").hidden = !general;
  }
  for (const input of bound) {
    input.addEventListener("input", () => {
      if (selected === null || selected === "stage") return;
      const target = field(selected, input.dataset.bind);
      if (target) {
        target.value = input.value;
        target.dispatchEvent(new Event("change", { bubbles: true }));
      }
      if (input.dataset.bind === "kind") showKind();
      if (input.dataset.bind === "name") panel.querySelector("[data-panel-title]").textContent = input.value;
      render();
    });
  }

  // --- the buyer's seat map, as it will look ----------------------------------------------

  function seatsOf(s) {
    const g = s.geo;
    const rowsSpec = field(s.idx, "rows_spec")?.value.trim();
    const perRow = parseInt(field(s.idx, "seats_per_row")?.value, 10);
    const capacity = parseInt(field(s.idx, "capacity")?.value, 10);
    if (s.kind === "general" && capacity > 0) return L.spotPositions(g, Math.min(capacity, 3000));
    if (rowsSpec && perRow > 0) {
      const labels = L.parseRowLabels(rowsSpec);
      if (labels && labels.length * perRow <= 5000) {
        const aislesAfter = (field(s.idx, "aisles")?.value || "").split(",").map((a) => parseInt(a, 10)).filter((a) => a > 0);
        return L.seatPositions(g, {
          rows: labels.map((label) => [label, perRow]),
          numbering: field(s.idx, "numbering")?.value || "ltr",
          aislesAfter,
          curve: parseFloat(field(s.idx, "curve")?.value) || 0,
        });
      }
    }
    // Seats already generated, carried along with the section as the server will do.
    const before = initialGeo.get(s.idx);
    return (existingSeats[s.id] || []).map(([x, y, row, label]) => {
      if (!before) return { x, y, row, label };
      const [u, v] = L.toLocal(before, x, y);
      const [mx, my] = L.toMap(g, u, v);
      return { x: mx, y: my, row, label };
    });
  }

  function drawPreview() {
    const list = sections().filter((s) => s.geo);
    preview.replaceChildren();
    const st = stage();
    const boxes = [...list.map((s) => s.geo), st].filter(Boolean);
    if (!boxes.length) return;
    let [minX, minY, maxX, maxY] = [Infinity, Infinity, -Infinity, -Infinity];
    for (const g of boxes) {
      for (const [x, y] of L.corners(g)) {
        minX = Math.min(minX, x);
        minY = Math.min(minY, y);
        maxX = Math.max(maxX, x);
        maxY = Math.max(maxY, y);
      }
    }
    const pad = Math.max(maxX - minX, maxY - minY) * 0.03 + 2;
    preview.setAttribute("viewBox", [minX - pad, minY - pad, maxX - minX + 2 * pad, maxY - minY + 2 * pad].join(" "));
    if (st) {
      const g = el("g", { class: "pv-stage" }, preview);
      el("rect", { x: st.x, y: st.y, width: st.width, height: st.height, rx: 6 }, g);
      el("text", { x: st.x + st.width / 2, y: st.y + st.height / 2 }, g).textContent = st.label;
    }
    let total = 0;
    for (const s of list) {
      const g = s.geo;
      const cx = g.x + g.width / 2;
      const cy = g.y + g.height / 2;
      const group = el("g", { "data-preview-section": s.name }, preview);
      el("rect", { class: "pv-section", x: g.x, y: g.y, width: g.width, height: g.height, rx: 4, fill: "#3454d1", transform: `rotate(${g.rotation || 0} ${cx} ${cy})` }, group);
      const seats = seatsOf(s);
      const rows = new Map();
      for (const seat of seats) rows.set(seat.row, (rows.get(seat.row) || 0) + 1);
      const perRow = Math.max(1, ...rows.values());
      const r = Math.min(14, Math.max(0.6, 0.38 * Math.min(g.width / perRow, g.height / Math.max(1, rows.size))));
      for (const seat of seats) {
        const c = el("circle", { cx: round(seat.x), cy: round(seat.y), r: round(r), class: "pv-seat" }, group);
        el("title", {}, c).textContent = seat.row ? `${s.name} row ${seat.row} seat ${seat.label}` : `${s.name} spot ${seat.label}`;
      }
      total += seats.length;
    }
    preview.setAttribute("data-seat-count", String(total));
  }

  function render() {
    drawCanvas();
    drawPreview();
  }

  // --- adding sections and the stage ---------------------------------------------------------

  document.addEventListener("formset:added", (event) => {
    if (event.detail?.formsetName !== PREFIX || !pendingKind) return;
    const input = event.target.querySelector('input[name$="-geometry"]');
    const idx = input.name.split("-")[1];
    const n = indexes().length;
    const general = pendingKind === "general";
    pendingKind = null;
    field(idx, "name").value = general ? `Standing ${n}` : `Section ${n}`;
    field(idx, "kind").value = general ? "general" : "reserved";
    if (general) field(idx, "capacity").value = "200";
    else {
      field(idx, "rows_spec").value = "A-E";
      field(idx, "seats_per_row").value = "12";
    }
    setGeometry(idx, freeSpot(general ? 240 : 300, general ? 120 : 150));
    select(idx);
  });

  function addSection(kind) {
    const link = document.querySelector(`#${PREFIX}-group .add-row a`);
    if (!link) return;
    pendingKind = kind;
    link.click();
  }

  root.querySelector("[data-toolbar], .editor-toolbar").addEventListener("click", (event) => {
    const action = event.target.closest("[data-action]")?.dataset.action;
    if (action === "add-reserved") addSection("reserved");
    else if (action === "add-general") addSection("general");
    else if (action === "rotate-left") rotateSelected(-15);
    else if (action === "rotate-right") rotateSelected(15);
    else if (action === "stage" && stageInput) {
      if (!stage()) setStage({ x: 350, y: 10, width: 300, height: 50, label: stageLabel.value || "Stage" });
      select("stage");
    }
  });
  stageLabel?.addEventListener("input", () => {
    const st = stage();
    if (st) {
      setStage({ ...st, label: stageLabel.value || "Stage" });
      render();
    }
  });

  // Typing in the inline forms directly redraws too.
  document.getElementById(`${PREFIX}-group`)?.addEventListener("input", () => render());
  document.getElementById(`${PREFIX}-group`)?.addEventListener("change", () => render());

  function init() {
    // Sections without a place get one, so nothing is drawn on top of another.
    for (const idx of indexes()) {
      if (!geometry(idx)) setGeometry(idx, freeSpot(200, 100));
      initialGeo.set(idx, geometry(idx));
    }
    const st = stage();
    if (st && stageLabel) stageLabel.value = st.label;
    render();
  }
  if (document.readyState === "complete") init();
  else window.addEventListener("load", init);
})();
