// The box editor: boxes drawn over a photo (SVG) and listed as focusable items.
//
// Coordinates are the photo's *displayed* pixels (as the browser shows it,
// EXIF orientation applied): naturalWidth × naturalHeight of the <img>.
//
// Pointer: drag on the photo to draw a box, drag a box to move it, drag a
// corner handle to resize it. Keyboard (on a listed box): arrows move it
// (Shift: 10 px), Ctrl+arrows resize it, Space toggles it, Delete removes it.

const SVG_NS = "http://www.w3.org/2000/svg";
const MIN_SIZE = 8; // px: smaller drawn boxes are taken for clicks and dropped
const HANDLES = ["nw", "ne", "sw", "se"];
const CLASS_NAMES = { face: "Face", text: "Text", plate: "Plate", person: "Person" };

function svgEl(tag, attrs = {}) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

function clamp(v, lo, hi) {
  return Math.min(Math.max(v, lo), hi);
}

export class BoxEditor {
  /**
   * @param {object} opts
   * @param {SVGSVGElement} opts.svg  overlay, absolutely placed over the photo
   * @param {HTMLUListElement} opts.list  where boxes are listed
   * @param {HTMLElement} opts.live  a polite live region for keyboard feedback
   * @param {() => void} opts.onChange  called after every change the user makes
   */
  constructor({ svg, list, live, onChange }) {
    this.svg = svg;
    this.list = list;
    this.live = live;
    this.onChange = onChange;
    this.width = 0;
    this.height = 0;
    this.boxes = [];
    this.nextId = 1;
    this.selected = null;
    this.drag = null;
    svg.addEventListener("pointerdown", (e) => this.pointerDown(e));
    svg.addEventListener("pointermove", (e) => this.pointerMove(e));
    svg.addEventListener("pointerup", (e) => this.pointerUp(e));
    svg.addEventListener("pointercancel", (e) => this.pointerUp(e));
    new ResizeObserver(() => this.renderSvg()).observe(svg);
  }

  /** Start over for a photo of width × height displayed pixels. */
  reset(width, height) {
    this.width = width;
    this.height = height;
    this.boxes = [];
    this.selected = null;
    this.svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    this.render();
  }

  /** Add a box ({x, y, w, h, cls?, score?, on?}); returns its id. */
  add(box, { notify = true } = {}) {
    const b = {
      id: this.nextId++,
      x: box.x, y: box.y, w: box.w, h: box.h,
      cls: box.cls || null,
      score: box.score ?? null,
      on: box.on ?? true,
    };
    this.clampBox(b);
    this.boxes.push(b);
    this.render();
    if (notify) this.onChange();
    return b.id;
  }

  /** Add a box in the middle of the photo (for keyboard users); focus it. */
  addCentered() {
    const w = Math.round(this.width / 4), h = Math.round(this.height / 4);
    const id = this.add({ x: Math.round((this.width - w) / 2), y: Math.round((this.height - h) / 2), w, h });
    this.select(id, { focus: true });
    this.say(`Added ${this.describe(this.get(id))}.`);
  }

  get(id) {
    return this.boxes.find((b) => b.id === id);
  }

  remove(id) {
    const i = this.boxes.findIndex((b) => b.id === id);
    if (i < 0) return;
    const [gone] = this.boxes.splice(i, 1);
    if (this.selected === id) this.selected = null;
    this.render();
    this.onChange();
    this.say(`Deleted ${this.name(gone)}.`);
    const next = this.boxes[Math.min(i, this.boxes.length - 1)];
    if (next) this.select(next.id, { focus: true });
  }

  /** The boxes to protect: [{x, y, w, h}] in displayed pixels. */
  enabled() {
    return this.boxes.filter((b) => b.on).map(({ x, y, w, h }) => ({ x, y, w, h }));
  }

  clampBox(b) {
    b.w = clamp(Math.round(b.w), 1, this.width);
    b.h = clamp(Math.round(b.h), 1, this.height);
    b.x = clamp(Math.round(b.x), 0, this.width - b.w);
    b.y = clamp(Math.round(b.y), 0, this.height - b.h);
  }

