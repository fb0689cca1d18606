// Account: change your password; for a superuser, every account (invite, reset link, delete)
// and new sites. One-time links are shown once, for the administrator to hand over.

import { api } from "../api.js";
import { copyText, field, h, mount, table, toast } from "../dom.js";
import * as fmt from "../format.js";

export const title = "Account";

/** The one-time link of an invitation or reset, to copy and send. */
export function inviteNotice(link) {
  const what = link.purpose === "reset" ? "password-reset" : "invitation";
  return h("div", { class: "notice reveal", role: "alert" },
    h("p", {}, `Send this ${what} link to ${link.email}. It works once, until ${new Date(link.expires_at).toLocaleString()}.`),
    h("code", { class: "secret" }, link.link),
    h("button", { type: "button", class: "btn", onclick: async () => toast((await copyText(link.link)) ? "Link copied" : "Copy failed") }, "Copy link"));
}

function passwordForm() {
  const current = h("input", { type: "password", name: "current_password", autocomplete: "current-password", required: true });
  const next = h("input", { type: "password", name: "new_password", autocomplete: "new-password", required: true, minlength: 8 });
  const again = h("input", { type: "password", name: "new_password_again", autocomplete: "new-password", required: true });
  const error = h("p", { class: "form-error", role: "alert" });
  const form = h("form", { class: "panel form" }, h("h2", {}, "Change your password"),
    field("Current password", current), field("New password", next, "At least 8 characters."), field("New password, again", again),
    error, h("button", { type: "submit", class: "btn btn-primary" }, "Change password"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.textContent = "";
    if (next.value !== again.value) {
      error.textContent = "The two new passwords differ.";
      return;
    }
    try {
      await api("/api/auth/password", { method: "POST", body: { current_password: current.value, new_password: next.value } });
      toast("Password changed: log in again");
      window.location.reload();
    } catch (err) {
      error.textContent = err.message;
    }
  });
  return form;
}

async function usersPanel(box) {
  const { users } = await api("/api/users");
  const email = h("input", { type: "email", name: "invite_email", required: true, placeholder: "new.person@example.com" });
  const revealed = h("div");
  const form = h("form", { class: "row form-inline" }, field("Invite by e-mail", email),
    h("button", { type: "submit", class: "btn btn-primary" }, "Invite"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const link = await api("/api/users", { method: "POST", body: { email: email.value } });
      await usersPanel(box);
      mount(box.querySelector("[data-revealed]"), inviteNotice(link));
    } catch (err) {
      toast(err.message, "error");
    }
  });
  revealed.dataset.revealed = "";
  mount(box, h("h2", {}, "Accounts"), revealed,
    table([
      { label: "Email", key: "email" },
      { label: "Name", render: (u) => u.name || "—" },
      { label: "Status", render: (u) => (u.invited ? "invited" : u.is_superuser ? "superuser" : "active") },
      { label: "Last login", render: (u) => (u.last_login_at ? fmt.timeAgo(u.last_login_at) : "never") },
      { label: "", render: (u) => h("div", { class: "actions" },
        h("button", { type: "button", class: "btn", "aria-label": `Reset link for ${u.email}`, onclick: async () => {
          const link = await api(`/api/users/${u.id}/reset-link`, { method: "POST" });
          mount(box.querySelector("[data-revealed]"), inviteNotice(link));
        } }, "Reset link"),
        h("button", { type: "button", class: "btn btn-danger", "aria-label": `Delete ${u.email}`, onclick: async () => {
          if (!window.confirm(`Delete the account ${u.email}?`)) return;
          try {
            await api(`/api/users/${u.id}`, { method: "DELETE" });
            toast("Account deleted");
            usersPanel(box);
          } catch (err) {
            toast(err.message, "error");
          }
        } }, "Delete")) },
    ], users, { caption: "Accounts" }),
    form);
}

function newSiteForm() {
  const name = h("input", { name: "site_name", required: true, placeholder: "My shop" });
  const domain = h("input", { name: "site_domain", required: true, placeholder: "shop.example.com" });
  const form = h("form", { class: "panel form" }, h("h2", {}, "Add a site"),
    field("Name", name), field("Domain", domain, "Subdomains included."),
    h("button", { type: "submit", class: "btn btn-primary" }, "Add site"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const site = await api("/api/sites", { method: "POST", body: { name: name.value, domain: domain.value } });
      localStorage.setItem("leadtrail.site", site.id);
      toast(`${site.name} added`);
      window.location.hash = "#/settings";
      window.location.reload();
    } catch (err) {
      toast(err.message, "error");
    }
  });
  return form;
}

export async function render(ctx) {
  const { root, session } = ctx;
  const superuser = Boolean(session && session.user && session.user.is_superuser);
  const usersBox = h("section", { class: "panel" });
  mount(root, h("section", { class: "page" },
    h("div", { class: "page-head" }, h("h1", {}, "Account"), h("p", { class: "muted" }, session.user.email)),
    h("div", { class: "grid-2" }, passwordForm(), superuser ? newSiteForm() : null),
    superuser ? usersBox : null));
  if (superuser) await usersPanel(usersBox);
}

/** /accept#token=…: set a password through an invitation or reset link, then log in. */
export function renderAccept(root, onDone) {
  const token = new URLSearchParams(window.location.hash.slice(1)).get("token") || "";
  const password = h("input", { type: "password", name: "password", autocomplete: "new-password", required: true, minlength: 8 });
  const error = h("p", { class: "form-error", role: "alert" });
  const form = h("form", { class: "panel form login" }, h("h1", {}, "Choose your password"),
    field("Password", password, "At least 8 characters."), error,
    h("button", { type: "submit", class: "btn btn-primary" }, "Set password"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const done = await api("/api/auth/accept", { method: "POST", body: { token, password: password.value } });
      await api("/api/auth/login", { method: "POST", body: { email: done.email, password: password.value } });
      history.replaceState(null, "", "/dashboard/#/live");
      onDone();
    } catch (err) {
      error.textContent = err.message;
    }
  });
  mount(root, form);
}
