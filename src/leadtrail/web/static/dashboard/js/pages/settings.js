// Settings: the tracker snippet, domain and allowed origins, time zone, lead-score
// weights and privacy, API keys and members. Changes need the admin or owner role.

import { api } from "../api.js";
import { copyText, field, h, mount, table, toast } from "../dom.js";
import * as fmt from "../format.js";

export const title = "Settings";

const WEIGHTS = [
  ["conversion", "Conversion event"], ["interaction", "Interaction"], ["scroll_50", "Scrolled 50 %"],
  ["scroll_90", "Scrolled 90 %"], ["hover_intent", "Hover intent"], ["google_referrer", "Google referrer"],
  ["returning_ad_user", "Returning ad visitor"],
];

function zones() {
  try {
    return Intl.supportedValuesOf("timeZone");
  } catch {
    return [];
  }
}

export async function render(ctx) {
  const { root, site: chosen } = ctx;
  let site = await api(`/api/sites/${chosen.id}`);
  const manage = site.access === "manage";
  const disabled = !manage;

  async function save(changes, message) {
    try {
      site = await api(`/api/sites/${site.id}`, { method: "PATCH", body: changes });
      toast(message);
      return true;
    } catch (err) {
      toast(`${err.field ? `${err.field}: ` : ""}${err.message}`, "error");
      return false;
    }
  }

  // -- snippet ------------------------------------------------------------------
  const copyButton = h("button", { type: "button", class: "btn btn-primary" }, "Copy snippet");
  const copied = h("span", { class: "muted", role: "status", "aria-live": "polite" });
  copyButton.addEventListener("click", async () => {
    const ok = await copyText(site.snippet);
    copied.textContent = ok ? "Copied to the clipboard." : "Copy failed: select the text and copy it.";
  });
  const snippet = h("section", { class: "panel" },
    h("h2", {}, "Tracker snippet"),
    h("p", {}, "Add this tag to every page of ", h("strong", {}, site.domain), ", before ", h("code", {}, "</head>"), "."),
    h("pre", { class: "snippet", tabindex: 0, "aria-label": "Tracker snippet" }, h("code", { id: "snippet-code" }, site.snippet)),
    h("div", { class: "row" }, copyButton, copied),
    h("p", { class: "muted" }, "Public id: ", h("code", {}, site.public_id), " · Site id: ", h("code", {}, site.id)));

  // -- site -----------------------------------------------------------------------
  const name = h("input", { name: "name", value: site.name, required: true, disabled });
  const domain = h("input", { name: "domain", value: site.domain, required: true, disabled });
  const origins = h("textarea", { name: "allowed_origins", rows: 3, disabled }, site.allowed_origins.join("\n"));
  const tz = h("input", { name: "timezone", value: site.timezone, list: "tz-list", disabled });
  const siteForm = h("form", { class: "panel form" },
    h("h2", {}, "Site"),
    field("Name", name),
    field("Domain", domain, "Subdomains are included."),
    field("Other allowed origins", origins, "One domain per line, e.g. landing.example.net."),
    field("Reporting time zone", tz),
    h("datalist", { id: "tz-list" }, zones().map((z) => h("option", { value: z }))),
    manage ? h("button", { type: "submit", class: "btn btn-primary" }, "Save site") : null);
  siteForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    await save({
      name: name.value,
      domain: domain.value,
      allowed_origins: origins.value.split(/[\s,]+/).filter(Boolean),
      timezone: tz.value,
    }, "Site saved");
    domain.value = site.domain;
    origins.value = site.allowed_origins.join("\n");
  });

  // -- scoring and privacy ------------------------------------------------------------
  const inputs = Object.fromEntries(WEIGHTS.map(([key]) => [key, h("input", {
    type: "number", min: 0, max: 100, step: 1, name: key, value: site.settings.scoring[key], disabled,
  })]));
  const dnt = h("input", { type: "checkbox", name: "respect_dnt", checked: site.settings.respect_dnt, disabled });
  const ip = h("select", { name: "ip_storage", disabled }, [["full", "Store full IP addresses"], ["truncated", "Truncate (/24, /48)"], ["none", "Do not store IPs"]]
    .map(([v, t]) => h("option", { value: v, selected: site.settings.ip_storage === v }, t)));
  const scoringForm = h("form", { class: "panel form" },
    h("h2", {}, "Lead scoring and privacy"),
    h("p", { class: "muted" }, "Points per event (0–100); a visit's score is its best event, capped at 100."),
    h("div", { class: "weights" }, WEIGHTS.map(([key, text]) => field(text, inputs[key]))),
    h("div", { class: "field check" }, dnt, h("label", { for: "respect-dnt" }, "Honour Do Not Track / Global Privacy Control")),
    field("IP addresses", ip),
    manage ? h("button", { type: "submit", class: "btn btn-primary" }, "Save scoring") : null);
  dnt.id = "respect-dnt";
  scoringForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const scoring = Object.fromEntries(WEIGHTS.map(([key]) => [key, Number(inputs[key].value)]));
    await save({ settings: { scoring, respect_dnt: dnt.checked, ip_storage: ip.value } }, "Scoring saved");
  });

  // -- people, leads, calls and money ---------------------------------------------------
  const st = site.settings;
  const currency = h("input", { name: "currency", value: st.currency, maxlength: 3, disabled });
  const region = h("input", { name: "default_region", value: st.default_region || "", maxlength: 2, placeholder: "e.g. US", disabled });
  const lookback = h("input", { type: "number", min: 1, max: 10080, name: "lead_lookback_minutes", value: st.lead_lookback_minutes, disabled });
  const window_ = h("input", { type: "number", min: 1, max: 1440, name: "call_window_minutes", value: st.call_window_minutes, disabled });
  const halfLife = h("input", { type: "number", min: 0.1, max: 365, step: 0.1, name: "attribution_half_life_days", value: st.attribution_half_life_days, disabled });
  const peopleForm = h("form", { class: "panel form" },
    h("h2", {}, "Leads, calls and money"),
    h("div", { class: "weights" },
      field("Currency", currency, "Of ad spend and conversion values."),
      field("Phone region", region, "For numbers without a country code."),
      field("Lead lookback (min)", lookback),
      field("Call match window (min)", window_),
      field("Time-decay half-life (days)", halfLife)),
    manage ? h("button", { type: "submit", class: "btn btn-primary" }, "Save") : null);
  peopleForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    await save({
      settings: {
        currency: currency.value.trim(),
        default_region: region.value.trim() || null,
        lead_lookback_minutes: Number(lookback.value),
        call_window_minutes: Number(window_.value),
        attribution_half_life_days: Number(halfLife.value),
      },
    }, "Lead and call settings saved");
  });

  // -- behaviour capture (docs/behaviour.md) ----------------------------------------------
  const bx = st.behaviour || { enabled: false, sample_rate: 1 };
  const bxOn = h("input", { type: "checkbox", id: "behaviour-on", checked: bx.enabled, disabled });
  const bxRate = h("input", { type: "number", min: 1, max: 100, step: 1, name: "behaviour_sample", value: Math.round(bx.sample_rate * 100), disabled });
  const bxForm = h("form", { class: "panel form", id: "behaviour-settings" },
    h("h2", {}, "Behaviour capture"),
    h("p", { class: "muted" }, "Clicks, rage and dead clicks, hesitations, form abandonment, errors and scroll depth for the Friction and Funnels pages. Never form values."),
    h("div", { class: "field check" }, bxOn, h("label", { for: "behaviour-on" }, "Capture behaviour on this site")),
    field("Sessions captured (%)", bxRate),
    manage ? h("button", { type: "submit", class: "btn btn-primary" }, "Save capture") : null);
  bxForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    await save({ settings: { behaviour: { enabled: bxOn.checked, sample_rate: Number(bxRate.value) / 100 } } }, "Behaviour capture saved");
  });

  const keysBox = h("section", { class: "panel" });
  const membersBox = h("section", { class: "panel" });
  mount(root, h("section", { class: "page" },
    h("div", { class: "page-head" }, h("h1", {}, `Settings · ${site.name}`),
      manage ? null : h("p", { class: "notice" }, "You can read these settings; changing them needs the admin role.")),
    snippet,
    h("div", { class: "grid-2" }, siteForm, scoringForm),
    h("div", { class: "grid-2" }, peopleForm, bxForm),
    manage ? keysBox : null,
    manage ? membersBox : null));
  if (!manage) return;

  // -- API keys -------------------------------------------------------------------------
  async function drawKeys(newKey) {
    const keys = await api(`/api/sites/${site.id}/keys`);
    const keyName = h("input", { name: "key_name", placeholder: "e.g. website server" });
    const scopes = ["ingest", "read", "admin"].map((sc) => h("label", { class: "check" },
      h("input", { type: "checkbox", name: "scope", value: sc, checked: sc === "ingest" }), ` ${sc}`));
    const form = h("form", { class: "row form-inline" }, field("Name", keyName),
      h("fieldset", { class: "scopes" }, h("legend", {}, "Scopes"), scopes),
      h("button", { type: "submit", class: "btn btn-primary" }, "Create key"));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const chosenScopes = [...form.querySelectorAll("input[name=scope]:checked")].map((x) => x.value);
      try {
        const created = await api(`/api/sites/${site.id}/keys`, { method: "POST", body: { name: keyName.value, scopes: chosenScopes } });
        await drawKeys(created);
      } catch (err) {
        toast(err.message, "error");
      }
    });
    const revealed = newKey ? h("div", { class: "notice reveal", role: "alert" },
      h("p", {}, "Copy this key now: it is shown only once."),
      h("code", { class: "secret" }, newKey.key),
      h("button", { type: "button", class: "btn", onclick: async () => toast((await copyText(newKey.key)) ? "Key copied" : "Copy failed") }, "Copy key")) : null;
    mount(keysBox, h("h2", {}, "API keys"), revealed,
      table([
        { label: "Name", render: (k) => k.name || "—" },
        { label: "Prefix", render: (k) => h("code", {}, k.prefix) },
        { label: "Scopes", render: (k) => k.scopes.join(", ") },
        { label: "Created", render: (k) => fmt.dateTime(k.created_at, site.timezone) },
        { label: "Last used", render: (k) => (k.last_used_at ? fmt.timeAgo(k.last_used_at) : "never") },
        { label: "Status", render: (k) => (k.revoked_at ? "revoked" : "active") },
        { label: "", render: (k) => (k.revoked_at ? "" : h("button", {
          type: "button", class: "btn btn-danger", "aria-label": `Revoke key ${k.prefix}`,
          onclick: async () => {
            if (!window.confirm(`Revoke ${k.prefix}? Clients using it stop working.`)) return;
            await api(`/api/sites/${site.id}/keys/${k.id}`, { method: "DELETE" });
            toast("Key revoked");
            drawKeys();
          },
        }, "Revoke")) },
      ], keys, { caption: "API keys", empty: "No API keys yet." }),
      form);
  }

  // -- members ------------------------------------------------------------------------------
  async function drawMembers() {
    const members = await api(`/api/sites/${site.id}/members`);
    const email = h("input", { type: "email", name: "member_email", required: true, placeholder: "colleague@example.com" });
    const role = h("select", { name: "member_role" }, ["viewer", "analyst", "admin", "owner"].map((r) => h("option", { value: r }, r)));
    const form = h("form", { class: "row form-inline" }, field("Email", email), field("Role", role),
      h("button", { type: "submit", class: "btn btn-primary" }, "Add member"));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        await api(`/api/sites/${site.id}/members`, { method: "POST", body: { email: email.value, role: role.value } });
        toast("Member added");
        drawMembers();
      } catch (err) {
        toast(err.message, "error");
      }
    });
    mount(membersBox, h("h2", {}, "Members"),
      table([
        { label: "Email", key: "email" },
        { label: "Name", render: (m) => m.name || "—" },
        { label: "Role", render: (m) => {
          const select = h("select", { "aria-label": `Role of ${m.email}` }, ["viewer", "analyst", "admin", "owner"]
            .map((r) => h("option", { value: r, selected: r === m.role }, r)));
          select.addEventListener("change", async () => {
            try {
              await api(`/api/sites/${site.id}/members/${m.user_id}`, { method: "PATCH", body: { role: select.value } });
              toast(`${m.email} is now ${select.value}`);
            } catch (err) {
              toast(err.message, "error");
              select.value = m.role;
            }
          });
          return select;
        } },
        { label: "Last login", render: (m) => (m.last_login_at ? fmt.timeAgo(m.last_login_at) : "never") },
        { label: "", render: (m) => h("button", {
          type: "button", class: "btn btn-danger", "aria-label": `Remove ${m.email}`,
          onclick: async () => {
            if (!window.confirm(`Remove ${m.email} from ${site.name}?`)) return;
            try {
              await api(`/api/sites/${site.id}/members/${m.user_id}`, { method: "DELETE" });
              toast("Member removed");
              drawMembers();
            } catch (err) {
              toast(err.message, "error");
            }
          },
        }, "Remove") },
      ], members, { caption: "Members" }),
      form);
  }

  await Promise.all([drawKeys(), drawMembers()]);
}
