// Funnels defined by the site's people: create or edit one (named ordered steps, a
// conversion window, strict or any order, per session or per person) and read its report:
// entered, converted, dropped, median time to the next step, drop-off reasons, breakdowns.
// API: /api/funnels (docs/behaviour.md).

import { api, url } from "../api.js";
import { field, h, mount, table, toast } from "../dom.js";
import * as fmt from "../format.js";
import { presetRange } from "./overview.js";

export const title = "Funnels";

const KINDS = {
  page: [["url", "URL path pattern (* matches anything)"]],
  event: [["category", "Category"], ["action", "Action"], ["label", "Label pattern"]],
  lead: [],
  call: [],
  experiment: [["experiment", "Experiment id"]],
};

export async function render(ctx) {
  const { root, site } = ctx;
  const manage = site.access === "manage";
  let [from, to] = presetRange("30d", "UTC");
  let funnels = [];
  let current = null;
  const picker = h("select", { "aria-label": "Funnel" });
  const fromInput = h("input", { type: "date", value: from });
  const toInput = h("input", { type: "date", value: to });
  const breakdown = h("select", { "aria-label": "Breakdown" },
    [["", "No breakdown"], ["channel", "By channel"], ["device", "By device"], ["campaign", "By campaign"]]
      .map(([v, t]) => h("option", { value: v }, t)));
  const report = h("div", {});
  const editor = h("div", {});
  const csv = h("a", { class: "csv", download: true, "aria-label": "Download funnel report as CSV" }, "CSV");

  mount(root, h("section", { class: "page" },
    h("div", { class: "page-head" }, h("h1", {}, "Funnels"),
      h("div", { class: "toolbar" }, field("Funnel", picker), field("From", fromInput), field("To", toInput), field("Breakdown", breakdown),
        manage ? h("button", { type: "button", class: "btn", onclick: () => edit(null) }, "New funnel") : null)),
    h("section", { class: "panel", id: "funnel-report" }, h("div", { class: "panel-head" }, h("h2", {}, "Report"), csv), report),
    h("section", { class: "panel", id: "funnel-editor" }, editor)));

  function stepRow(step = { kind: "page" }) {
    const kind = h("select", { "aria-label": "Step kind" }, Object.keys(KINDS).map((k) => h("option", { value: k, selected: k === step.kind }, k)));
    const name = h("input", { type: "text", value: step.name || "", "aria-label": "Step name", placeholder: "Step name" });
    const extra = h("span", {});
    const row = h("li", { class: "step" }, kind, " ", name, " ", extra, " ",
      h("button", { type: "button", class: "btn-link", onclick: () => row.remove() }, "Remove"));
    const fill = () => mount(extra, KINDS[kind.value].map(([key, label]) =>
      h("input", { type: "text", "data-key": key, "aria-label": label, placeholder: label, value: step[key] || "" })));
    kind.addEventListener("change", fill);
    fill();
    row.read = () => {
      const out = { kind: kind.value, name: name.value.trim() || undefined };
      extra.querySelectorAll("input").forEach((i) => { if (i.value.trim()) out[i.dataset.key] = i.value.trim(); });
      return out;
    };
    return row;
  }

  function edit(funnel) {
    const f = funnel || { name: "", steps: [{ kind: "page", url: "/" }, { kind: "lead" }], window_seconds: 86400, order: "strict", count_by: "session" };
    const name = h("input", { type: "text", value: f.name, required: true });
    const windowInput = h("input", { type: "number", min: 1, value: Math.round(f.window_seconds / 60) });
    const order = h("select", {}, [["strict", "In this order"], ["any", "In any order"]].map(([v, t]) => h("option", { value: v, selected: v === f.order }, t)));
    const countBy = h("select", {}, [["session", "Per session"], ["person", "Per person"]].map(([v, t]) => h("option", { value: v, selected: v === f.count_by }, t)));
    const steps = h("ol", { class: "steps" }, f.steps.map(stepRow));
    const error = h("p", { class: "form-error", role: "alert" });
    const form = h("form", { class: "stack" },
      field("Funnel name", name), field("Conversion window (minutes)", windowInput), field("Order", order), field("Count", countBy),
      h("h3", {}, "Steps"), steps,
      h("button", { type: "button", class: "btn-link", onclick: () => steps.append(stepRow()) }, "Add step"),
      error,
      h("div", { class: "toolbar" }, h("button", { type: "submit", class: "btn" }, funnel ? "Save funnel" : "Create funnel"),
        funnel ? h("button", { type: "button", class: "btn-link", onclick: remove }, "Delete") : null));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const body = { name: name.value, window_seconds: Math.round(Number(windowInput.value) * 60), order: order.value,
        count_by: countBy.value, steps: [...steps.children].map((li) => li.read()) };
      try {
        const saved = await api(funnel ? `/api/funnels/${funnel.id}` : "/api/funnels", { method: funnel ? "PUT" : "POST", query: { site_id: site.id }, body });
        toast(funnel ? "Funnel saved" : "Funnel created");
        await refresh(saved.id);
      } catch (err) {
        error.textContent = err.field ? `${err.field}: ${err.message}` : err.message;
      }
    });
    async function remove() {
      await api(`/api/funnels/${funnel.id}`, { method: "DELETE", query: { site_id: site.id } });
      toast("Funnel deleted");
      await refresh(null);
    }
    mount(editor, h("h2", {}, funnel ? `Edit ${funnel.name}` : "New funnel"), form);
  }

  async function loadReport() {
    current = funnels.find((f) => f.id === picker.value) || null;
    if (!current) {
      mount(report, h("p", { class: "empty" }, manage ? "No funnel yet: create one below." : "No funnel yet."));
      csv.hidden = true;
      return;
    }
    if (manage) edit(current);
    const query = { site_id: site.id, from, to, breakdown: breakdown.value };
    csv.hidden = false;
    csv.setAttribute("href", url(`/api/funnels/${current.id}/report`, { ...query, format: "csv" }));
    try {
      const body = await api(`/api/funnels/${current.id}/report`, { query });
      const top = Math.max(1, body.steps[0].entered);
      mount(report,
        h("p", { class: "muted" }, `${current.order === "strict" ? "In order" : "Any order"}, within ${fmt.duration(current.window_seconds)}, counted per ${current.count_by}.`),
        table([
          { label: "Step", render: (r) => `${r.step}. ${r.name}` },
          { label: "Entered", num: true, render: (r) => h("span", {}, h("meter", { min: 0, max: top, value: r.entered }), " ", fmt.num(r.entered)) },
          { label: "Converted", num: true, render: (r) => fmt.num(r.converted) },
          { label: "Dropped", num: true, render: (r) => fmt.num(r.dropped) },
          { label: "Median to next", num: true, render: (r) => (r.median_seconds_to_next == null ? "—" : fmt.duration(r.median_seconds_to_next)) },
          { label: "Top drop-off reasons", render: (r) => r.dropoff_reasons.map((x) => `${x.reason.replace(/_/g, " ")} (${x.count})`).join(", ") || "—" },
        ], body.steps, { caption: "Funnel steps" }),
        body.breakdown ? table([
          { label: body.breakdown.by, render: (g) => g.value || "(none)" },
          ...body.steps.map((s, i) => ({ label: s.name, num: true, render: (g) => fmt.num(g.entered[i]) })),
        ], body.breakdown.groups, { caption: "Breakdown" }) : null);
    } catch (err) {
      mount(report, h("p", { class: "form-error" }, err.message));
    }
  }

  async function refresh(selected) {
    funnels = await api("/api/funnels", { query: { site_id: site.id } });
    mount(picker, funnels.map((f) => h("option", { value: f.id, selected: f.id === selected }, f.name)));
    if (!funnels.length && manage) edit(null);
    await loadReport();
  }

  picker.addEventListener("change", loadReport);
  breakdown.addEventListener("change", loadReport);
  fromInput.addEventListener("change", () => { from = fromInput.value; loadReport(); });
  toInput.addEventListener("change", () => { to = toInput.value; loadReport(); });
  await refresh(ctx.args[0] || null);
}
