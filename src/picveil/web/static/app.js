// picveil's page: four views (Protect, Reveal, Inspect, Keyring) over the /api endpoints.
// Plain ES modules, no dependencies. Images stay in memory (object URLs).

import { BoxEditor } from "./editor.js";

const $ = (id) => document.getElementById(id);
const PASS_HEADER = "X-Picveil-Keyring-Passphrase";
const PREVIEW_DELAY_MS = 350;

let caps = { detection: { available: false }, keyring: { available: false }, circles: {}, looks: [], platforms: [] };

// --- talking to the server ------------------------------------------------------------------
class AppError extends Error {
  constructor(message, hint = "", kind = "Error", status = 0) {
    super(message);
    this.hint = hint;
    this.kind = kind;
    this.status = status;
  }
}

function keyringHeaders() {
  const pw = $("kr-passphrase").value;
  // HTTP headers carry Latin-1: any passphrase goes percent-encoded as UTF-8 (RFC 8187's utf-8'' form)
  return pw ? { [PASS_HEADER]: "utf-8''" + encodeURIComponent(pw) } : {};
}

async function call(path, { method = "POST", form = null, json = null, headers = {}, signal } = {}) {
  const opts = { method, headers: { ...headers }, signal };
  if (form) opts.body = form;
  if (json) {
    opts.body = JSON.stringify(json);
    opts.headers["Content-Type"] = "application/json";
  }
  let res;
  try {
    res = await fetch(path, opts);
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new AppError("The picveil app did not answer.", "Is `picveil serve` still running in its terminal?");
  }
  if (!res.ok) {
    let body = {};
    try {
      body = await res.json();
    } catch (_) {
      /* not JSON */
    }
    throw new AppError(body.error || `The request failed (HTTP ${res.status}).`, body.hint || "", body.kind || "HTTPError", res.status);
  }
  return res;
}

function filenameOf(res, fallback) {
  const m = /filename="([^"]+)"/.exec(res.headers.get("Content-Disposition") || "");
  return m ? m[1] : fallback;
}

function reportOf(res) {
  try {
    return JSON.parse(res.headers.get("X-Picveil-Report") || "null");
  } catch (_) {
    return null;
  }
}

// --- page furniture -----------------------------------------------------------------------
function showError(page, err) {
  const box = $(`${page}-alert`);
  box.replaceChildren();
  if (!err) return;
  const strong = document.createElement("strong");
  strong.textContent = err.message;
  box.append(strong);
  if (err.hint) {
    const p = document.createElement("span");
    p.className = "hint";
    p.textContent = ` ${err.hint}`;
    box.append(p);
  }
  if (!(err instanceof AppError)) console.error(err);
}

/** Show progress on a page while `work` runs; report its error in the page's alert. */
async function busy(page, text, work, { button = null } = {}) {
  const status = $(`${page}-status`);
  const section = $(`page-${page}`);
  showError(page, null);
  status.classList.add("active");
  status.querySelector(".text").textContent = text;
  section.setAttribute("aria-busy", "true");
  if (button) button.disabled = true;
  try {
    return await work();
  } catch (e) {
    if (e.name !== "AbortError") showError(page, e);
    return undefined;
  } finally {
    status.classList.remove("active");
    const line = status.querySelector(".text");
    if (line.textContent === text) line.textContent = ""; // keep a message the work left (say())
    section.removeAttribute("aria-busy");
    if (button) button.disabled = false;
  }
}

function say(page, text) {
  // a short confirmation in the status line, announced politely
  const status = $(`${page}-status`);
  status.querySelector(".text").textContent = text;
}

function download(blob, filename) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
}

const urls = new Map(); // slot -> object URL, revoked when replaced
function objectUrl(slot, blob) {
  if (urls.has(slot)) URL.revokeObjectURL(urls.get(slot));
  const url = URL.createObjectURL(blob);
  urls.set(slot, url);
  return url;
}

