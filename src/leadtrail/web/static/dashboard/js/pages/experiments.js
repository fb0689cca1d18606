// Experiments: list, create, start/pause/complete, and results with intervals, guardrails
// and the sample-ratio-mismatch warning (docs/experiments.md).

import { api, url } from "../api.js";
import { field, h, mount, table, toast } from "../dom.js";
import * as fmt from "../format.js";

export const title = "Experiments";

const ACTIONS = {
  draft: ["start", "archive"],
  active: ["pause", "complete"],
  paused: ["resume", "complete", "archive"],
  completed: ["archive"],
  archived: [],
};
const GOALS = ["form_lead", "call", "qualified_call", "lead_value", "event"];
const p100 = (v) => (v === null || v === undefined ? "—" : fmt.pct(v * 100));
const interval = (lo, hi, scale = 100) =>
  lo === null || lo === undefined ? "—" : `${fmt.dec(lo * scale)} … ${fmt.dec(hi * scale)}`;

export async function render(ctx) {
  if (ctx.args[0]) return renderResults(ctx, ctx.args[0]);
  const { root, site } = ctx;
  const canEdit = site.access !== "read";
  const list = h("div", {});
  const key = h("input", { name: "test_id", required: true, pattern: "[A-Za-z0-9][A-Za-z0-9_.\\-]{0,63}", placeholder: "hero" });
  const name = h("input", { name: "test_name", required: true, placeholder: "Hero headline" });
  const variants = h("input", { name: "variants", value: "A, B", required: true });
  const goal = h("select", { name: "goal" }, GOALS.map((g) => h("option", { value: g }, g.replace(/_/g, " "))));
  const category = h("input", { name: "category", value: "conversion" });
  const action = h("input", { name: "action", placeholder: "phone_call" });
  const sample = h("input", { name: "sample_size", type: "number", min: 10, value: 1000 });
  const confidence = h("input", { name: "confidence_threshold", type: "number", min: 0.5, max: 0.99, step: 0.01, value: 0.95 });
  const start = h("input", { name: "start", type: "checkbox" });
  const form = h("form", { class: "form-grid", hidden: !canEdit },
    field("Key", key), field("Name", name), field("Variants (first is the control)", variants),
    field("Goal", goal), field("Event category", category, "event goals only"), field("Event action", action),
    field("Sample size per variant", sample), field("Confidence", confidence), field("Start now", start),
    h("button", { type: "submit" }, "Create experiment"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const g = { type: goal.value };
    if (goal.value === "event") Object.assign(g, { category: category.value, action: action.value });
    try {
      await api("/api/experiments", { method: "POST", body: {
        site_id: site.id, test_id: key.value.trim(), test_name: name.value.trim(),
        variants: variants.value.split(",").map((v) => v.trim()).filter(Boolean).map((v) => ({ name: v })),
        goal: g, sample_size: Number(sample.value), confidence_threshold: Number(confidence.value), start: start.checked,
      } });
      toast(`Experiment ${key.value} created`);
      form.reset();
      variants.value = "A, B";
      await load();
    } catch (err) {
      toast(err.message, "error");
    }
  });

  mount(root, h("section", { class: "page" },
    h("div", { class: "page-head" }, h("h1", {}, "Experiments")),
    h("section", { class: "panel" }, h("h2", {}, "Tests"), list),
    h("section", { class: "panel", hidden: !canEdit }, h("h2", {}, "New experiment"),
      h("p", { class: "muted" }, "Put the site script in <head> and call leadtrail.variant('<key>') to render the variant without flicker."), form)));

  async function move(test, verb) {
    try {
      await api(`/api/experiments/${encodeURIComponent(test.test_id)}/${verb}`, { method: "POST", query: { site_id: site.id } });
      toast(`${test.test_id}: ${verb}`);
      await load();
    } catch (err) {
      toast(err.message, "error");
    }
  }

  async function load() {
    const body = await api("/api/experiments", { query: { site_id: site.id } });
    mount(list, table([
      { label: "Key", render: (t) => h("a", { href: `#/experiments/${encodeURIComponent(t.test_id)}` }, t.test_id) },
      { label: "Name", render: (t) => t.test_name },
      { label: "Status", render: (t) => h("span", { class: `status status-${t.status}` }, t.status) },
      { label: "Variants", render: (t) => t.variants.map((v) => v.name).join(", ") },
      { label: "Goal", render: (t) => t.target_conversion.replace(/_/g, " ") },
      { label: "Started", render: (t) => (t.start_date ? fmt.dateTime(t.start_date, site.timezone) : "—") },
      { label: "Winner", render: (t) => t.winner_variant || "—" },
      { label: "", render: (t) => canEdit ? h("span", { class: "actions" }, ACTIONS[t.status].map((verb) =>
        h("button", { type: "button", class: "small", onclick: () => move(t, verb) }, verb))) : "" },
    ], body.experiments, { caption: "Experiments", empty: "No experiments yet." }));
  }
  await load();
}

