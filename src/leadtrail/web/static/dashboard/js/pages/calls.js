// Call monitor (seed 003 §5.2): calls as they arrive, the visit each was matched to, and
// Qualified / Junk quick actions that every viewer sees change.

import { api } from "../api.js";
import { h, mount, toast } from "../dom.js";
import { dateTime, duration, path, place, source, tier } from "../format.js";
import { watchTable } from "../phoenix.js";

export const title = "Calls";
const POLL_MS = 3000;

export async function render(ctx) {
  const { root, site, socket, features, onCleanup } = ctx;
  let calls = [];
  let model = "";
  const canSet = features.call_status && site.access !== "read";
  const list = h("ol", { class: "calls", "aria-label": "Calls, newest first" });
  const status = h("p", { class: "muted", role: "status", "aria-live": "polite" });
  const pool = h("p", { class: "muted", "data-dni": "" });
  const filter = h("select", { "aria-label": "Show calls", onchange: () => load().catch(() => {}) },
    h("option", { value: "" }, "All calls"),
    h("option", { value: "matched" }, "Matched"),
    h("option", { value: "unmatched" }, "Unmatched"));
  const METHODS = { session: "session id", dni: "tracking number (DNI)", fingerprint: "fingerprint", tel_click: "tel: link click", manual: "matched by hand" };
  mount(root, h("section", { class: "page" },
    h("div", { class: "page-head" },
      h("h1", {}, "Call monitor"),
      h("p", { class: "muted" }, "Phone calls matched to the visit that made them. Mark each as qualified or junk."),
      h("div", { class: "toolbar" }, filter)),
    pool,
    features.call_status ? null : h("p", { class: "notice" }, "Marking calls needs the calls API (PATCH /api/calls/{id}), which this server does not have yet."),
    status, list));

  async function setStatus(call, wanted) {
    const next = call.status === wanted ? null : wanted;
    try {
      const updated = await api(`/api/calls/${call.id}`, {
        method: "PATCH", query: { site_id: site.id }, body: { status: next },
      });
      call.status = updated && "status" in updated ? updated.status : next;
      draw();
      toast(next ? `Call marked ${next}` : "Call status cleared");
    } catch (err) {
      toast(`Could not update the call: ${err.message}`, "error");
    }
  }

  async function rematch(call, input) {
    const sid = input.value.trim();
    if (!sid) return;
    try {
      await api(`/api/calls/${call.id}/match`, { method: "POST", query: { site_id: site.id }, body: { session_id: sid } });
      toast("Call matched to the session");
      await load();
    } catch (err) {
      toast(`Could not match the call: ${err.message}`, "error");
    }
  }

  function why(call) {
    const rules = call.score_rules || [];
    if (!rules.length) return null;
    const total = Math.min(100, rules.reduce((n, r) => n + r.points, 0));
    return h("p", { class: "muted score-why", "aria-label": "Why it scored" },
      "Why it scored: ", rules.map((r) => `${r.rule.replace(/_/g, " ")} +${r.points}`).join(" · "), ` = ${total}`);
  }

  function item(call) {
    // the call is a conversion of its session: whichever score is higher is the visitor's
    const score = Math.max(Number(call.session_score) || 0, Number(call.lead_score) || 0);
    const t = tier(score);
    const button = (value, label) => h("button", {
      type: "button",
      class: `btn btn-${value}`,
      "aria-pressed": call.status === value ? "true" : "false",
      disabled: !canSet,
      onclick: () => setStatus(call, value),
    }, label);
    return h("li", { class: `call tier-${t.key}`, dataset: { call: call.id, status: call.status || "none" } },
      h("div", { class: "call-main" },
        h("span", { class: "score", title: "Lead score" }, String(score)),
        h("div", {},
          h("strong", {}, call.caller_number || call.phone_number),
          h("div", { class: "muted" }, dateTime(call.started_at || call.created_at, site.timezone)),
          h("div", { class: "muted tier-label" }, t.label)),
        h("span", { class: `badge badge-${call.match_status}`, dataset: { method: call.match_method || "" } },
          call.match_status === "matched" ? `Matched · ${METHODS[call.match_method] || call.match_method || "—"}` : "No match"),
        h("span", { class: "call-status", "aria-label": "Status" }, call.status ? call.status : "new")),
      h("dl", { class: "card-meta" },
        h("div", {}, h("dt", {}, "Tracking number"), h("dd", {}, call.tracking_number || call.phone_number)),
        h("div", {}, h("dt", {}, "Duration"), h("dd", {}, call.duration_s == null ? "—" : duration(call.duration_s))),
        h("div", {}, h("dt", {}, "Recording"), h("dd", {}, call.recording_url ? h("a", { href: call.recording_url, target: "_blank", rel: "noopener noreferrer" }, "Listen") : "—")),
        h("div", {}, h("dt", {}, "Credited"), h("dd", {}, [call.channel, call.utm_campaign, call.gclid ? "gclid" : null].filter(Boolean).join(" · ") || "—"))),
      why(call),
      call.matched_session_id ? h("dl", { class: "card-meta" },
        h("div", {}, h("dt", {}, "Landing"), h("dd", {}, path(call.entry_page))),
        h("div", {}, h("dt", {}, "Source"), h("dd", {}, source(call))),
        h("div", {}, h("dt", {}, "Attribution"), h("dd", {}, call.attribution_source || call.session_attribution || "—")),
        h("div", {}, h("dt", {}, "Device"), h("dd", {}, [call.device_type, call.browser].filter(Boolean).join(" · ") || "—")),
        h("div", {}, h("dt", {}, "Location"), h("dd", {}, place(call)))) : null,
      h("div", { class: "call-actions" },
        button("qualified", "Qualified"),
        button("junk", "Junk"),
        canSet ? (() => {
          const input = h("input", { type: "text", placeholder: "session id", "aria-label": "Match to session id", size: 20 });
          return h("span", { class: "rematch" }, input,
            h("button", { type: "button", class: "btn", onclick: () => rematch(call, input) }, call.matched_session_id ? "Re-match" : "Match"));
        })() : null,
        call.canonical_user_id ? h("a", { href: `#/person/${call.canonical_user_id}`, class: "card-link" }, "Open person →") : null));
  }

  function draw() {
    if (!calls.length) mount(list, h("li", { class: "empty" }, "No calls yet."));
    else mount(list, calls.map(item));
    const open = calls.filter((c) => !c.status).length;
    status.textContent = `${calls.length} calls · ${open} not yet marked` + (model ? ` · credit by the ${model.replace(/_/g, " ")} model` : "");
  }

  async function load() {
    const body = await api("/api/live/calls", { query: { site_id: site.id, limit: 100, match: filter.value || undefined } });
    calls = body.calls;
    model = body.attribution_model || "";
    draw();
  }

  async function loadPool() {
    try {
      const body = await api(`/api/sites/${site.id}/dni/numbers`);
      if (!body.numbers.length) { pool.textContent = ""; return; }
      const leased = body.numbers.filter((n) => n.leased_to).length;
      pool.dataset.dni = String(body.exhausted);
      pool.textContent = `Tracking numbers: ${body.numbers.length} in the pool, ${leased} leased now · pool exhausted ${body.exhausted} times in the last ${body.exhausted_window_hours} h (those visitors saw the site's own number)`;
    } catch (err) {
      pool.textContent = "";
    }
  }
  loadPool();
  await load();

  if (socket) {
    list.dataset.live = "connecting";
    const channel = watchTable(socket, {
      name: `lt-calls-${site.id}`, table: "calls", siteId: site.id,
      onLive: () => {
        // calls that arrived between the first read and the subscription
        load().then(() => { list.dataset.live = "live"; }).catch(() => {});
      },
      onChange: (type, record) => {
        const known = calls.find((c) => c.id === record.id);
        if (type === "UPDATE" && known) {
          known.status = record.status;
          known.lead_score = record.lead_score;
          draw();
        } else {
          load().catch(() => {});
        }
      },
    });
    onCleanup(() => channel.leave());
  } else {
    list.dataset.live = "polling";
    const poll = setInterval(() => load().catch(() => {}), POLL_MS);
    onCleanup(() => clearInterval(poll));
  }
}
