// Live feed (seed 003 §6.2): the last 100 events grouped by session, newest activity
// first, each session card coloured by its lead score; hover or focus shows the journey.

import { api } from "../api.js";
import { h, mount } from "../dom.js";
import { path, place, source, tier, timeAgo, toDate } from "../format.js";
import { allLive, watchTable } from "../phoenix.js";

export const title = "Live";
const MAX_EVENTS = 100;
const POLL_MS = 1000;
const SESSION_FIELDS = [
  "canonical_user_id", "lead_score", "attribution_source", "device_type", "browser", "os", "city",
  "region", "country_code", "referrer_domain", "referrer_type", "utm_source", "utm_campaign",
  "entry_page", "page_views", "converted", "created_at",
];

function eventOf(row) {
  return {
    id: row.id,
    session_id: row.session_id,
    created_at: row.created_at,
    url: row.url,
    category: row.event_category,
    action: row.event_action,
    label: row.event_label,
    score: Number(row.lead_score) || 0,
  };
}

function sessionOf(row, prefix = "") {
  const out = {};
  for (const key of SESSION_FIELDS) {
    const value = row[prefix + key] !== undefined ? row[prefix + key] : row[key];
    if (value !== undefined) out[key] = value;
  }
  if (row.session_score !== undefined) out.lead_score = row.session_score;
  if (row.session_started_at !== undefined) out.created_at = row.session_started_at;
  return out;
}