async function renderResults(ctx, key) {
  const { root, site } = ctx;
  const path = `/api/experiments/${encodeURIComponent(key)}/results`;
  const out = await api(path, { query: { site_id: site.id } });
  const binary = out.goal.binary;
  const scale = binary ? 100 : 1;
  const value = (v) => (binary ? p100(v) : fmt.dec(v));
  const rows = out.primary.variants;
  const srm = out.srm;
  const guardRows = Object.entries(out.guardrails).flatMap(([name, g]) =>
    g.variants.slice(1).map((r) => ({ ...r, metric: g.label, worse: g.worse.includes(r.variant), name })));
  mount(root, h("section", { class: "page" },
    h("div", { class: "page-head" }, h("h1", {}, `Experiment ${key}`),
      h("div", { class: "toolbar" }, h("a", { href: "#/experiments" }, "All experiments"), " ",
        h("a", { class: "csv", href: url(path, { site_id: site.id, format: "csv" }), download: true }, "CSV"))),
    srm.mismatch ? h("p", { class: "notice warning", role: "alert", "data-testid": "srm-warning" },
      `Sample ratio mismatch: the visitors per variant (${srm.observed.join(" / ")}) do not match the configured split (chi-square p = ${srm.p_value.toExponential(2)}). Check the assignment and exposure logging before trusting these results.`) : null,
    h("section", { class: "panel" },
      h("h2", {}, `${out.goal.label} — ${out.status}`),
      h("p", { class: "muted" }, `Winner: ${out.declared_winner || out.winner || "none yet"} · ${fmt.num(out.units)} visitors · `
        + `progress to ${fmt.num(out.sample_size)} per variant: ${fmt.pct(out.progress * 100)} · confidence ${out.confidence_threshold}`
        + (out.primary.corrected ? " · Holm-corrected over the challengers" : "")),
      table([
        { label: "Variant", render: (r) => r.variant + (r.control ? " (control)" : "") },
        { label: "Visitors", num: true, render: (r) => fmt.num(r.n) },
        { label: binary ? "Conversion" : "Mean", num: true, render: (r) => value(r.mean) },
        { label: "Lift", num: true, render: (r) => (r.lift === undefined || r.lift === null ? "—" : fmt.pct(r.lift * 100)) },
        { label: "Lift 95% CI", render: (r) => interval(r.lift_low, r.lift_high) },
        { label: "Difference CI", render: (r) => interval(r.ci_low, r.ci_high, scale) },
        { label: "Always-valid CI", render: (r) => interval(r.sequential_ci_low, r.sequential_ci_high, scale) },
        { label: "Chance to beat", num: true, render: (r) => p100(r.chance_to_beat) },
        { label: "p (sequential)", num: true, render: (r) => (r.sequential_p_value_adjusted ?? r.sequential_p_value ?? null) === null ? "—" : fmt.dec(r.sequential_p_value_adjusted ?? r.sequential_p_value) },
        { label: "CUPED variance cut", num: true, render: (r) => (r.cuped ? p100(r.cuped.variance_reduction) : "—") },
      ], rows, { caption: "Results" })),
    h("section", { class: "panel" }, h("h2", {}, "Guardrails"),
      table([
        { label: "Metric", render: (r) => r.metric },
        { label: "Variant", render: (r) => r.variant },
        { label: "Value", num: true, render: (r) => fmt.dec(r.mean) },
        { label: "Difference CI", render: (r) => interval(r.ci_low, r.ci_high, 1) },
        { label: "", render: (r) => (r.worse ? h("strong", { class: "bad" }, "worse") : "ok") },
      ], guardRows, { caption: "Guardrails", empty: "No data yet." }))));
}
