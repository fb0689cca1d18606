// Settings: the tracker snippet, domain and allowed origins, time zone, lead-score
// weights and privacy, API keys and members. Changes need the admin or owner role.

import { api } from "../api.js";
import { copyText, field, h, mount, table, toast } from "../dom.js";
import * as fmt from "../format.js";
import { inviteNotice } from "./account.js";

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
  const MODELS = ["last_non_direct", "last_touch", "first_touch", "linear", "time_decay", "position_based"];
  const attrModel = h("select", { name: "attribution_model", disabled },
    MODELS.map((m) => h("option", { value: m, selected: m === st.attribution_model }, m.replace(/_/g, " "))));
  const clickLookback = h("input", { type: "number", min: 1, max: 540, name: "click_lookback_days", value: st.click_lookback_days, disabled });
  const dniLease = h("input", { type: "number", min: 1, max: 1440, name: "dni_lease_minutes", value: st.dni_lease_minutes, disabled });
  const dniSources = h("input", { name: "dni_sources", value: (st.dni_sources || ["paid"]).join(", "), disabled });
  const dniNumber = h("input", { name: "dni_default_number", value: st.dni_default_number || "", placeholder: "the number on your pages", disabled });
  const peopleForm = h("form", { class: "panel form" },
    h("h2", {}, "Leads, calls and money"),
    h("div", { class: "weights" },
      field("Attribution model", attrModel, "Used by every report, page and the credit stored on leads and calls."),
      field("Click lookback (days)", clickLookback, "How old a touch may be to earn a conversion's credit (Google Ads: 90)."),
      field("DNI sources", dniSources, "paid, all, or channel names such as Paid Search, Email."),
      field("DNI lease (min)", dniLease),
      field("Site phone number", dniNumber, "DNI swaps tel: links to this number (empty: every tel: link).")),
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
        attribution_model: attrModel.value,
        click_lookback_days: Number(clickLookback.value),
        dni_sources: dniSources.value.split(",").map((x) => x.trim()).filter(Boolean),
        dni_lease_minutes: Number(dniLease.value),
        dni_default_number: dniNumber.value.trim() || null,
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

  const ignoredBox = await ignoredTraffic(site);
  const keysBox = h("section", { class: "panel" });
  const membersBox = h("section", { class: "panel" });
  const callsBox = h("section", { class: "panel", "aria-label": "Call tracking" });
  mount(root, h("section", { class: "page" },
    h("div", { class: "page-head" }, h("h1", {}, `Settings · ${site.name}`),
      h("a", { href: "#/system", class: "btn", id: "system-link" }, "System: components, leaders, webhooks"),
      manage ? null : h("p", { class: "notice" }, "You can read these settings; changing them needs the admin role.")),
    snippet,
    ignoredBox,
    h("div", { class: "grid-2" }, siteForm, scoringForm),
    h("div", { class: "grid-2" }, peopleForm, bxForm),
    manage ? callsBox : null,
    manage ? keysBox : null,
    manage ? membersBox : null,
    site.role === "owner" ? dangerZone(ctx, site) : null));
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
    const invited = h("div", { role: "status", "aria-live": "polite" });
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        await api(`/api/sites/${site.id}/members`, { method: "POST", body: { email: email.value, role: role.value } });
        toast("Member added");
        drawMembers();
      } catch (err) {
        if (err.code !== "user_not_found") {
          toast(err.message, "error");
          return;
        }
        // No account yet: create one with a one-time link the admin hands over.
        try {
          const link = await api("/api/users", { method: "POST", body: { email: email.value, site_id: site.id, role: role.value } });
          await drawMembers();
          mount(invited, inviteNotice(link));
        } catch (inviteErr) {
          toast(inviteErr.message, "error");
        }
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
      form, invited);
  }

  // -- call tracking: provider webhooks and the DNI pool --------------------------------
  async function drawCalls() {
    const [providers, pool] = await Promise.all([
      api(`/api/sites/${site.id}/call-providers`),
      api(`/api/sites/${site.id}/dni/numbers`),
    ]);
    const base = window.location.origin;
    const have = Object.fromEntries(providers.providers.map((p) => [p.kind, p]));
    const providerForm = (kind, label, hint) => {
      const secret = h("input", { type: "password", name: `${kind}_secret`, autocomplete: "off", minlength: 16, placeholder: have[kind] ? "set (enter a new one to replace it)" : "" });
      const form = h("form", { class: "row form-inline", dataset: { provider: kind } },
        field(label, secret, hint),
        h("button", { type: "submit", class: "btn btn-primary" }, "Save"),
        have[kind] ? h("code", { class: "webhook-url" }, base + have[kind].webhook_path) : null);
      form.addEventListener("submit", async (e) => {
        e.preventDefault();
        try {
          await api(`/api/sites/${site.id}/call-providers/${kind}`, { method: "PUT", body: { secret: secret.value } });
          toast(`${kind === "twilio" ? "Twilio" : "Webhook"} secret saved (stored encrypted)`);
          drawCalls();
        } catch (err) {
          toast(err.message, "error");
        }
      });
      return form;
    };
    const number = h("input", { name: "dni_number", placeholder: "+1 419 555 0201" });
    const addForm = h("form", { class: "row form-inline" }, field("Tracking number", number),
      h("button", { type: "submit", class: "btn btn-primary" }, "Add to pool"));
    addForm.addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        await api(`/api/sites/${site.id}/dni/numbers`, { method: "POST", body: { number: number.value } });
        toast("Number added");
        drawCalls();
      } catch (err) {
        toast(err.message, "error");
      }
    });
    mount(callsBox, h("h2", {}, "Call tracking"),
      h("p", { class: "muted" }, "Point your call-tracking provider at the webhook shown after saving its secret. See docs/leads-and-calls.md."),
      providerForm("twilio", "Twilio auth token", "Set the number's call status callback to the URL shown."),
      providerForm("hmac", "Webhook signing secret", "CallRail-style JSON, signed X-Leadtrail-Signature: sha256=<HMAC-SHA256>."),
      h("h3", {}, "Dynamic number insertion"),
      table([
        { label: "Number", render: (n) => n.number },
        { label: "Leased to", render: (n) => (n.leased_to ? h("code", {}, n.leased_to) : "free") },
        { label: "Last leased", render: (n) => (n.last_leased_at ? fmt.timeAgo(n.last_leased_at) : "never") },
        { label: "", render: (n) => h("button", {
          type: "button", class: "btn btn-danger", "aria-label": `Remove ${n.number}`,
          onclick: async () => {
            await api(`/api/sites/${site.id}/dni/numbers/${encodeURIComponent(n.number)}`, { method: "DELETE" });
            toast("Number removed");
            drawCalls();
          },
        }, "Remove") },
      ], pool.numbers, { caption: "Tracking-number pool", empty: "No tracking numbers: DNI is off for this site." }),
      h("p", { class: "muted" }, `Pool exhausted ${pool.exhausted} times in the last 24 h.`),
      addForm);
  }

  await Promise.all([drawKeys(), drawMembers(), drawCalls()]);
}