function loadImage(img, url) {
  return new Promise((resolve, reject) => {
    img.onload = () => resolve(img);
    img.onerror = () => reject(new AppError("Your browser cannot show this image.", "picveil can still protect it; for editing, save it as JPEG or PNG first."));
    img.src = url;
  });
}

function dropZones() {
  for (const zone of document.querySelectorAll("[data-drop-for]")) {
    const input = $(zone.dataset.dropFor);
    zone.addEventListener("dragover", (e) => {
      e.preventDefault();
      zone.classList.add("over");
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      zone.classList.remove("over");
      if (!e.dataTransfer.files.length) return;
      const dt = new DataTransfer();
      dt.items.add(e.dataTransfer.files[0]);
      input.files = dt.files;
      input.dispatchEvent(new Event("change", { bubbles: true }));
    });
  }
}

function drawOutlines(svg, width, height, boxes) {
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.replaceChildren();
  const ns = "http://www.w3.org/2000/svg";
  boxes.forEach((b, i) => {
    const g = document.createElementNS(ns, "g");
    g.setAttribute("class", "box");
    for (const cls of ["edge-dark", "edge"]) {
      const r = document.createElementNS(ns, "rect");
      r.setAttribute("class", cls);
      for (const [k, v] of Object.entries({ x: b.x, y: b.y, width: b.w, height: b.h })) r.setAttribute(k, v);
      g.append(r);
    }
    const t = document.createElementNS(ns, "text");
    t.setAttribute("class", "tag");
    t.setAttribute("x", b.x + width / 120);
    t.setAttribute("y", b.y + width / 40);
    t.setAttribute("font-size", width / 36);
    t.textContent = String(i + 1);
    g.append(t);
    svg.append(g);
  });
}

// --- navigation ---------------------------------------------------------------------------
const PAGES = ["protect", "reveal", "inspect", "keyring"];

