// Person: one canonical user's journey across visits and the attribution path to their
// conversion (people API: GET /api/users/{id}/journey).

import { api } from "../api.js";
import { h, mount, table } from "../dom.js";
import * as fmt from "../format.js";
import { autoTable, facts, rowsOf } from "./generic.js";

export const title = "Person";

export async function render(ctx) {
  const { root, site, features, args } = ctx;
  const id = args[0];
  const tz = site.timezone;
  if (!id) {
    mount(root, h("section", { class: "page" }, h("h1", {}, "Person"),
      h("p", {}, "Open a person from the live feed, the call monitor or a visit list.")));
    return;
  }
  if (!features.journey) {
    mount(root, h("section", { class: "page" }, h("h1", {}, "Person"),
      h("p", { class: "notice" }, "Journeys need the people API (GET /api/users/{id}/journey), which this server does not have yet.")));
    return;
  }
  mount(root, h("section", { class: "page" }, h("h1", {}, "Person"), h("p", { class: "muted" }, "Loading…")));
  let body;
  try {
    body = await api(`/api/users/${encodeURIComponent(id)}/journey`, { query: { site_id: site.id } });
  } catch (err) {
    mount(root, h("section", { class: "page" }, h("h1", {}, "Person"), h("p", { class: "form-error" }, err.status === 404 ? "No such person on this site." : err.message)));
    return;
  }
  const user = body.user || {};
  const sessions = rowsOf(body, "sessions");
  const events = rowsOf(body, "events");
  const path = rowsOf(body, "attribution_path", "path");
  const leads = rowsOf(body, "leads");
  const calls = rowsOf(body, "calls");
  const spend = rowsOf(body, "ad_spend");
  const bySession = new Map();
  for (const e of events) {
    const key = e.session_id;
    if (!bySession.has(key)) bySession.set(key, []);
    bySession.get(key).push(e);
  }
  const name = user.email || user.name || [user.city, user.country_code].filter(Boolean).join(", ") || `Visitor ${String(id).slice(0, 8)}`;

  mount(root, h("section", { class: "page" },
    h("div", { class: "page-head" }, h("h1", {}, name),
      h("p", { class: "muted" }, `First seen ${fmt.dateTime(user.first_seen_at, tz)} · last seen ${fmt.dateTime(user.last_seen_at, tz)}`)),
    h("div", { class: "grid-2" },
      h("section", { class: "panel" }, h("h2", {}, "Summary"), facts(body.journey_summary || {}, { tz })),
      h("section", { class: "panel" }, h("h2", {}, "Profile"), facts(user, { tz, skip: ["id", "site_id", "attributes"] }))),
    h("section", { class: "panel" }, h("h2", {}, "Attribution path"),
      path.length ? autoTable(path, { caption: "Attribution path", tz }) : h("p", { class: "empty" }, "No attribution path.")),
    h("section", { class: "panel" }, h("h2", {}, `Visits (${sessions.length})`),
      h("ol", { class: "timeline" }, sessions.map((s, i) => {
        const own = (bySession.get(s.id) || bySession.get(s.session_id) || []);
        return h("li", { class: `visit tier-${fmt.tier(s.lead_score).key}` },
          h("div", { class: "visit-head" },
            h("strong", {}, `Visit ${i + 1}`),
            h("span", { class: "muted" }, fmt.dateTime(s.created_at || s.session_start, tz)),
            h("span", { class: "score score-sm" }, String(s.lead_score ?? 0)),
            s.converted ? h("span", { class: "badge badge-matched" }, "Converted") : null),
          h("p", {}, `${fmt.source(s)} → ${fmt.path(s.entry_page || s.landing_page)}`,
            s.attribution_source ? ` · ${s.attribution_source}` : ""),
          own.length ? h("ol", { class: "events" }, own.map((e) => h("li", {},
            h("span", { class: `chip chip-${e.event_category || "x"}` }, e.event_action || e.event_type || "event"), " ", fmt.path(e.url || e.page_url)))) : null);
      }))),
    leads.length ? h("section", { class: "panel" }, h("h2", {}, "Leads"), autoTable(leads, { caption: "Leads", tz, skip: ["site_id", "metadata"] })) : null,
    calls.length ? h("section", { class: "panel" }, h("h2", {}, "Calls"), autoTable(calls, { caption: "Calls", tz, skip: ["site_id", "metadata"] })) : null,
    spend.length ? h("section", { class: "panel" }, h("h2", {}, "Ad spend"), table(Object.keys(spend[0]).map((k) => ({ label: k, key: k })), spend)) : null));
}
