// Overview: date range, KPIs with the change against the comparison period, a time
// series, the funnel, breakdown tables (with a country → city drill-down) and the
// sessions behind any row. Every table has its CSV.

import { api, url } from "../api.js";
import { bars, lineChart } from "../chart.js";
import { field, h, mount, table } from "../dom.js";
import * as fmt from "../format.js";

export const title = "Overview";

export const PRESETS = [
  ["today", "Today"], ["yesterday", "Yesterday"], ["7d", "Last 7 days"], ["30d", "Last 30 days"],
  ["90d", "Last 90 days"], ["month", "This month"], ["last_month", "Last month"], ["custom", "Custom"],
];

const KPIS = [
  ["visitors", "Visitors", fmt.num],
  ["sessions", "Sessions", fmt.num],
  ["page_views", "Page views", fmt.num],
  ["bounce_rate", "Bounce rate", fmt.pct, true],
  ["avg_duration_sec", "Avg. duration", fmt.duration],
  ["avg_actions", "Actions / visit", fmt.dec],
  ["conversions", "Conversions", fmt.num],
  ["conversion_rate", "Conversion rate", fmt.pct],
  ["hot_leads", "Hot leads (61+)", fmt.num],
  ["calls", "Calls", fmt.num],
  ["leads", "Form leads", fmt.num],
];

const SERIES = [
  ["visitors", "Visitors"], ["sessions", "Sessions"], ["page_views", "Page views"],
  ["conversions", "Conversions"], ["hot_leads", "Hot leads"], ["calls", "Calls"], ["leads", "Leads"],
];

const GROUPS = [
  ["Pages", [["entry_page", "Entry pages"], ["exit_page", "Exit pages"]]],
  ["Sources", [["referrer", "Referrers"], ["referrer_type", "Channels"], ["search_query", "Search terms"]]],
  ["Campaigns", [["utm_campaign", "Campaign"], ["utm_source", "Source"], ["utm_medium", "Medium"], ["click_id", "Click ids"], ["attribution", "Attribution"]]],
  ["Technology", [["device", "Devices"], ["browser", "Browsers"], ["os", "Systems"], ["visitor_type", "New / returning"]]],
];

export function presetRange(preset, tz) {
  const today = fmt.today(tz);
  switch (preset) {
    case "today": return [today, today];
    case "yesterday": return [fmt.addDays(today, -1), fmt.addDays(today, -1)];
    case "30d": return [fmt.addDays(today, -29), today];
    case "90d": return [fmt.addDays(today, -89), today];
    case "month": return [fmt.monthStart(today), today];
    case "last_month": return [fmt.monthStart(today, -1), fmt.addDays(fmt.monthStart(today), -1)];
    default: return [fmt.addDays(today, -6), today];
  }
}

function label(row, dim) {
  if (dim === "country") return row.country || "Unknown";
  if (dim === "city") return row.city || "Unknown city";
  const v = row.value;
  if (v === null || v === undefined) {
    return { referrer: "Direct / none", search_query: "(not provided)", utm_campaign: "(no campaign)",
      utm_source: "(none)", utm_medium: "(none)", attribution: "(unknown)" }[dim] || "Unknown";
  }
  return v;
}