  name(b) {
    const n = this.boxes.indexOf(b) + 1;
    const kind = b.cls ? CLASS_NAMES[b.cls] || b.cls : "Box";
    return `${kind} ${n > 0 ? n : ""}`.trim();
  }

  describe(b) {
    const score = b.score != null ? `, ${Math.round(b.score * 100)}% sure` : "";
    return `${this.name(b)}${score}: at ${b.x}, ${b.y}, ${b.w} × ${b.h} px, ${b.on ? "protected" : "not protected"}`;
  }

  say(text) {
    this.live.textContent = text;
  }

  select(id, { focus = false, scroll = true } = {}) {
    this.selected = id;
    this.renderSvg();
    for (const li of this.list.children) {
      const mine = Number(li.dataset.id) === id;
      li.classList.toggle("selected", mine);
      if (mine && focus) li.focus({ preventScroll: !scroll });
    }
  }

  // --- pointer ---------------------------------------------------------------------------
  point(e) {
    const r = this.svg.getBoundingClientRect();
    return {
      x: clamp(((e.clientX - r.left) * this.width) / r.width, 0, this.width),
      y: clamp(((e.clientY - r.top) * this.height) / r.height, 0, this.height),
    };
  }

  pointerDown(e) {
    if (e.button !== 0 || !this.width) return;
    const p = this.point(e);
    const g = e.target.closest("[data-id]");
    const handle = e.target.dataset ? e.target.dataset.handle : undefined;
    if (g) {
      const b = this.get(Number(g.dataset.id));
      this.drag = { kind: handle ? "resize" : "move", handle, id: b.id, start: p, orig: { ...b } };
      this.select(b.id);
    } else {
      const id = this.add({ x: p.x, y: p.y, w: 1, h: 1 }, { notify: false });
      this.drag = { kind: "draw", id, start: p, orig: null };
      this.select(id);
    }
    this.svg.setPointerCapture(e.pointerId);
    e.preventDefault();
  }

  pointerMove(e) {
    if (!this.drag) return;
    const p = this.point(e);
    const d = this.drag;
    const b = this.get(d.id);
    if (!b) return;
    if (d.kind === "move") {
      b.x = d.orig.x + (p.x - d.start.x);
      b.y = d.orig.y + (p.y - d.start.y);
      b.w = d.orig.w;
      b.h = d.orig.h;
    } else {
      let x0, y0, x1, y1;
      if (d.kind === "draw") {
        [x0, y0, x1, y1] = [d.start.x, d.start.y, p.x, p.y];
      } else {
        [x0, y0, x1, y1] = [d.orig.x, d.orig.y, d.orig.x + d.orig.w, d.orig.y + d.orig.h];
        if (d.handle.includes("n")) y0 = p.y;
        if (d.handle.includes("s")) y1 = p.y;
        if (d.handle.includes("w")) x0 = p.x;
        if (d.handle.includes("e")) x1 = p.x;
      }
      b.x = Math.min(x0, x1);
      b.y = Math.min(y0, y1);
      b.w = Math.max(Math.abs(x1 - x0), 1);
      b.h = Math.max(Math.abs(y1 - y0), 1);
    }
    this.clampBox(b);
    this.renderSvg();
  }

  pointerUp(e) {
    const d = this.drag;
    if (!d) return;
    this.drag = null;
    if (this.svg.hasPointerCapture(e.pointerId)) this.svg.releasePointerCapture(e.pointerId);
    const b = this.get(d.id);
    if (!b) return;
    if (d.kind === "draw" && (b.w < MIN_SIZE || b.h < MIN_SIZE)) {
      this.boxes = this.boxes.filter((x) => x !== b);
      this.selected = null;
      this.render();
      return;
    }
    const moved = !d.orig || ["x", "y", "w", "h"].some((k) => d.orig[k] !== b[k]);
    this.render();
    this.select(b.id, { focus: true, scroll: false });
    if (moved) this.onChange();
  }

