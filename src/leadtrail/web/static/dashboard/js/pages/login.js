import { api } from "../api.js";
import { field, h, mount } from "../dom.js";

export const title = "Log in";

export function render({ root, onLoggedIn, sso }) {
  const email = h("input", { type: "email", name: "email", autocomplete: "username", required: true });
  const password = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true });
  const message = h("p", { class: "form-error", role: "alert" });
  const button = h("button", { type: "submit", class: "btn btn-primary" }, "Log in");
  const form = h("form", { class: "login-form", novalidate: false },
    h("h1", {}, "Log in to leadtrail"),
    field("Email", email),
    field("Password", password),
    message,
    button);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    message.textContent = "";
    button.disabled = true;
    try {
      await api("/api/auth/login", { method: "POST", body: { email: email.value, password: password.value } });
      await onLoggedIn();
    } catch (err) {
      message.textContent = err.status === 401 ? "Wrong email or password." : err.message;
      button.disabled = false;
      password.focus();
    }
  });
  // single sign-on, when the server has a provider; an error comes back in the hash
  const ssoError = new URLSearchParams(window.location.hash.split("?")[1] || "").get("sso_error");
  if (ssoError) message.textContent = ssoError;
  const ssoLink = sso ? h("p", { class: "sso" }, h("a", { class: "btn", href: "/api/auth/oidc/login" }, sso.label)) : null;
  mount(root, h("section", { class: "login" }, form, ssoLink));
  email.focus();
}
