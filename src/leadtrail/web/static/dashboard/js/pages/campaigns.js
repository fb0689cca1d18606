// Campaigns: spend, conversions and ROI per campaign (people API), beside the traffic
// figures leadtrail's own reports have for every UTM campaign.

import { api, url } from "../api.js";
import { field, h, mount, table } from "../dom.js";
import * as fmt from "../format.js";
import { autoTable, rowsOf } from "./generic.js";
import { PRESETS, presetRange } from "./overview.js";

const NO_CAMPAIGN = "(no campaign)";
const CAMPAIGN_KEYS = ["campaign", "campaign_name", "utm_campaign", "attributed_campaign", "value", "group"];

/** One label for "no campaign", whatever the report calls it (null, "", "(none)", "none"). */
export function campaignLabel(value) {
  const text = value === null || value === undefined ? "" : String(value).trim();
  return !text || /^\(?(none|not set|direct)\)?$/i.test(text) ? NO_CAMPAIGN : text;
}

function labelled(rows) {
  return rows.map((r) => {
    const copy = { ...r };
    for (const key of CAMPAIGN_KEYS) if (key in copy) copy[key] = campaignLabel(copy[key]);
    return copy;
  });
}

export const title = "Campaigns";

export async function render(ctx) {
  const { root, site, features } = ctx;
  const tz = site.timezone;
  // the same default range and presets as the Overview
  let preset = "7d";
  let [from, to] = presetRange(preset, tz);
  const presetSelect = h("select", { name: "preset" }, PRESETS.map(([v, t]) => h("option", { value: v, selected: v === preset }, t)));
  const fromInput = h("input", { type: "date", value: from });
  const toInput = h("input", { type: "date", value: to });
  const roi = h("div", {});
  const traffic = h("div", {});
  const attribution = h("div", {});
  // "" = the site's own model (Settings); every report on the page uses the one chosen here
  const model = h("select", { "aria-label": "Attribution model" },
    h("option", { value: "" }, "site's model"),
    ["last_non_direct", "last_touch", "first_touch", "linear", "time_decay", "position_based"]
      .map((m) => h("option", { value: m }, m.replace(/_/g, " "))));
  const modelNote = h("p", { class: "muted", "data-model": "" });
  const showModel = (name) => {
    modelNote.dataset.model = name || "";
    modelNote.textContent = name ? `Conversions credited by the ${name.replace(/_/g, " ")} model${model.value ? "" : " (this site's model, set in Settings)"}.` : "";
  };
  // CSV downloads of the two reports, kept in step with the range and model shown
  const roiCsv = h("a", { class: "csv", download: true, hidden: !features.campaigns, "aria-label": "Download campaign performance as CSV" }, "CSV");
  const attributionCsv = h("a", { class: "csv", download: true, "aria-label": "Download attribution by campaign as CSV" }, "CSV");

  mount(root, h("section", { class: "page" },
    h("div", { class: "page-head" }, h("h1", {}, "Campaigns"),
      h("div", { class: "toolbar" }, field("Range", presetSelect), field("From", fromInput), field("To", toInput), field("Model", model))),
    modelNote,
    h("section", { class: "panel" },
      h("div", { class: "panel-head" }, h("h2", {}, "Spend, conversions and ROI"), roiCsv),
      h("p", { class: "muted" }, "Conversions here are form leads and calls, credited to the campaign of the visit before them; spend comes from imported ad-spend data."),
      roi),
    h("section", { class: "panel" }, h("div", { class: "panel-head" }, h("h2", {}, "Attribution"),
      features.attribution ? h("span", {}, attributionCsv) : null), attribution),
    h("section", { class: "panel" }, traffic)));

  async function loadRoi() {
    if (!features.campaigns) {
      mount(roi, h("p", { class: "notice" }, "Spend and ROI need the campaigns API (GET /api/campaigns/performance), which this server does not have yet. Traffic per campaign is below."));
      return;
    }
    const q = { site_id: site.id, from, to, model: model.value || undefined };
    roiCsv.setAttribute("href", url("/api/campaigns/performance", { ...q, format: "csv" }));
    try {
      const body = await api("/api/campaigns/performance", { query: q });
      showModel(body.model);
      const rows = rowsOf(body, "campaigns", "rows", "items", "data");
      mount(roi, rows.length ? autoTable(labelled(rows), { caption: "Campaign performance", tz }) : h("p", { class: "empty" }, "No campaign data in this range. Import ad spend to see ROI."));
    } catch (err) {
      mount(roi, h("p", { class: "form-error" }, err.message));
    }
  }

  async function loadAttribution() {
    if (!features.attribution) {
      mount(attribution, h("p", { class: "muted" }, "Multi-touch attribution appears here when the attribution API is available."));
      return;
    }
    const q = { site_id: site.id, from, to, model: model.value || undefined, group_by: "campaign" };
    attributionCsv.setAttribute("href", url("/api/attribution", { ...q, format: "csv" }));
    try {
      const body = await api("/api/attribution", { query: q });
      showModel(body.model);
      const rows = rowsOf(body, "results", "rows", "groups", "items", "data");
      mount(attribution, rows.length ? autoTable(labelled(rows), { caption: "Attribution by campaign", tz }) : h("p", { class: "empty" }, "No conversions in this range."));
    } catch (err) {
      mount(attribution, h("p", { class: "form-error" }, err.message));
    }
  }

  async function loadTraffic() {
    const q = { site_id: site.id, from, to, tz, limit: 50 };
    const body = await api("/api/analytics/breakdown/utm_campaign", { query: q });
    mount(traffic,
      h("div", { class: "panel-head" }, h("h2", {}, "Traffic by UTM campaign"),
        h("a", { class: "csv", href: url("/api/analytics/breakdown/utm_campaign", { ...q, limit: undefined, format: "csv" }), download: true }, "CSV")),
      h("p", { class: "muted" }, "Visits by landing campaign; a conversion here is a visit with a conversion event (call click, form, WhatsApp)."),
      table([
        { label: "Campaign", render: (r) => campaignLabel(r.value) },
        { label: "Sessions", num: true, render: (r) => fmt.num(r.sessions) },
        { label: "Conversions", num: true, render: (r) => fmt.num(r.conversions) },
        { label: "Conv. rate", num: true, render: (r) => fmt.pct(r.conversion_rate) },
        { label: "Avg. score", num: true, render: (r) => fmt.dec(r.avg_lead_score) },
        { label: "Bounce", num: true, render: (r) => fmt.pct(r.bounce_rate) },
      ], body.rows, { caption: "Traffic by UTM campaign", empty: "No sessions in this range." }));
  }

  const load = () => Promise.all([loadRoi(), loadAttribution(), loadTraffic()]);
  presetSelect.addEventListener("change", () => {
    preset = presetSelect.value;
    if (preset === "custom") return;
    [from, to] = presetRange(preset, tz);
    fromInput.value = from;
    toInput.value = to;
    load();
  });
  for (const input of [fromInput, toInput]) {
    input.addEventListener("change", () => {
      if (!fromInput.value || !toInput.value) return;
      preset = "custom";
      presetSelect.value = "custom";
      [from, to] = fromInput.value <= toInput.value ? [fromInput.value, toInput.value] : [toInput.value, fromInput.value];
      load();
    });
  }
  model.addEventListener("change", () => Promise.all([loadRoi(), loadAttribution()]));
  await load();
}