  // --- keyboard --------------------------------------------------------------------------
  keyDown(e, id) {
    if (e.target !== e.currentTarget) return; // keys in the checkbox or button act on those
    const b = this.get(id);
    const step = e.shiftKey ? 10 : 1;
    const arrows = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    if (e.key in arrows) {
      const [dx, dy] = arrows[e.key];
      if (e.ctrlKey || e.metaKey) {
        b.w += dx * step;
        b.h += dy * step;
      } else {
        b.x += dx * step;
        b.y += dy * step;
      }
      this.clampBox(b);
      this.render();
      this.onChange();
      this.say(this.describe(b));
    } else if (e.key === "Delete" || e.key === "Backspace") {
      this.remove(id);
    } else if (e.key === " " || e.key === "Enter") {
      b.on = !b.on;
      this.render();
      this.onChange();
      this.say(this.describe(b));
    } else {
      return;
    }
    e.preventDefault();
  }

  // --- rendering -------------------------------------------------------------------------
  render() {
    this.renderSvg();
    this.renderList();
  }

  renderSvg() {
    const svg = this.svg;
    while (svg.firstChild) svg.firstChild.remove();
    if (!this.width) return;
    const shown = svg.getBoundingClientRect().width || this.width;
    const unit = this.width / shown; // photo pixels per screen pixel
    const hs = 12 * unit;
    this.boxes.forEach((b, i) => {
      const g = svgEl("g", {
        class: `box${b.on ? "" : " off"}${b.id === this.selected ? " selected" : ""}`,
        "data-id": b.id,
      });
      const geo = { x: b.x, y: b.y, width: b.w, height: b.h };
      g.append(svgEl("rect", { ...geo, class: "body" }));
      g.append(svgEl("rect", { ...geo, class: "edge-dark" }));
      g.append(svgEl("rect", { ...geo, class: "edge" }));
      const tag = svgEl("text", { x: b.x + 4 * unit, y: b.y + 16 * unit, "font-size": 14 * unit, class: "tag" });
      tag.textContent = String(i + 1);
      g.append(tag);
      for (const h of HANDLES) {
        const cx = h.includes("w") ? b.x : b.x + b.w;
        const cy = h.includes("n") ? b.y : b.y + b.h;
        g.append(svgEl("rect", { x: cx - hs / 2, y: cy - hs / 2, width: hs, height: hs, class: `handle ${h}`, "data-handle": h }));
      }
      svg.append(g);
    });
  }

  renderList() {
    const list = this.list;
    const byId = new Map([...list.children].map((li) => [Number(li.dataset.id), li]));
    for (const [id, li] of byId) if (!this.get(id)) li.remove();
    this.boxes.forEach((b, i) => {
      let li = byId.get(b.id);
      if (!li) {
        li = document.createElement("li");
        li.tabIndex = 0;
        li.dataset.id = b.id;
        li.className = "box-item";
        const check = document.createElement("input");
        check.type = "checkbox";
        check.id = `box-on-${b.id}`;
        const label = document.createElement("label");
        label.htmlFor = check.id;
        const del = document.createElement("button");
        del.type = "button";
        del.className = "small";
        del.textContent = "Delete";
        check.addEventListener("change", () => {
          b.on = check.checked;
          this.render();
          this.onChange();
        });
        del.addEventListener("click", () => this.remove(b.id));
        li.addEventListener("keydown", (e) => this.keyDown(e, b.id));
        li.addEventListener("focus", () => this.select(b.id));
        li.append(check, label, del);
        list.append(li);
      }
      if (list.children[i] !== li) list.insertBefore(li, list.children[i]);
      const [check, label, del] = li.children;
      check.checked = b.on;
      label.textContent = this.describe(b);
      del.setAttribute("aria-label", `Delete ${this.name(b)}`);
      li.setAttribute("aria-label", `${this.describe(b)}. Arrows move, Ctrl+arrows resize, Space toggles, Delete removes.`);
      li.classList.toggle("selected", b.id === this.selected);
      li.classList.toggle("off", !b.on);
    });
  }
}
