// Optimisation proposals: the list with the moves each status allows, the rule-based
// generator, and expected vs actual impact (docs/experiments.md).

import { api, url } from "../api.js";
import { h, mount, table, toast } from "../dom.js";
import * as fmt from "../format.js";

export const title = "Proposals";
const p100 = (v) => (v === null || v === undefined ? "—" : fmt.pct(v * 100));

export async function render(ctx) {
  const { root, site } = ctx;
  const canEdit = site.access !== "read";
  const list = h("div", {});
  const impact = h("div", {});
  const generate = h("button", { type: "button", hidden: !canEdit }, "Generate from friction (last 30 days)");
  generate.addEventListener("click", async () => {
    try {
      const out = await api("/api/proposals/generate", { method: "POST", body: { site_id: site.id } });
      toast(`${out.created.length} new proposal(s) from ${out.candidates} finding(s)`);
      await load();
    } catch (err) {
      toast(err.message, "error");
    }
  });
  mount(root, h("section", { class: "page" },
    h("div", { class: "page-head" }, h("h1", {}, "Proposals"), h("div", { class: "toolbar" }, generate)),
    h("section", { class: "panel" }, h("h2", {}, "Proposals"), list),
    h("section", { class: "panel" }, h("div", { class: "panel-head" }, h("h2", {}, "Expected vs actual impact"),
      h("a", { class: "csv", href: url("/api/proposals/impact", { site_id: site.id, format: "csv" }), download: true }, "CSV")), impact)));

  async function move(p, to) {
    const body = { to };
    if (to === "testing") {
      body.test_id = window.prompt("Experiment key that tests this change:", p.test_id || "");
      if (!body.test_id) return;
    }
    if (to === "rolled_back" || to === "rejected") {
      body.reason = window.prompt(`Reason (${to.replace("_", " ")}):`, "") || undefined;
      if (to === "rolled_back" && !body.reason) return;
    }
    try {
      await api(`/api/proposals/${encodeURIComponent(p.proposal_id)}/transition`, { method: "POST", query: { site_id: site.id }, body });
      toast(`${p.proposal_id}: ${to}`);
      await load();
    } catch (err) {
      toast(err.message, "error");
    }
  }

  async function load() {
    const [body, report] = await Promise.all([
      api("/api/proposals", { query: { site_id: site.id } }),
      api("/api/proposals/impact", { query: { site_id: site.id } }),
    ]);
    mount(list, table([
      { label: "Proposal", render: (p) => h("span", { title: p.explanation || "" }, p.proposal_id) },
      { label: "Status", render: (p) => h("span", { class: `status status-${p.status}` }, p.status.replace("_", " ")) },
      { label: "Friction", render: (p) => p.friction_point },
      { label: "Change", render: (p) => p.change_description },
      { label: "Page", render: (p) => (p.page_url ? fmt.path(p.page_url) : "—") },
      { label: "Confidence", num: true, render: (p) => p100(p.ai_confidence) },
      { label: "Expected", num: true, render: (p) => p100(p.expected_impact) },
      { label: "Actual", num: true, render: (p) => p100(p.actual_impact) },
      { label: "Test", render: (p) => (p.test_id ? h("a", { href: `#/experiments/${encodeURIComponent(p.test_id)}` }, p.test_id) : "—") },
      { label: "PR", render: (p) => (p.pr_url ? h("a", { href: p.pr_url, rel: "noopener", target: "_blank" }, `#${p.pr_number || "PR"}`) : "—") },
      { label: "", render: (p) => canEdit ? h("span", { class: "actions" }, (body.transitions[p.status] || []).map((to) =>
        h("button", { type: "button", class: "small", onclick: () => move(p, to) }, to.replace("_", " ")))) : "" },
    ], body.proposals, { caption: "Proposals", empty: "No proposals yet: generate them from friction data, or post them through the API." }));
    mount(impact, table([
      { label: "Proposal", render: (r) => r.proposal_id },
      { label: "Status", render: (r) => r.status },
      { label: "Expected", num: true, render: (r) => p100(r.expected_impact) },
      { label: "Actual (measured lift)", num: true, render: (r) => p100(r.actual_impact) },
      { label: "Test", render: (r) => r.test_id ? `${r.test_id} (${r.test_status}${r.winner_variant ? `, winner ${r.winner_variant}` : ""})` : "—" },
    ], report.proposals, { caption: "Conversion impact", empty: "No proposals yet." }));
  }
  await load();
}
