// A small SVG time-series chart: line + area, y grid, sparse x labels, a tooltip that
// follows the pointer or the arrow keys, and a table for screen readers.

import { h, s } from "./dom.js";

const H = 240;
const PAD = { top: 16, right: 16, bottom: 28, left: 48 };
const TICKS = 4;

/** Top of the y axis: TICKS round steps (whole numbers at least) covering v. */
function niceMax(v) {
  const raw = Math.max(v / TICKS, 1);
  const exp = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) {
    if (m * exp >= raw && Number.isInteger(m * exp)) return m * exp * TICKS;
  }
  return 10 * exp * TICKS;
}

/**
 * points: [{label, short, value}]; options: {title, format(value), previous: [{value}],
 * width (pixels; the chart is drawn at its real size so text stays legible)}
 */
export function lineChart(points, { title, format = String, previous, width = 800 } = {}) {
  const W = Math.max(280, Math.round(width));
  const max = niceMax(Math.max(...points.map((p) => p.value), ...(previous || []).map((p) => p.value), 0));
  const innerW = W - PAD.left - PAD.right;
  const innerH = H - PAD.top - PAD.bottom;
  const step = points.length > 1 ? innerW / (points.length - 1) : 0;
  const x = (i) => PAD.left + (points.length > 1 ? i * step : innerW / 2);
  const y = (v) => PAD.top + innerH - (v / max) * innerH;
  const line = (series) => series.map((p, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(p.value).toFixed(1)}`).join("");

  const grid = [];
  for (let t = 0; t <= TICKS; t += 1) {
    const v = (max / TICKS) * t;
    grid.push(s("line", { x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v), class: "grid" }));
    grid.push(s("text", { x: PAD.left - 6, y: y(v) + 4, class: "tick", "text-anchor": "end" }, format(v)));
  }
  const every = Math.max(1, Math.ceil(points.length / Math.max(2, Math.floor(W / 90))));
  const labels = points.map((p, i) => (i % every === 0 || i === points.length - 1) && (i === points.length - 1 ? true : points.length - 1 - i >= every / 2)
    ? s("text", { x: x(i), y: H - 8, class: "tick", "text-anchor": "middle" }, p.short || p.label)
    : null);

  const cursor = s("line", { class: "cursor", y1: PAD.top, y2: PAD.top + innerH, x1: 0, x2: 0, visibility: "hidden" });
  const dot = s("circle", { class: "dot", r: 4, cx: 0, cy: 0, visibility: "hidden" });
  const svg = s("svg", {
    viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: "chart", role: "img",
    "aria-label": title || "Time series", tabindex: 0,
  },
  s("title", {}, title || "Time series"),
  grid,
  points.length ? s("path", {
    class: "area",
    d: `${line(points)}L${x(points.length - 1).toFixed(1)},${y(0)}L${x(0).toFixed(1)},${y(0)}Z`,
  }) : null,
  previous && previous.length === points.length ? s("path", { class: "line previous", d: line(previous) }) : null,
  points.length ? s("path", { class: "line", d: line(points) }) : null,
  labels, cursor, dot);

  const tip = h("div", { class: "chart-tip", hidden: true, "aria-live": "polite" });
  let current = -1;
  const show = (i) => {
    if (i < 0 || i >= points.length) return;
    current = i;
    cursor.setAttribute("visibility", "visible");
    dot.setAttribute("visibility", "visible");
    cursor.setAttribute("x1", x(i));
    cursor.setAttribute("x2", x(i));
    dot.setAttribute("cx", x(i));
    dot.setAttribute("cy", y(points[i].value));
    tip.hidden = false;
    tip.textContent = `${points[i].label}: ${format(points[i].value)}`
      + (previous && previous[i] ? ` (before: ${format(previous[i].value)})` : "");
    const box = svg.getBoundingClientRect();
    tip.style.left = `${(x(i) / W) * box.width}px`;
  };
  const hide = () => {
    tip.hidden = true;
    cursor.setAttribute("visibility", "hidden");
    dot.setAttribute("visibility", "hidden");
  };
  svg.addEventListener("pointermove", (e) => {
    const box = svg.getBoundingClientRect();
    const px = ((e.clientX - box.left) / box.width) * W;
    show(Math.round((px - PAD.left) / (step || 1)));
  });
  svg.addEventListener("pointerleave", hide);
  svg.addEventListener("blur", hide);
  svg.addEventListener("keydown", (e) => {
    if (e.key === "ArrowRight") show(Math.min(points.length - 1, current + 1));
    else if (e.key === "ArrowLeft") show(Math.max(0, current < 0 ? points.length - 1 : current - 1));
    else return;
    e.preventDefault();
  });

  const data = h("table", { class: "sr-only" },
    h("caption", {}, title || "Time series"),
    h("tbody", {}, points.map((p) => h("tr", {}, h("th", { scope: "row" }, p.label), h("td", {}, format(p.value))))));
  return h("div", { class: "chart-box" }, svg, tip, data);
}

/** Horizontal bars (funnel): [{label, value, note}] */
export function bars(items, { format = String } = {}) {
  const max = Math.max(...items.map((i) => i.value), 1);
  return h("ol", { class: "bars" }, items.map((item) => {
    const fill = h("span", { class: "bar-fill" });
    // CSSOM, not a style attribute: the page's CSP allows no inline styles
    fill.style.width = `${((item.value / max) * 100).toFixed(1)}%`;
    return h("li", {},
      h("span", { class: "bar-label" }, item.label),
      h("span", { class: "bar-track" }, fill),
      h("span", { class: "bar-value" }, format(item.value),
        item.note ? h("small", { class: "muted" }, ` ${item.note}`) : null));
  }));
}
