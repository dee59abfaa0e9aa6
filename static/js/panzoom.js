// Pan and zoom of the seat map by its SVG viewBox: mouse wheel, drag, two-finger pinch and
// buttons. One controller per map container; the map redraws its <svg> and re-attaches.
// A drag or pinch that moved is not a click: the click that ends it is swallowed, so
// panning never picks a seat.

const DRAG_PX = 6;

export class PanZoom {
  constructor(container, { maxZoom = 40, onChange = null } = {}) {
    this.container = container;
    this.maxZoom = maxZoom;
    this.onChange = onChange;
    this.svg = null;
    this.home = null; // [x, y, w, h]: the whole of what is shown
    this.box = null; // the current viewBox
    this.pointers = new Map();
    this.moved = false;
    this.last = null;
    container.addEventListener("wheel", (e) => this.onWheel(e), { passive: false });
    container.addEventListener("pointerdown", (e) => this.onDown(e));
    container.addEventListener("pointermove", (e) => this.onMove(e));
    for (const type of ["pointerup", "pointercancel", "pointerleave"]) {
      container.addEventListener(type, (e) => this.onUp(e));
    }
    // Capture phase: runs before the map's own click handler.
    container.addEventListener(
      "click",
      (e) => {
        if (this.moved) {
          e.stopPropagation();
          e.preventDefault();
          this.moved = false;
        }
      },
      true,
    );
  }

  attach(svg, home, { keep = false } = {}) {
    this.svg = svg;
    const sameHome = this.home && home.every((v, i) => Math.abs(v - this.home[i]) < 1e-6);
    this.home = home;
    if (!(keep && sameHome && this.box)) this.box = [...home];
    this.apply();
  }

  get zoom() {
    return this.home ? this.home[2] / this.box[2] : 1;
  }

  // CSS pixels per map unit at the current zoom (the SVG keeps its aspect: "meet").
  pixelsPerUnit() {
    if (!this.svg) return 1;
    const rect = this.svg.getBoundingClientRect();
    return Math.min(rect.width / this.box[2], rect.height / this.box[3]) || 1;
  }

  apply() {
    if (!this.svg) return;
    const [hx, hy, hw, hh] = this.home;
    let [x, y, w, h] = this.box;
    const scale = Math.min(Math.max(hw / w, 1), this.maxZoom);
    const cx = x + w / 2;
    const cy = y + h / 2;
    w = hw / scale;
    h = hh / scale;
    // Keep the centre over the map: it can be panned to its edges, not lost off screen.
    const ccx = Math.min(Math.max(cx, hx + w / 2), hx + hw - w / 2);
    const ccy = Math.min(Math.max(cy, hy + h / 2), hy + hh - h / 2);
    this.box = [ccx - w / 2, ccy - h / 2, w, h];
    this.svg.setAttribute("viewBox", this.box.map((v) => Math.round(v * 100) / 100).join(" "));
    if (this.onChange) this.onChange(this);
  }

  // Zoom by ``factor`` (>1 zooms in) keeping the map point (px, py) where it is on screen.
  zoomBy(factor, px = null, py = null) {
    const [x, y, w, h] = this.box;
    const fx = px === null ? x + w / 2 : px;
    const fy = py === null ? y + h / 2 : py;
    const nw = w / factor;
    const nh = h / factor;
    this.box = [fx - ((fx - x) * nw) / w, fy - ((fy - y) * nh) / h, nw, nh];
    this.apply();
  }

  reset() {
    this.box = [...this.home];
    this.apply();
  }

  centreOn(px, py) {
    const [, , w, h] = this.box;
    this.box = [px - w / 2, py - h / 2, w, h];
    this.apply();
  }

  contains(px, py) {
    const [x, y, w, h] = this.box;
    return px >= x && px <= x + w && py >= y && py <= y + h;
  }

  toMap(clientX, clientY) {
    const ctm = this.svg.getScreenCTM();
    if (!ctm) return [null, null];
    const point = new DOMPoint(clientX, clientY).matrixTransform(ctm.inverse());
    return [point.x, point.y];
  }

  panPixels(dx, dy) {
    const k = this.pixelsPerUnit();
    this.box = [this.box[0] - dx / k, this.box[1] - dy / k, this.box[2], this.box[3]];
    this.apply();
  }

  onWheel(event) {
    if (!this.svg) return;
    event.preventDefault();
    const [px, py] = this.toMap(event.clientX, event.clientY);
    const delta = event.deltaMode === 1 ? event.deltaY * 16 : event.deltaY;
    this.zoomBy(Math.exp(-delta * 0.002), px, py);
  }

  onDown(event) {
    if (!this.svg || (event.pointerType === "mouse" && event.button !== 0)) return;
    this.pointers.set(event.pointerId, { x: event.clientX, y: event.clientY, x0: event.clientX, y0: event.clientY });
    if (this.pointers.size === 1) this.moved = false;
  }

  onMove(event) {
    const p = this.pointers.get(event.pointerId);
    if (!p) return;
    const before = [...this.pointers.values()].map((q) => ({ ...q }));
    p.x = event.clientX;
    p.y = event.clientY;
    if (Math.hypot(p.x - p.x0, p.y - p.y0) > DRAG_PX) this.moved = true;
    if (!this.moved) return;
    if (this.pointers.size >= 2) {
      const [a0, b0] = before;
      const [a1, b1] = [...this.pointers.values()];
      const d0 = Math.hypot(a0.x - b0.x, a0.y - b0.y);
      const d1 = Math.hypot(a1.x - b1.x, a1.y - b1.y);
      const mx = (a1.x + b1.x) / 2;
      const my = (a1.y + b1.y) / 2;
      this.panPixels(mx - (a0.x + b0.x) / 2, my - (a0.y + b0.y) / 2);
      if (d0 > 0 && d1 > 0) {
        const [px, py] = this.toMap(mx, my);
        this.zoomBy(d1 / d0, px, py);
      }
    } else {
      const q = before[0];
      this.panPixels(p.x - q.x, p.y - q.y);
    }
  }

  onUp(event) {
    this.pointers.delete(event.pointerId);
  }
}
