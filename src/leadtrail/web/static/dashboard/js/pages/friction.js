// Friction: where visitors get stuck. Friction points (rage and dead clicks, hesitations,
// abandoned forms, errors, quick backs, excessive scrolling), a click map per page (elements
// and a density image per device class), scroll reach and component performance.
// API: /api/behaviour/* (docs/behaviour.md). Days are UTC days.

import { api, url } from "../api.js";
import { field, h, mount, table } from "../dom.js";
import * as fmt from "../format.js";
import { autoTable } from "./generic.js";
import { presetRange } from "./overview.js";

export const title = "Friction";

export async function render(ctx) {
  const { root, site } = ctx;
  let [from, to] = presetRange("30d", "UTC");
  const fromInput = h("input", { type: "date", value: from });
  const toInput = h("input", { type: "date", value: to });
  const threshold = h("input", { type: "number", min: 0, value: 10, style: "width:6em" });
  const pageInput = h("input", { type: "text", value: ctx.query.get("page") || "/", "aria-label": "Page path" });
  const device = h("select", { "aria-label": "Device class" },
    [["", "All devices"], ["desktop", "Desktop"], ["mobile", "Mobile"], ["tablet", "Tablet"]]
      .map(([v, t]) => h("option", { value: v }, t)));
  const points = h("div", {});
  const clicks = h("div", {});
  const scroll = h("div", {});
  const comps = h("div", {});
  const frictionCsv = h("a", { class: "csv", download: true, "aria-label": "Download friction points as CSV" }, "CSV");
  const clicksCsv = h("a", { class: "csv", download: true, "aria-label": "Download click map as CSV" }, "CSV");

  mount(root, h("section", { class: "page" },
    h("div", { class: "page-head" }, h("h1", {}, "Friction"),
      h("div", { class: "toolbar" }, field("From", fromInput), field("To", toInput),
        field("More than", threshold, "events"))),
    h("section", { class: "panel", id: "friction-points" },
      h("div", { class: "panel-head" }, h("h2", {}, "Friction points"), frictionCsv), points),
    h("section", { class: "panel", id: "click-map" },
      h("div", { class: "panel-head" }, h("h2", {}, "Click map"), clicksCsv),
      h("div", { class: "toolbar" }, field("Page", pageInput), field("Device", device)), clicks),
    h("section", { class: "panel" }, h("h2", {}, "Scroll reach"), scroll),
    h("section", { class: "panel" }, h("h2", {}, "Components"), comps)));

  const q = () => ({ site_id: site.id, from, to });
  const fail = (el) => (err) => mount(el, h("p", { class: "form-error" }, err.message));

  async function loadPoints() {
    const query = { ...q(), threshold: threshold.value || 0 };
    frictionCsv.setAttribute("href", url("/api/behaviour/friction", { ...query, format: "csv" }));
    const body = await api("/api/behaviour/friction", { query }).catch(fail(points));
    if (!body) return;
    mount(points, table([
      { label: "Element", render: (r) => h("code", {}, r.element_path || "(page)") },
      { label: "Type", render: (r) => r.event_type.replace(/_/g, " ") },
      { label: "Events", num: true, render: (r) => fmt.num(r.event_count) },
      { label: "Sessions", num: true, render: (r) => fmt.num(r.affected_sessions) },
      { label: "Seconds into visit", num: true, render: (r) => fmt.dec(r.avg_time_to_event) },
      { label: "Pages", render: (r) => r.pages_affected.join(", ") },
      { label: "Last seen", render: (r) => fmt.dateTime(r.last_seen, site.timezone) },
    ], body.rows, { caption: "Friction points", empty: "No friction above the threshold in this range." }));
  }

  async function loadClicks() {
    const query = { ...q(), page: pageInput.value || "/", device: device.value };
    clicksCsv.setAttribute("href", url("/api/behaviour/clickmap", { ...query, format: "csv" }));
    const body = await api("/api/behaviour/clickmap", { query }).catch(fail(clicks));
    if (!body) return;
    mount(clicks,
      h("img", { class: "click-map", alt: `Click density on ${body.page}`, src: url("/api/behaviour/clickmap", { ...query, image: "true" }) }),
      table([
        { label: "Element", render: (r) => h("code", {}, r.element_path || "(page)") },
        { label: "Clicks", num: true, render: (r) => fmt.num(r.clicks) },
        { label: "Rage clicks", num: true, render: (r) => fmt.num(r.rage_clicks) },
        { label: "Dead clicks", num: true, render: (r) => fmt.num(r.dead_clicks) },
      ], body.elements, { caption: "Clicks by element", empty: "No clicks recorded on this page." }));
    const reach = await api("/api/behaviour/scroll", { query }).catch(fail(scroll));
    if (!reach) return;
    mount(scroll, reach.views ? table([
      { label: "Depth", render: (r) => `${r.depth}%` },
      { label: "Views reaching it", num: true, render: (r) => fmt.num(r.views) },
      { label: "Share", num: true, render: (r) => h("span", {}, h("meter", { min: 0, max: 1, value: r.share }), " ", fmt.pct(r.share * 100)) },
    ], reach.curve, { caption: "Scroll reach" }) : h("p", { class: "empty" }, "No scroll data for this page."));
  }

  async function loadComponents() {
    const body = await api("/api/behaviour/components", { query: q() }).catch(fail(comps));
    if (body) mount(comps, body.rows.length ? autoTable(body.rows, { caption: "Component performance", tz: site.timezone })
      : h("p", { class: "empty" }, "Mark components with data-lt-component to see them here."));
  }

  const load = () => Promise.all([loadPoints(), loadClicks(), loadComponents()]);
  fromInput.addEventListener("change", () => { from = fromInput.value; load(); });
  toInput.addEventListener("change", () => { to = toInput.value; load(); });
  threshold.addEventListener("change", loadPoints);
  pageInput.addEventListener("change", loadClicks);
  device.addEventListener("change", loadClicks);
  await load();
}