function route() {
  let page = location.hash.replace("#", "") || "protect";
  if (!PAGES.includes(page) || (page === "keyring" && !caps.keyring.available)) page = "protect";
  for (const p of PAGES) $(`page-${p}`).hidden = p !== page;
  for (const a of document.querySelectorAll("nav a")) {
    if (a.dataset.page === page) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  document.title = `${page[0].toUpperCase()}${page.slice(1)} · picveil`;
  if (page === "keyring") refreshKeyring();
}

// --- Protect ------------------------------------------------------------------------------
const protect = {
  file: null,
  editor: null,
  previewAbort: null,
  previewTimer: null,
  final: false, // the result pane shows the real protected file (not a preview)
};

function markStale() {
  protect.final = false;
  $("protect-download").hidden = true;
  $("protect-summary").textContent = "";
  $("protect-result-caption").textContent = "Protected (preview)";
}

function boxesChanged() {
  $("box-empty").hidden = protect.editor.boxes.length > 0;
  markStale();
  clearTimeout(protect.previewTimer);
  protect.previewTimer = setTimeout(preview, PREVIEW_DELAY_MS);
}

async function preview() {
  if (!protect.file) return;
  if (protect.previewAbort) protect.previewAbort.abort();
  const boxes = protect.editor.enabled();
  const result = $("protect-result");
  if (!boxes.length) {
    result.src = $("protect-original").src;
    $("protect-result-caption").textContent = "Protected (preview): nothing selected yet";
    return;
  }
  const abort = new AbortController();
  protect.previewAbort = abort;
  const form = new FormData();
  form.append("photo", protect.file);
  form.append("boxes", JSON.stringify(boxes));
  form.append("space", "displayed");
  if (!$("protect-look-field").hidden && $("protect-look").value) form.append("look", $("protect-look").value);
  try {
    const res = await call("/api/preview", { form, signal: abort.signal });
    const blob = await res.blob();
    if (abort.signal.aborted || protect.final) return;
    result.src = objectUrl("preview", blob);
    $("protect-result-caption").textContent = "Protected (preview)";
  } catch (e) {
    if (e.name !== "AbortError") showError("protect", e);
  }
}

async function detect() {
  if (!caps.detection.available || !protect.file) return;
  const form = new FormData();
  form.append("photo", protect.file);
  form.append("space", "displayed");
  const found = await busy("protect", "Looking for faces, text, plates and people…", async () => {
    const res = await call("/api/detect", { form });
    return res.json();
  }, { button: $("box-detect") });
  if (!found) return;
  // Detecting again replaces what was detected before; boxes drawn by hand stay.
  for (const b of [...protect.editor.boxes]) if (b.cls) protect.editor.boxes.splice(protect.editor.boxes.indexOf(b), 1);
  for (const d of found.detections) {
    // People boxes cover whole bodies: listed, but off until the user turns them on.
    protect.editor.add({ ...d.box, cls: d.cls, score: d.score, on: d.cls !== "person" }, { notify: false });
  }
  const n = found.detections.length;
  say("protect", n ? `Found ${n} region${n > 1 ? "s" : ""}. Check the boxes, then protect.` : "Found nothing to protect; draw boxes by hand.");
  boxesChanged();
}

async function chooseProtectFile(file) {
  if (!file) return;
  showError("protect", null);
  protect.file = file;
  markStale();
  const img = $("protect-original");
  try {
    await loadImage(img, objectUrl("original", file));
  } catch (e) {
    showError("protect", e);
    $("protect-work").hidden = true;
    return;
  }
  $("protect-work").hidden = false;
  protect.editor.reset(img.naturalWidth, img.naturalHeight);
  $("protect-result").src = img.src;
  $("box-empty").hidden = false;
  await detect();
  if (!protect.editor.boxes.length) boxesChanged();
}

async function runProtect() {
  const boxes = protect.editor.enabled();
  if (!protect.file) return showError("protect", new AppError("Choose a photo first."));
  if (!boxes.length) return showError("protect", new AppError("There is nothing to protect.", "Draw a box over what to hide, or turn a found box on."));
  const form = new FormData();
  form.append("photo", protect.file);
  form.append("boxes", JSON.stringify(boxes));
  form.append("space", "displayed");
  form.append("recipients", $("protect-recipients").value);
  form.append("passphrase", $("protect-passphrase").value);
  if (!$("protect-circle-field").hidden && $("protect-circle").value) form.append("circle", $("protect-circle").value);
  if (!$("protect-look-field").hidden && $("protect-look").value) form.append("look", $("protect-look").value);
  if (!$("protect-platform-field").hidden && $("protect-platform").value) form.append("platform", $("protect-platform").value);
  await busy("protect", "Protecting…", async () => {
    if (protect.previewAbort) protect.previewAbort.abort();
    clearTimeout(protect.previewTimer);
    const res = await call("/api/protect", { form, headers: keyringHeaders() });
    const blob = await res.blob();
    const report = reportOf(res);
    protect.final = true;
    const url = objectUrl("protected", blob);
    $("protect-result").src = url;
    $("protect-result-caption").textContent = "Protected: this is the file you download";
    const link = $("protect-download");
    link.href = url;
    link.download = filenameOf(res, "photo.protected.jpg");
    link.hidden = false;
    if (report) {
      const n = report.regions.length;
      const kb = (b) => `${Math.round(b / 1024).toLocaleString()} KB`;
      $("protect-summary").textContent = `Protected ${n} region${n === 1 ? "" : "s"} (snapped to the JPEG's 8–16 px grid). File size ${kb(report.input_bytes)} → ${kb(report.output_bytes)}.`;
      for (const w of [...(report.warnings || []), ...(report.advice || [])]) $("protect-summary").textContent += ` Note: ${w}`;
    }
    link.focus();
  }, { button: $("protect-go") });
}

async function keygen() {
  await busy("protect", "Creating a key…", async () => {
    const res = await call("/api/keygen");
    const key = await res.json();
    download(new Blob([key.identity], { type: "text/plain" }), "picveil-identity.key");
    const area = $("protect-recipients");
    area.value = `${area.value.trim()}\n${key.recipient}`.trim();
    say("protect", "Saved your new key as picveil-identity.key in your downloads. Keep it safe: you need it to reveal.");
  });
}

function initProtect() {
  protect.editor = new BoxEditor({
    svg: $("protect-overlay"),
    list: $("box-list"),
    live: $("box-live"),
    onChange: boxesChanged,
  });
  $("protect-file").addEventListener("change", (e) => chooseProtectFile(e.target.files[0]));
  $("box-add").addEventListener("click", () => protect.editor.addCentered());
  $("box-detect").addEventListener("click", detect);
  $("protect-go").addEventListener("click", runProtect);
  $("protect-keygen").addEventListener("click", keygen);
  $("protect-look").addEventListener("change", boxesChanged);
  for (const id of ["protect-recipients", "protect-passphrase", "protect-circle", "protect-platform"]) {
    $(id).addEventListener("input", markStale);
  }
}

// --- Reveal -------------------------------------------------------------------------------
async function runReveal() {
  const file = $("reveal-file").files[0];
  if (!file) return showError("reveal", new AppError("Choose a protected photo first."));
  const form = new FormData();
  form.append("image", file);
  const identity = $("reveal-identity").files[0];
  if (identity) form.append("identity", identity);
  form.append("passphrase", $("reveal-passphrase").value);
  if ($("reveal-keyring").checked) form.append("use_keyring", "true");
  $("reveal-result").hidden = true;
  await busy("reveal", "Revealing…", async () => {
    const res = await call("/api/reveal", { form, headers: keyringHeaders() });
    const blob = await res.blob();
    const report = reportOf(res);
    await Promise.all([
      loadImage($("reveal-before"), objectUrl("reveal-before", file)),
      loadImage($("reveal-after"), objectUrl("revealed", blob)),
    ]);
    const link = $("reveal-download");
    link.href = urls.get("revealed");
    link.download = filenameOf(res, "photo.revealed.jpg");
    if (report) {
      const locked = report.locked.length;
      $("reveal-summary").textContent =
        `Revealed ${report.revealed.length} of ${report.total} region${report.total === 1 ? "" : "s"}.` +
        (locked ? ` ${locked} stay${locked === 1 ? "s" : ""} hidden: your key does not open ${locked === 1 ? "it" : "them"}.` : "");
      for (const w of report.warnings || []) $("reveal-summary").textContent += ` Note: ${w}`;
    }
    $("reveal-result").hidden = false;
    setSlider();
    link.focus();
  }, { button: $("reveal-go") });
}

function setSlider() {
  const v = Number($("reveal-slider").value);
  $("reveal-before").style.clipPath = `inset(0 ${100 - v}% 0 0)`;
  $("reveal-slider").setAttribute("aria-valuetext", `${v}% protected, ${100 - v}% revealed`);
}

function initReveal() {
  $("reveal-go").addEventListener("click", runReveal);
  $("reveal-slider").addEventListener("input", setSlider);
  $("reveal-file").addEventListener("change", () => {
    $("reveal-result").hidden = true;
    showError("reveal", null);
  });
}

// --- Inspect ------------------------------------------------------------------------------
function fact(dl, term, value) {
  const dt = document.createElement("dt");
  dt.textContent = term;
  const dd = document.createElement("dd");
  dd.textContent = value;
  dl.append(dt, dd);
}

async function runInspect(file) {
  if (!file) return;
  $("inspect-result").hidden = true;
  const form = new FormData();
  form.append("image", file);
  form.append("space", "displayed");
  await busy("inspect", "Reading…", async () => {
    const info = await (await call("/api/inspect", { form })).json();
    await loadImage($("inspect-image"), objectUrl("inspect", file)).catch(() => {});
    const dl = $("inspect-facts");
    dl.replaceChildren();
    fact(dl, "Format", `picveil v${info.format_version}, scheme ${info.scheme}`);
    if (info.source && info.source !== "container") fact(dl, "Read from", `the ${info.source} (a downloaded copy): ${info.received}`);
    fact(dl, "Image", `${info.width} × ${info.height}, ${info.subsampling}, blocks of ${info.mcu[0]} × ${info.mcu[1]} px`);
    fact(dl, "Regions", `${info.regions.length} in ${info.groups} key group${info.groups === 1 ? "" : "s"}`);
    const body = $("inspect-regions");
    body.replaceChildren();
    for (const r of info.regions) {
      const tr = document.createElement("tr");
      const opens = [];
      if (r.recipients) opens.push(`${r.recipients} key${r.recipients === 1 ? "" : "s"}`);
      if (r.passphrase) opens.push("a passphrase");
      if (r.circle) opens.push(`circle ${r.circle}`);
      for (const text of [r.index + 1, `${r.box.x}, ${r.box.y}, ${r.box.w} × ${r.box.h}`, r.look, opens.join(", ") || "nobody"]) {
        const td = document.createElement("td");
        td.textContent = String(text);
        tr.append(td);
      }
      body.append(tr);
    }
    drawOutlines($("inspect-overlay"), info.displayed_width, info.displayed_height, info.regions.map((r) => r.box));
    $("inspect-result").hidden = false;
  });
}

function initInspect() {
  $("inspect-file").addEventListener("change", (e) => runInspect(e.target.files[0]));
}

// --- Keyring ------------------------------------------------------------------------------
let keyring = null;

function fillCircleSelects() {
  const circles = keyring && keyring.exists ? keyring.circles : [];
  for (const [id, first] of [["protect-circle", "None"], ["kr-share-name", null]]) {
    const sel = $(id);
    const keep = sel.value;
    sel.replaceChildren();
    if (first) sel.append(new Option(first, ""));
    for (const c of circles) sel.append(new Option(c.name, c.name));
    if ([...sel.options].some((o) => o.value === keep)) sel.value = keep;
  }
  $("protect-circle-field").hidden = !(caps.circles.protect && circles.length);
}

function renderKeyring() {
  const me = $("kr-me");
  me.replaceChildren();
  $("kr-copy").hidden = true;
  $("kr-create").hidden = true;
  if (!keyring) return;
  $("kr-home").textContent = `Kept in ${keyring.home}`;
  if (!keyring.exists) {
    me.textContent = "You have no keyring yet. Creating one makes your key, which friends share circles with.";
    $("kr-create").hidden = false;
  } else if (keyring.recipient) {
    const p = document.createElement("p");
    p.textContent = "Friends share circles and protect photos for you with this key:";
    const code = document.createElement("code");
    code.id = "kr-recipient";
    code.className = "key";
    code.textContent = keyring.recipient;
    me.append(p, code);
    $("kr-copy").hidden = false;
  } else {
    me.textContent = "Your keyring is protected by a passphrase and has no key of its own.";
  }
  const body = $("kr-circles");
  body.replaceChildren();
  if (!keyring.circles.length) {
    const tr = document.createElement("tr");
    const td = document.createElement("td");
    td.colSpan = 4;
    td.textContent = "No circles yet.";
    tr.append(td);
    body.append(tr);
  }
  for (const c of keyring.circles) {
    const tr = document.createElement("tr");
    const shared = c.shared_with.length ? `${c.shared_with.length} ${c.shared_with.length === 1 ? "person" : "people"}` : "nobody yet";
    for (const text of [c.name, c.id, c.created.replace("T", " ").replace("Z", " UTC"), shared]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.append(td);
    }
    body.append(tr);
  }
  fillCircleSelects();
}

async function refreshKeyring() {
  if (!caps.keyring.available) return;
  await busy("keyring", "Opening your keyring…", async () => {
    keyring = await (await call("/api/keyring", { method: "GET", headers: keyringHeaders() })).json();
    renderKeyring();
  });
}

function initKeyring() {
  $("kr-create").addEventListener("click", () =>
    busy("keyring", "Creating your keyring…", async () => {
      keyring = await (await call("/api/keyring", { headers: keyringHeaders() })).json();
      renderKeyring();
    }),
  );
  $("kr-copy").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(keyring.recipient);
      say("keyring", "Copied your key.");
    } catch (_) {
      const range = document.createRange();
      range.selectNodeContents($("kr-recipient"));
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      say("keyring", "Your key is selected: copy it with Ctrl+C.");
    }
  });
  $("kr-new-form").addEventListener("submit", (e) => {
    e.preventDefault();
    busy("keyring", "Creating the circle…", async () => {
      const name = $("kr-new-name").value.trim();
      await call("/api/keyring/circles", { json: { name }, headers: keyringHeaders() });
      $("kr-new-name").value = "";
      keyring = await (await call("/api/keyring", { method: "GET", headers: keyringHeaders() })).json();
      renderKeyring();
      say("keyring", `Created circle ${name}.`);
    });
  });
  $("kr-share-form").addEventListener("submit", (e) => {
    e.preventDefault();
    busy("keyring", "Sharing…", async () => {
      const name = $("kr-share-name").value;
      const recipients = $("kr-share-to").value.split(/[\s,;]+/).filter(Boolean);
      const res = await call(`/api/keyring/circles/${encodeURIComponent(name)}/share`, { json: { recipients }, headers: keyringHeaders() });
      download(await res.blob(), filenameOf(res, `${name}.circle`));
      keyring = await (await call("/api/keyring", { method: "GET", headers: keyringHeaders() })).json();
      renderKeyring();
      say("keyring", `Saved ${name}.circle in your downloads: send it to them.`);
    });
  });
  $("kr-import-form").addEventListener("submit", (e) => {
    e.preventDefault();
    busy("keyring", "Importing…", async () => {
      const form = new FormData();
      form.append("file", $("kr-import-file").files[0]);
      form.append("rename", $("kr-import-as").value.trim());
      const result = await (await call("/api/keyring/import", { form, headers: keyringHeaders() })).json();
      keyring = await (await call("/api/keyring", { method: "GET", headers: keyringHeaders() })).json();
      renderKeyring();
      say("keyring", result.already ? `You already had this circle, as ${result.circle.name}.` : `Imported circle ${result.circle.name}.`);
    });
  });
  $("kr-passphrase").addEventListener("change", refreshKeyring);
}