export async function render(ctx) {
  const { root, site, query, onCleanup } = ctx;
  const tz = site.timezone;
  const state = {
    preset: query.get("preset") || (query.get("from") ? "custom" : "7d"),
    from: query.get("from"),
    to: query.get("to"),
    interval: query.get("interval") || "",
    compare: query.get("compare") || "previous",
    metric: "visitors",
    tabs: Object.fromEntries(GROUPS.map(([g, dims]) => [g, dims[0][0]])),
    country: null,
  };
  if (!state.from || !state.to || state.preset !== "custom") [state.from, state.to] = presetRange(state.preset, tz);
  let report = null;
  let previousSeries = null;
  let loadToken = 0;
  const controller = new AbortController();
  onCleanup(() => controller.abort());

  const presetSelect = h("select", { name: "preset" }, PRESETS.map(([v, t]) => h("option", { value: v, selected: v === state.preset }, t)));
  const fromInput = h("input", { type: "date", name: "from", value: state.from, max: fmt.today(tz) });
  const toInput = h("input", { type: "date", name: "to", value: state.to, max: fmt.today(tz) });
  const intervalSelect = h("select", { name: "interval" },
    [["", "Auto"], ["hour", "Hourly"], ["day", "Daily"], ["week", "Weekly"], ["month", "Monthly"]]
      .map(([v, t]) => h("option", { value: v, selected: v === state.interval }, t)));
  const compareSelect = h("select", { name: "compare" },
    [["previous", "Previous period"], ["year", "Same period last year"], ["none", "No comparison"]]
      .map(([v, t]) => h("option", { value: v, selected: v === state.compare }, t)));
  const csvLink = h("a", { class: "btn btn-quiet", download: true }, "Download CSV");
  const rangeNote = h("p", { class: "muted range-note", role: "status", "aria-live": "polite" });

  const kpiGrid = h("div", { class: "kpis", "aria-label": "Key figures" });
  const chartBox = h("div", { class: "chart-slot" });
  const metricSelect = h("select", { "aria-label": "Metric shown in the chart" },
    SERIES.map(([v, t]) => h("option", { value: v }, t)));
  const funnelBox = h("div", {});
  const geoBox = h("div", {});
  const drillBox = h("section", { class: "panel drill", hidden: true, "aria-live": "polite" });
  const groupBoxes = Object.fromEntries(GROUPS.map(([g]) => [g, h("div", {})]));

  mount(root, h("section", { class: "page" },
    h("div", { class: "page-head" }, h("h1", {}, "Overview"), rangeNote),
    h("form", { class: "toolbar", "aria-label": "Date range", onsubmit: (e) => e.preventDefault() },
      field("Range", presetSelect), field("From", fromInput), field("To", toInput),
      field("Interval", intervalSelect), field("Compare with", compareSelect), csvLink),
    kpiGrid,
    h("div", { class: "grid-2" },
      h("section", { class: "panel wide" },
        h("div", { class: "panel-head" }, h("h2", {}, "Over time"), metricSelect), chartBox),
      h("section", { class: "panel" }, h("div", { class: "panel-head" }, h("h2", {}, "Conversion funnel"),
        h("a", { class: "csv", href: "#", "data-csv": "funnel" }, "CSV")), funnelBox)),
    h("div", { class: "grid-2" },
      GROUPS.map(([g]) => h("section", { class: "panel" }, groupBoxes[g])),
      h("section", { class: "panel wide" }, geoBox)),
    drillBox));

  const common = () => ({ site_id: site.id, from: state.from, to: state.to, tz });

  function syncHash() {
    const q = new URLSearchParams({ preset: state.preset, from: state.from, to: state.to, compare: state.compare });
    if (state.interval) q.set("interval", state.interval);
    history.replaceState(null, "", `#/overview?${q}`);
  }

  function drawKpis() {
    const t = report.totals;
    const c = report.change || {};
    mount(kpiGrid, KPIS.map(([key, name, f, lowerIsBetter]) => {
      const ch = fmt.change(c[key]);
      const good = lowerIsBetter ? ch.kind === "down" : ch.kind === "up";
      const bad = lowerIsBetter ? ch.kind === "up" : ch.kind === "down";
      return h("div", { class: "kpi", dataset: { kpi: key } },
        h("span", { class: "kpi-label" }, name),
        h("strong", { class: "kpi-value" }, f(t[key])),
        report.previous ? h("span", {
          class: `kpi-change ${good ? "good" : bad ? "bad" : ""}`,
          title: `Before: ${f(report.previous[key])}`,
        }, ch.text, h("span", { class: "sr-only" }, ` compared with ${f(report.previous[key])}`)) : null,
        key === "calls" ? h("small", { class: "muted" }, `${fmt.num(t.calls_matched)} matched · ${fmt.num(t.calls_qualified)} qualified`) : null);
    }));
  }

  function drawChart() {
    const key = metricSelect.value;
    const name = SERIES.find(([k]) => k === key)[1];
    const points = report.series.map((p) => {
      const d = new Date(p.bucket);
      const hourly = report.range.interval === "hour";
      return {
        value: p[key],
        label: d.toLocaleString(undefined, hourly ? { timeZone: tz, dateStyle: "medium", timeStyle: "short" } : { timeZone: tz, dateStyle: "medium" }),
        short: d.toLocaleString(undefined, hourly ? { timeZone: tz, hour: "2-digit", minute: "2-digit" } : { timeZone: tz, month: "short", day: "numeric" }),
      };
    });
    const previous = previousSeries && previousSeries.slice(0, points.length).map((p) => ({ value: p[key] }));
    while (previous && previous.length < points.length) previous.push({ value: 0 });
    mount(chartBox, lineChart(points, {
      title: `${name} per ${report.range.interval}`, format: fmt.num, width: chartBox.clientWidth, previous,
    }),
    previous ? h("p", { class: "muted legend" }, h("span", { class: "key key-now" }), " this period ",
      h("span", { class: "key key-before" }), ` ${report.previous_range.from} to ${report.previous_range.to}`) : null);
  }

  async function drawPrevious(token) {
    previousSeries = null;
    if (!report.previous_range) return;
    const before = await api("/api/analytics/overview", {
      query: { site_id: site.id, tz, from: report.previous_range.from, to: report.previous_range.to, compare: "none", interval: report.range.interval },
      signal: controller.signal,
    });
    if (token !== loadToken) return;
    previousSeries = before.series;
    drawChart();
  }

  async function drawFunnel(token) {
    const body = await api("/api/analytics/funnel", { query: common(), signal: controller.signal });
    if (token !== loadToken) return;
    mount(funnelBox, bars(body.stages.map((s) => ({ label: s.stage, value: s.count, note: s.stage === "Visitors" ? "" : fmt.pct(s.conversion_rate) })), { format: fmt.num }));
  }

  function breakdownTable(body, dim, { onRow } = {}) {
    return table([
      { label: body.label, render: (r) => {
        const text = label(r, dim);
        return h("span", { class: "cell-name" },
          onRow ? h("button", { type: "button", class: "link", onclick: () => onRow(r) }, text) : text,
          h("span", { class: "share", "aria-hidden": "true" }, h("span", { class: "share-fill", dataset: { share: r.share } })));
      } },
      { label: "Sessions", num: true, render: (r) => fmt.num(r.sessions) },
      { label: "Share", num: true, render: (r) => fmt.pct(r.share) },
      { label: "Conv.", num: true, render: (r) => fmt.pct(r.conversion_rate) },
      { label: "Bounce", num: true, render: (r) => fmt.pct(r.bounce_rate) },
    ], body.rows, { caption: body.label, empty: "No sessions in this range." });
  }

  function sizeShares(container) {
    container.querySelectorAll(".share-fill").forEach((el) => { el.style.width = `${el.dataset.share}%`; });
  }

  async function drawGroup(group, token) {
    const dims = GROUPS.find(([g]) => g === group)[1];
    const dim = state.tabs[group];
    const body = await api(`/api/analytics/breakdown/${dim}`, { query: { ...common(), limit: 10 }, signal: controller.signal });
    if (token !== loadToken) return;
    const tabs = h("div", { class: "tabs", role: "group", "aria-label": `${group} breakdown` }, dims.map(([d, t]) => h("button", {
      type: "button", class: "tab", "aria-pressed": d === dim ? "true" : "false",
      onclick: () => { state.tabs[group] = d; drawGroup(group, loadToken); },
    }, t)));
    const box = groupBoxes[group];
    mount(box,
      h("div", { class: "panel-head" }, h("h2", {}, group),
        h("a", { class: "csv", href: url(`/api/analytics/breakdown/${dim}`, { ...common(), format: "csv" }), download: true }, "CSV")),
      tabs,
      breakdownTable(body, dim, { onRow: (r) => drill(dim, r, label(r, dim)) }));
    sizeShares(box);
  }

  async function drawGeo(token) {
    const dim = state.country ? "city" : "country";
    const q = { ...common(), limit: 15, country: state.country || undefined };
    const body = await api(`/api/analytics/breakdown/${dim}`, { query: q, signal: controller.signal });
    if (token !== loadToken) return;
    const crumbs = h("nav", { class: "crumbs", "aria-label": "Location level" },
      state.country
        ? [h("button", { type: "button", class: "link", onclick: () => { state.country = null; drawGeo(loadToken); } }, "All countries"), " › ", h("strong", {}, state.country)]
        : h("strong", {}, "All countries"));
    mount(geoBox,
      h("div", { class: "panel-head" }, h("h2", {}, "Locations"),
        h("a", { class: "csv", href: url(`/api/analytics/breakdown/${dim}`, { ...q, limit: undefined, format: "csv" }), download: true }, "CSV")),
      crumbs,
      breakdownTable({ ...body, label: state.country ? "City" : "Country" }, dim, {
        onRow: (r) => {
          if (!state.country && r.country) {
            state.country = r.country;
            drawGeo(loadToken);
          } else if (state.country) {
            drill("city", r, [r.city, r.region, r.country].filter(Boolean).join(", "));
          }
        },
      }));
    sizeShares(geoBox);
  }

  async function drill(dim, row, name) {
    drillBox.hidden = false;
    const q = { ...common(), dimension: dim, limit: 50 };
    if (["country", "region", "city"].includes(dim)) Object.assign(q, { country: row.country || "", region: row.region || "", city: row.city || "" });
    else q.value = row.value ?? "";
    mount(drillBox, h("h2", {}, `Visits: ${name}`), h("p", { class: "muted" }, "Loading…"));
    drillBox.scrollIntoView({ behavior: "smooth", block: "start" });
    try {
      const body = await api("/api/analytics/sessions", { query: q });
      mount(drillBox,
        h("div", { class: "panel-head" }, h("h2", {}, `Visits: ${name}`),
          h("a", { class: "csv", href: url("/api/analytics/sessions", { ...q, format: "csv", limit: 1000 }), download: true }, "CSV"),
          h("button", { type: "button", class: "btn btn-quiet", onclick: () => { drillBox.hidden = true; } }, "Close")),
        table([
          { label: "Started", render: (r) => fmt.dateTime(r.created_at, tz) },
          { label: "Landing", render: (r) => fmt.path(r.entry_page) },
          { label: "Source", render: (r) => fmt.source(r) },
          { label: "Pages", num: true, render: (r) => fmt.num(r.page_views) },
          { label: "Score", num: true, render: (r) => h("span", { class: `score score-sm tier-${fmt.tier(r.lead_score).key}` }, String(r.lead_score)) },
          { label: "Person", render: (r) => (r.canonical_user_id ? h("a", { href: `#/person/${r.canonical_user_id}` }, "Open") : "—") },
        ], body.rows, { caption: `Visits: ${name}`, empty: "No visits." }));
    } catch (err) {
      mount(drillBox, h("h2", {}, `Visits: ${name}`), h("p", { class: "form-error" }, err.message));
    }
  }

  async function load() {
    loadToken += 1;
    const token = loadToken;
    syncHash();
    const q = { ...common(), compare: state.compare, interval: state.interval || undefined };
    csvLink.setAttribute("href", url("/api/analytics/overview", { ...q, format: "csv" }));
    root.querySelector("[data-csv=funnel]").setAttribute("href", url("/api/analytics/funnel", { ...common(), format: "csv" }));
    rangeNote.textContent = "Loading…";
    try {
      report = await api("/api/analytics/overview", { query: q, signal: controller.signal });
      if (token !== loadToken) return;
      drawKpis();
      drawChart();
      rangeNote.textContent = `${state.from} to ${state.to} (${tz})`
        + (report.previous_range ? ` · compared with ${report.previous_range.from} to ${report.previous_range.to}` : "");
      await Promise.all([drawPrevious(token), drawFunnel(token), drawGeo(token), ...GROUPS.map(([g]) => drawGroup(g, token))]);
    } catch (err) {
      if (err.name === "AbortError") return;
      rangeNote.textContent = `Could not load: ${err.message}`;
    }
  }

  presetSelect.addEventListener("change", () => {
    state.preset = presetSelect.value;
    if (state.preset !== "custom") {
      [state.from, state.to] = presetRange(state.preset, tz);
      fromInput.value = state.from;
      toInput.value = state.to;
      load();
    } else fromInput.focus();
  });
  for (const input of [fromInput, toInput]) {
    input.addEventListener("change", () => {
      if (!fromInput.value || !toInput.value) return;
      state.preset = "custom";
      presetSelect.value = "custom";
      state.from = fromInput.value <= toInput.value ? fromInput.value : toInput.value;
      state.to = fromInput.value <= toInput.value ? toInput.value : fromInput.value;
      load();
    });
  }
  intervalSelect.addEventListener("change", () => { state.interval = intervalSelect.value; load(); });
  compareSelect.addEventListener("change", () => { state.compare = compareSelect.value; load(); });
  metricSelect.addEventListener("change", () => report && drawChart());
  let resizeTimer = 0;
  const onResize = () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => report && drawChart(), 150);
  };
  window.addEventListener("resize", onResize);
  onCleanup(() => window.removeEventListener("resize", onResize));
  await load();
}
