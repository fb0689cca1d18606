// Person: the page a sales person opens. Who they are, how they found us, every visit, lead
// and call on one timeline, their score, the identity merges behind them (with undo), and
// for site admins the privacy actions (export, erase). Data: GET /api/users/{id}/journey.

import { api, url } from "../api.js";
import { h, mount, toast } from "../dom.js";
import * as fmt from "../format.js";
import { facts } from "./generic.js";

export const title = "Person";

function page(...children) {
  return h("section", { class: "page person" }, ...children);
}

/** The best name we have: a trait, a lead's name, an e-mail, a phone, else a short id. */
export function displayName(body, id) {
  const user = body.user || {};
  const attrs = user.attributes || {};
  const ids = user.identifiers || [];
  const lead = (body.leads || []).find((l) => l.name) || {};
  const first = (kind) => (ids.find((i) => i.kind === kind) || {}).value;
  return attrs.name || lead.name || first("email") || first("phone") || `Visitor ${String(id).slice(0, 8)}`;
}

function contactLine(body) {
  const ids = (body.user && body.user.identifiers) || [];
  const lead = (body.leads || []).find((l) => l.company) || {};
  const wanted = ["email", "phone", "external_id"];
  const parts = ids.filter((i) => wanted.includes(i.kind)).map((i) => i.value);
  if (lead.company) parts.push(lead.company);
  return parts;
}

/** Visits, leads and calls in time order. */
function timeline(body) {
  const items = [];
  for (const s of body.sessions || []) items.push({ kind: "visit", at: s.created_at, row: s });
  for (const l of body.leads || []) items.push({ kind: "lead", at: l.submitted_at, row: l });
  for (const c of body.calls || []) items.push({ kind: "call", at: c.created_at, row: c });
  return items.sort((a, b) => fmt.toDate(a.at) - fmt.toDate(b.at));
}

function visitItem(s, events, n, tz) {
  return h("li", { class: `tl-item tl-visit tier-${fmt.tier(s.lead_score).key}` },
    h("div", { class: "tl-head" },
      h("span", { class: "tl-kind" }, `Visit ${n}`),
      h("time", { class: "muted" }, fmt.dateTime(s.created_at, tz)),
      h("span", { class: "score score-sm", title: "Lead score of this visit" }, String(s.lead_score ?? 0))),
    h("p", { class: "wrap" }, `${fmt.source(s)} → ${fmt.path(s.entry_page)}`,
      s.attribution_source ? ` · ${s.attribution_source}` : "",
      ` · ${s.page_views ?? 0} pages · ${fmt.duration(s.total_duration_sec || 0)}`,
      s.device_type ? ` · ${s.device_type}` : ""),
    events.length ? h("details", {},
      h("summary", {}, `${events.length} events`),
      h("ol", { class: "events" }, events.map((e) => h("li", { class: "wrap" },
        h("span", { class: `chip chip-${e.event_category || "x"}` }, e.event_action || "event"), " ",
        e.event_label ? `${e.event_label} · ` : "", fmt.path(e.url))))) : null);
}

function leadItem(l, tz) {
  return h("li", { class: "tl-item tl-lead" },
    h("div", { class: "tl-head" }, h("span", { class: "tl-kind" }, "Form lead"),
      h("time", { class: "muted" }, fmt.dateTime(l.submitted_at, tz)),
      l.status ? h("span", { class: `badge badge-${l.status}` }, l.status) : null),
    h("p", { class: "wrap" }, [l.form_type, l.name, l.email, l.phone].filter(Boolean).join(" · ")),
    l.message ? h("blockquote", { class: "wrap" }, l.message) : null,
    l.gclid || l.attributed_campaign ? h("p", { class: "muted wrap" },
      [l.attributed_campaign && `Campaign ${l.attributed_campaign}`, l.gclid && `gclid ${l.gclid}`].filter(Boolean).join(" · ")) : null);
}

function callItem(c, tz) {
  return h("li", { class: "tl-item tl-call" },
    h("div", { class: "tl-head" }, h("span", { class: "tl-kind" }, "Phone call"),
      h("time", { class: "muted" }, fmt.dateTime(c.created_at, tz)),
      h("span", { class: `badge badge-${c.match_status}` }, c.match_status),
      c.status ? h("span", { class: `badge badge-${c.status}` }, c.status) : null),
    h("p", { class: "wrap" }, [c.caller_number || c.phone_number, c.attribution_source, c.gclid && `gclid ${c.gclid}`].filter(Boolean).join(" · ")));
}

function howFound(body, tz) {
  const path = body.attribution_path || [];
  if (!path.length) return h("p", { class: "empty" }, "No visits recorded.");
  const first = (body.sessions || [])[0] || {};
  return h("div", {},
    h("p", {}, h("strong", {}, fmt.source(first)), ` on ${fmt.dateTime(first.created_at, tz)}`,
      first.gclid ? " (Google Ads click)" : "", first.search_query ? ` searching "${first.search_query}"` : ""),
    h("ol", { class: "path" }, path.map((p) => h("li", {},
      h("span", { class: "chip" }, p.channel || p.referrer_type || "direct"),
      p.converted ? h("span", { class: "badge badge-matched" }, "converted") : null))));
}