/** What the tracker sent that was not stored, and why (headless test browsers, a domain
 * that is not the site's): shown only when there is something to say. */
async function ignoredTraffic(site) {
  let rows = [];
  try {
    rows = (await api(`/api/sites/${site.id}/ignored-traffic`)).ignored || [];
  } catch {
    return null;
  }
  if (!rows.length) return null;
  return h("section", { class: "panel notice-panel" },
    h("h2", {}, "Traffic that was not stored"),
    h("ul", { class: "ignored" }, rows.map((r) => h("li", {},
      h("strong", {}, `${fmt.count(r.count, "request")} · ${r.reason.replace(/_/g, " ")}`),
      r.detail ? h("code", { class: "wrap" }, ` ${r.detail}`) : null,
      h("span", { class: "muted" }, ` · last ${fmt.timeAgo(r.last_seen_at)}`),
      h("p", {}, r.hint)))));
}

function dangerZone(ctx, site) {
  const confirmBox = h("input", { name: "confirm_delete", placeholder: site.public_id, autocomplete: "off" });
  const form = h("form", { class: "row form-inline" },
    field(`Type ${site.public_id} to confirm`, confirmBox),
    h("button", { type: "submit", class: "btn btn-danger" }, "Delete this site and all its data"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await api(`/api/sites/${site.id}/delete`, { method: "POST", body: { confirm: confirmBox.value.trim() } });
      toast(`${site.name} deleted`);
      window.location.hash = "#/live";
      window.location.reload();
    } catch (err) {
      toast(err.message, "error");
    }
  });
  return h("section", { class: "panel danger" }, h("h2", {}, "Danger zone"),
    h("p", {}, "Deleting a site removes its visits, events, people, leads, calls and reports. It cannot be undone."), form);
}
