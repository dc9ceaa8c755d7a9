// Small SVG line charts on a shared time axis, with the autoscaler's decisions drawn on them.
// No library: a few lines per chart, redrawn whole each second (a chart holds ~900 points).

const NS = "http://www.w3.org/2000/svg";
const W = 600, H = 200, L = 44, R = 10, T = 32, B = 22;
const LABEL_ROWS = [11, 23];  // decision labels take two staggered rows above the plot

function el(name, attrs = {}, text) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function niceMax(value) {
  if (!(value > 0)) return 1;
  const exp = Math.pow(10, Math.floor(Math.log10(value)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * exp >= value) return m * exp;
  return 10 * exp;
}

export function clock(t) {
  const d = new Date(t * 1000);
  return d.toTimeString().slice(0, 8);
}

function fmtTick(v) {
  if (v === 0) return "0";
  if (Math.abs(v) >= 1000) return (v / 1000).toFixed(v % 1000 ? 1 : 0) + "k";
  return Number.isInteger(v) ? String(v) : v.toFixed(v < 1 ? 2 : 1);
}

// series: [{label, color, dash, values: [[t, v|null], ...]}]
// marks: [{t, label, title}]; t0..t1: the time window shown.
export function drawChart(figure, { series, marks, t0, t1, unit }) {
  const svg = figure.querySelector("svg");
  svg.replaceChildren();
  const span = Math.max(1, t1 - t0);
  let top = 0;
  for (const s of series) for (const [, v] of s.values) if (v !== null && v > top) top = v;
  top = niceMax(top * 1.05);
  const x = (t) => L + ((t - t0) / span) * (W - L - R);
  const y = (v) => H - B - (v / top) * (H - T - B);
  for (let i = 0; i <= 4; i++) {
    const v = (top * i) / 4;
    svg.append(el("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "axis" }));
    svg.append(el("text", { x: L - 4, y: y(v) + 3, "text-anchor": "end" }, fmtTick(v)));
  }
  for (let i = 0; i <= 3; i++) {
    const t = t0 + (span * i) / 3;
    const anchor = i === 0 ? "start" : i === 3 ? "end" : "middle";
    svg.append(el("text", { x: x(t), y: H - 6, "text-anchor": anchor }, clock(t)));
  }
  for (const s of series) {
    let d = "", pen = false;
    for (const [t, v] of s.values) {
      if (t < t0 || v === null) { pen = false; continue; }
      d += `${pen ? "L" : "M"}${x(t).toFixed(1)},${y(v).toFixed(1)}`;
      pen = true;
    }
    const attrs = { d, fill: "none", stroke: s.color, "stroke-width": 2 };
    if (s.dash) attrs["stroke-dasharray"] = s.dash;
    svg.append(el("path", attrs));
  }
  const rowEnds = LABEL_ROWS.map(() => -Infinity);
  for (const m of marks) {
    if (m.t < t0 || m.t > t1) continue;
    const g = el("g", { class: "decision-mark", "data-term": m.term });
    g.append(el("title", {}, m.title));
    g.append(el("line", { x1: x(m.t), x2: x(m.t), y1: T - 4, y2: H - B }));
    // A label goes on the first row where it overlaps none, flipped to end at its line near
    // the right edge; with no row free, the tooltip still says it all.
    const width = m.label.length * 5.8, at = x(m.t);
    const flip = at + 2 + width > W - R;
    const left = flip ? at - 2 - width : at + 2;
    const row = rowEnds.findIndex((end) => left > end);
    if (row >= 0) {
      g.append(el("text", { x: flip ? at - 2 : at + 2, y: LABEL_ROWS[row],
        "text-anchor": flip ? "end" : "start" }, m.label));
      rowEnds[row] = left + width + 4;
    }
    svg.append(g);
  }
  const latest = series.map((s) => {
    const last = s.values.length ? s.values[s.values.length - 1][1] : null;
    return `${s.label} ${last === null ? "n/a" : fmtTick(last)}${unit || ""}`;
  });
  svg.setAttribute("aria-label", `${figure.dataset.title}: latest ${latest.join(", ")}; ` +
    `${marks.length} scaling decision${marks.length === 1 ? "" : "s"} marked`);
}

export function makeChart(title, series) {
  const figure = document.createElement("figure");
  figure.className = "chart";
  figure.dataset.title = title;
  const caption = document.createElement("figcaption");
  caption.textContent = title;
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img" });
  const legend = document.createElement("div");
  legend.className = "legend";
  for (const s of series) {
    const item = document.createElement("span");
    const swatch = document.createElement("i");
    swatch.style.background = s.color;
    item.append(swatch, s.label);
    legend.append(item);
  }
  figure.append(caption, svg, legend);
  return figure;
}