async function mergesPanel(ctx, personId) {
  const { site } = ctx;
  let merges = [];
  try {
    merges = (await api("/api/identity/merges", { query: { site_id: site.id, user_id: personId } })).merges || [];
  } catch {
    return null;
  }
  if (!merges.length) return null;
  const canUndo = site.access === "operate" || site.access === "manage";
  return h("section", { class: "panel" }, h("h2", {}, "Identity merges"),
    h("ul", { class: "merges" }, merges.map((m) => h("li", { class: "wrap" },
      `${fmt.dateTime(m.created_at, site.timezone)} · ${m.reason || "merged"}`,
      m.undone_at ? h("span", { class: "muted" }, " · undone") : null,
      canUndo && !m.undone_at ? h("button", {
        type: "button", class: "btn btn-quiet", onclick: async () => {
          await api(`/api/identity/merges/${m.id}/undo`, { method: "POST", query: { site_id: site.id } });
          toast("Merge undone");
          ctx.navigate(`#/person/${personId}?t=${Date.now()}`);
        },
      }, "Undo") : null))));
}

function privacyPanel(ctx, personId) {
  const { site } = ctx;
  if (site.access !== "manage") return null;
  const exportHref = url("/api/privacy/export", { site_id: site.id, kind: "person", value: personId });
  const erase = async () => {
    const typed = window.prompt("Erase this person everywhere? This cannot be undone. Type ERASE to confirm.");
    if (typed !== "ERASE") return;
    const result = await api("/api/privacy/erase", { method: "POST", body: { site_id: site.id, kind: "person", value: personId } });
    const rows = Object.values(result.rows_removed || {}).reduce((a, b) => a + b, 0);
    toast(`Erased ${rows} rows`);
    ctx.navigate("#/live");
  };
  return h("section", { class: "panel" }, h("h2", {}, "Privacy"),
    h("p", { class: "muted" }, "Data-subject requests: every stored fact about this person, or erase them from every table."),
    h("div", { class: "actions" },
      h("a", { class: "btn", href: exportHref, download: "person-export.json" }, "Export data (JSON)"),
      h("button", { type: "button", class: "btn btn-danger", onclick: erase }, "Erase person…")));
}

export async function render(ctx) {
  const { root, site, features, args } = ctx;
  const id = args[0];
  const tz = site.timezone;
  if (!id) {
    mount(root, page(h("h1", {}, "Person"),
      h("p", {}, "Open a person from the live feed, the call monitor or a visit list.")));
    return;
  }
  if (!features.journey) {
    mount(root, page(h("h1", {}, "Person"),
      h("p", { class: "notice" }, "Journeys need the people API (GET /api/users/{id}/journey), which this server does not have yet.")));
    return;
  }
  mount(root, page(h("h1", {}, "Person"), h("p", { class: "muted" }, "Loading…")));
  let body;
  try {
    body = await api(`/api/users/${encodeURIComponent(id)}/journey`, { query: { site_id: site.id } });
  } catch (err) {
    mount(root, page(h("h1", {}, "Person"), h("p", { class: "form-error" }, err.status === 404 ? "No such person on this site." : err.message)));
    return;
  }
  const user = body.user || {};
  const personId = body.canonical_user_id || id;
  const events = body.events || [];
  const bySession = new Map();
  for (const e of events) {
    if (!bySession.has(e.session_id)) bySession.set(e.session_id, []);
    bySession.get(e.session_id).push(e);
  }
  const best = Math.max(0, ...(body.sessions || []).map((s) => Number(s.lead_score) || 0));
  const tier = fmt.tier(best);
  const summary = body.journey_summary || {};
  let visit = 0;
  const items = timeline(body).map((item) => {
    if (item.kind === "visit") return visitItem(item.row, bySession.get(item.row.id) || [], ++visit, tz);
    if (item.kind === "lead") return leadItem(item.row, tz);
    return callItem(item.row, tz);
  });
  const name = displayName(body, personId);
  ctx.setTitle?.(name);
  mount(root, page(
    h("div", { class: "page-head person-head" },
      h("div", {},
        h("h1", {}, name),
        h("p", { class: "wrap" }, contactLine(body).join(" · ") || h("span", { class: "muted" }, "No contact details yet")),
        h("p", { class: "muted" }, `${fmt.place(user)} · first seen ${fmt.dateTime(user.first_seen_at, tz)} · last seen ${fmt.dateTime(user.last_seen_at, tz)}`)),
      h("div", { class: `score-card tier-${tier.key}` },
        h("span", { class: "score" }, String(best)),
        h("span", { class: "tier-label" }, tier.label),
        h("small", { class: "muted" }, [
          fmt.count(summary.total_sessions, "visit"), fmt.count(summary.total_leads, "lead"), fmt.count(summary.total_calls, "call"),
        ].join(" · ")))),
    h("div", { class: "grid-2" },
      h("section", { class: "panel" }, h("h2", {}, "How they found us"), howFound(body, tz)),
      h("section", { class: "panel" }, h("h2", {}, "Value"), facts({
        converted: summary.converted, total_value: summary.total_value, total_ad_spend: summary.total_ad_spend,
        preferred_device: user.preferred_device, preferred_browser: user.preferred_browser,
      }, { tz }))),
    h("section", { class: "panel" }, h("h2", {}, "Timeline"),
      items.length ? h("ol", { class: "timeline" }, items) : h("p", { class: "empty" }, "Nothing yet.")),
    await mergesPanel(ctx, personId),
    privacyPanel(ctx, personId)));
}