// --- start --------------------------------------------------------------------------------
function applyCapabilities() {
  $("box-detect").hidden = !caps.detection.available;
  $("nav-keyring").parentElement.hidden = !caps.keyring.available;
  $("reveal-keyring-field").hidden = !caps.keyring.available;
  const look = $("protect-look");
  look.replaceChildren(...caps.looks.map((l) => new Option(l, l)));
  $("protect-look-field").hidden = caps.looks.length < 2;
  const platform = $("protect-platform");
  for (const p of caps.platforms) {
    const size = p.max_long_edge ? ` (at most ${p.max_long_edge} px)` : "";
    platform.append(new Option(`${p.title}${size}`, p.name));
  }
  $("protect-platform-field").hidden = !caps.platforms.length;
}

async function start() {
  dropZones();
  initProtect();
  initReveal();
  initInspect();
  initKeyring();
  try {
    caps = await (await call("/api/capabilities", { method: "GET" })).json();
  } catch (e) {
    showError("protect", e);
  }
  applyCapabilities();
  window.addEventListener("hashchange", route);
  route();
  if (caps.keyring.available) {
    try {
      keyring = await (await call("/api/keyring", { method: "GET", headers: keyringHeaders() })).json();
      renderKeyring();
    } catch (_) {
      /* shown when the Keyring page opens */
    }
  }
  document.body.dataset.ready = "true";
}

start();