export async function render(ctx) {
  const { root, site, socket, onCleanup } = ctx;
  let events = [];
  const sessions = new Map();
  const calledSessions = new Set();
  const journeys = new Map();
  let scheduled = false;
  let fresh = 0;

  const status = h("p", { class: "muted live-status", role: "status", "aria-live": "polite" });
  const feed = h("ol", { class: "feed", "aria-label": "Sessions, most recent activity first" });
  mount(root, h("section", { class: "page" },
    h("div", { class: "page-head" },
      h("h1", {}, "Live feed"),
      h("p", { class: "muted" }, "Last 100 events, grouped by visit. Hover or focus a visit for its journey.")),
    status, feed));

  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => {
      scheduled = false;
      draw();
    });
  };

  function addEvents(rows, { atFront }) {
    const known = new Set(events.map((e) => e.id));
    const added = rows.filter((r) => !known.has(r.id)).map(eventOf);
    events = atFront ? [...added, ...events] : [...events, ...added];
    events = events.slice(0, MAX_EVENTS);
    return added.length;
  }

  function journeyFor(sessionId, own) {
    const full = journeys.get(sessionId);
    const list = (full || own).slice().sort((a, b) => toDate(a.created_at) - toDate(b.created_at));
    return h("div", { class: "journey", role: "tooltip", id: `journey-${sessionId}` },
      h("strong", {}, `Journey · ${list.length} event${list.length === 1 ? "" : "s"}`),
      h("ol", {}, list.slice(-12).map((e) => h("li", {},
        h("span", { class: `chip chip-${e.category || "x"}` }, e.action),
        " ", path(e.url)))),
      full ? null : h("small", { class: "muted" }, "Loading the whole journey…"));
  }

  async function loadJourney(sessionId) {
    if (journeys.has(sessionId)) return;
    journeys.set(sessionId, null);
    try {
      const body = await api(`/api/live/sessions/${sessionId}/events`, { query: { site_id: site.id } });
      journeys.set(sessionId, body.events.map(eventOf));
    } catch {
      journeys.delete(sessionId);
      return;
    }
    schedule();
  }

  function card(sessionId, own) {
    const info = sessions.get(sessionId) || {};
    const score = Math.max(Number(info.lead_score) || 0, ...own.map((e) => e.score));
    const t = tier(score);
    const latest = own[0];
    const focused = document.activeElement && document.activeElement.dataset
      && document.activeElement.dataset.session === sessionId;
    const el = h("li", {
      class: `card tier-${t.key}`,
      tabindex: 0,
      dataset: { session: sessionId },
      "aria-describedby": `journey-${sessionId}`,
    },
    h("div", { class: "card-top" },
      h("span", { class: "score", title: "Lead score" }, String(score)),
      h("span", { class: "tier-label" }, t.label),
      calledSessions.has(sessionId) ? h("span", { class: "badge badge-call", title: "A phone call was matched to this visit" }, "📞 Call matched") : null,
      h("time", { datetime: latest.created_at, class: "muted" }, timeAgo(latest.created_at))),
    h("p", { class: "card-page" }, h("span", { class: `chip chip-${latest.category || "x"}` }, latest.action), " ", path(latest.url)),
    h("dl", { class: "card-meta" },
      h("div", {}, h("dt", {}, "Source"), h("dd", {}, source(info))),
      h("div", {}, h("dt", {}, "Attribution"), h("dd", {}, info.attribution_source || "—")),
      h("div", {}, h("dt", {}, "Device"), h("dd", {}, [info.device_type, info.browser].filter(Boolean).join(" · ") || "—")),
      h("div", {}, h("dt", {}, "Location"), h("dd", {}, place(info)))),
    info.canonical_user_id ? h("a", { class: "card-link", href: `#/person/${info.canonical_user_id}` }, "Open person →") : null,
    journeyFor(sessionId, own));
    const open = () => loadJourney(sessionId);
    el.addEventListener("mouseenter", open);
    el.addEventListener("focus", open);
    if (focused) queueMicrotask(() => el.focus());
    return el;
  }

  function draw() {
    const groups = new Map();
    for (const e of events) {
      if (!groups.has(e.session_id)) groups.set(e.session_id, []);
      groups.get(e.session_id).push(e);
    }
    mount(feed, [...groups.entries()].map(([id, own]) => card(id, own)));
    if (!events.length) mount(feed, h("li", { class: "empty" }, "Waiting for visitors… events appear here as they happen."));
    status.textContent = `${groups.size} visit${groups.size === 1 ? "" : "s"}, ${events.length} events`
      + (fresh ? ` · ${fresh} new` : "") + (socket ? " · live" : " · refreshing every second");
  }

  async function load() {
    const body = await api("/api/live/events", { query: { site_id: site.id, limit: MAX_EVENTS } });
    for (const row of body.events) {
      if (!sessions.has(row.session_id)) sessions.set(row.session_id, sessionOf(row));
    }
    return body.events;
  }

  const first = await load();
  addEvents(first, { atFront: false });
  try {
    const recent = await api("/api/live/calls", { query: { site_id: site.id, limit: 100 } });
    recent.calls.forEach((c) => c.matched_session_id && calledSessions.add(c.matched_session_id));
  } catch {
    // the call list is a nicety here
  }
  draw();

  const tick = setInterval(() => {
    document.querySelectorAll(".feed time").forEach((t) => { t.textContent = timeAgo(t.getAttribute("datetime")); });
  }, 15000);
  onCleanup(() => clearInterval(tick));

  if (socket) {
    feed.dataset.live = "connecting";
    // events committed between the first read and the subscriptions: read them once more
    const onLive = allLive(3, async () => {
      try {
        fresh += addEvents(await load(), { atFront: true });
        events.sort((a, b) => toDate(b.created_at) - toDate(a.created_at));
        schedule();
      } finally {
        feed.dataset.live = "live";
      }
    });
    const channels = [
      watchTable(socket, {
        name: `lt-live-events-${site.id}`, table: "events", event: "INSERT", siteId: site.id, onLive,
        onChange: (type, record) => {
          if (record.event_category === "system") return;
          fresh += addEvents([record], { atFront: true });
          schedule();
        },
      }),
      watchTable(socket, {
        name: `lt-live-sessions-${site.id}`, table: "sessions", siteId: site.id, onLive,
        onChange: (type, record) => {
          if (!record.id) return;
          sessions.set(record.id, { ...(sessions.get(record.id) || {}), ...sessionOf(record) });
          schedule();
        },
      }),
      watchTable(socket, {
        name: `lt-live-calls-${site.id}`, table: "calls", event: "INSERT", siteId: site.id, onLive,
        onChange: (type, record) => {
          if (record.matched_session_id) calledSessions.add(record.matched_session_id);
          schedule();
        },
      }),
    ];
    onCleanup(() => channels.forEach((ch) => ch.leave()));
  } else {
    // No realtime socket on this server: poll the same endpoint instead.
    feed.dataset.live = "polling";
    const poll = setInterval(async () => {
      try {
        const rows = await load();
        fresh += addEvents(rows, { atFront: true });
        events.sort((a, b) => toDate(b.created_at) - toDate(a.created_at));
        schedule();
      } catch {
        // keep polling; a transient error shows no stale data
      }
    }, POLL_MS);
    onCleanup(() => clearInterval(poll));
  }
}
