// Settings › System: every component's last heartbeat and whether it is dead, the leader of
// each lease (holder, fencing token, expiry), and the site's webhooks: endpoints, recent
// deliveries with their attempts, dead letters with a Replay button. Reads the existing APIs
// (/api/system/health, /api/system/scheduler, /api/webhooks…); the scheduler part is shown
// to superusers only (the API refuses others), Replay to site admins only.

import { api } from "../api.js";
import { h, mount, table, toast } from "../dom.js";
import * as fmt from "../format.js";

export const title = "System";
const REFRESH_MS = 5000;

function badge(status) {
  return h("span", { class: `badge badge-${status}`, "data-status": status }, status);
}

function when(iso, tz) {
  return iso ? h("time", { datetime: iso, title: fmt.dateTime(iso, tz) }, fmt.timeAgo(iso)) : "—";
}

export async function render(ctx) {
  const { root, site, session } = ctx;
  const detail = await api(`/api/sites/${site.id}`);
  const manage = detail.access === "manage";
  const superuser = Boolean(session.user && session.user.is_superuser);
  const healthBox = h("section", { class: "panel", id: "system-components", "aria-label": "Components" });
  const leaseBox = superuser ? h("section", { class: "panel", id: "system-leaders", "aria-label": "Leaders" }) : null;
  const hooksBox = h("section", { class: "panel", id: "system-webhooks", "aria-label": "Webhooks" });
  mount(root, h("section", { class: "page" },
    h("div", { class: "page-head" },
      h("h1", {}, `System · ${site.name}`),
      h("p", { class: "muted" }, h("a", { href: "#/settings" }, "Settings"), " › System. Refreshes every 5 s.")),
    healthBox, leaseBox, hooksBox));

  async function drawHealth() {
    const health = await api("/api/system/health");
    mount(healthBox,
      h("h2", {}, "Components ", badge(health.status)),
      h("p", { class: "muted" },
        `A component with no heartbeat for ${fmt.duration(health.dead_after_seconds)} is dead. `,
        Object.entries(health.counts).map(([k, n]) => `${n} ${k}`).join(" · ")),
      table([
        { label: "Component", render: (c) => h("span", {}, h("strong", {}, c.component_type), " ", h("code", {}, c.component_id)) },
        { label: "Name", render: (c) => c.component_name || "—" },
        { label: "Status", render: (c) => badge(c.status) },
        { label: "Last beat", render: (c) => when(c.last_heartbeat, site.timezone) },
        { label: "Dead", render: (c) => (c.is_dead ? "yes" : "no") },
        { label: "Leader", render: (c) => (c.is_leader ? "yes" : "") },
        { label: "Scope", render: (c) => (c.site_id ? "site" : "leadtrail") },
      ], health.components, {
        caption: "Components",
        empty: "No heartbeats yet.",
        rowAttrs: (c) => ({ dataset: { component: `${c.component_type}/${c.component_id}`, dead: String(c.is_dead) } }),
      }));
  }

  async function drawLeases() {
    if (!leaseBox) return;
    const sched = await api("/api/system/scheduler");
    mount(leaseBox,
      h("h2", {}, "Leaders"),
      h("p", { class: "muted" }, `This server is `, h("code", {}, sched.node_id),
        sched.this_node_leads ? " and holds the scheduler lease." : ", a follower."),
      table([
        { label: "Lease", render: (l) => h("strong", {}, l.name) },
        { label: "Leader", render: (l) => h("code", {}, l.holder) },
        { label: "Fencing token", num: true, render: (l) => String(l.token) },
        { label: "Expires", render: (l) => fmt.dateTime(l.expires_at, site.timezone) },
        { label: "Live", render: (l) => (l.live ? "yes" : "expired") },
      ], sched.leases, { caption: "Leases", empty: "No lease taken yet.", rowAttrs: (l) => ({ dataset: { lease: l.name } }) }),
      h("h3", {}, "Jobs"),
      table([
        { label: "Job", key: "job" },
        { label: "Every", render: (j) => fmt.duration(j.interval_seconds) },
        { label: "Last run", render: (j) => when(j.last_finished_at, site.timezone) },
        { label: "On", render: (j) => j.last_node || "—" },
        { label: "Runs", num: true, render: (j) => String(j.runs) },
        { label: "Failures", num: true, render: (j) => String(j.failures) },
        { label: "Last error", render: (j) => j.last_error || "—" },
      ], sched.jobs, { caption: "Scheduled jobs", empty: "No job has run yet." }));
  }

  async function replay(endpoint, delivery) {
    try {
      await api(`/api/webhooks/${endpoint.id}/deliveries/${delivery.id}/replay`, {
        method: "POST", query: { site_id: site.id },
      });
      toast(`Replaying ${delivery.webhook_id}`);
      await drawHooks();
    } catch (err) {
      toast(err.message, "error");
    }
  }

  function deliveriesTable(endpoint, rows, caption) {
    return table([
      { label: "Event", render: (d) => h("span", {}, d.event_type, " ", h("code", {}, d.webhook_id)) },
      { label: "Status", render: (d) => badge(d.status) },
      { label: "Attempts", num: true, render: (d) => String(d.attempts) },
      { label: "Last answer", render: (d) => d.last_error || (d.last_status ? `HTTP ${d.last_status}` : "—") },
      { label: "Last attempt", render: (d) => when(d.last_attempt_at, site.timezone) },
      { label: "", render: (d) => (manage && d.status === "dead" ? h("button", {
        type: "button", class: "btn", "aria-label": `Replay ${d.webhook_id}`,
        onclick: () => replay(endpoint, d),
      }, "Replay") : "") },
    ], rows, { caption, empty: "None.", rowAttrs: (d) => ({ dataset: { delivery: d.webhook_id, status: d.status } }) });
  }

  async function drawHooks() {
    const endpoints = await api("/api/webhooks", { query: { site_id: site.id } });
    const parts = await Promise.all(endpoints.map(async (e) => {
      const [recent, dead] = await Promise.all([
        api(`/api/webhooks/${e.id}/deliveries`, { query: { site_id: site.id, limit: 20 } }),
        api(`/api/webhooks/${e.id}/deliveries`, { query: { site_id: site.id, status: "dead", limit: 50 } }),
      ]);
      return h("article", { class: "endpoint", dataset: { endpoint: e.id } },
        h("h3", {}, h("code", {}, e.url), " ", badge(e.enabled ? "enabled" : "disabled")),
        h("p", { class: "muted" }, `${e.events.join(", ")} · ${e.format} · ${e.pending} pending · ${e.dead} dead · last delivered `,
          when(e.last_delivered_at, site.timezone)),
        h("h4", {}, "Recent deliveries"),
        deliveriesTable(e, recent, `Recent deliveries to ${e.url}`),
        h("h4", {}, "Dead letters"),
        deliveriesTable(e, dead, `Dead letters of ${e.url}`));
    }));
    mount(hooksBox, h("h2", {}, "Webhooks"),
      endpoints.length ? parts : h("p", { class: "empty" }, "No webhook endpoints. Add one with POST /api/webhooks (docs/operations.md)."));
  }

  async function drawAll() {
    try {
      await Promise.all([drawHealth(), drawLeases(), drawHooks()]);
    } catch (err) {
      toast(err.message, "error");
    }
  }
  await drawAll();
  const timer = window.setInterval(drawAll, REFRESH_MS);
  ctx.onCleanup(() => window.clearInterval(timer));
}
