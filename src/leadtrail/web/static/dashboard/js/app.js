// The dashboard shell: who is logged in, which site is shown, hash routes to pages, and
// one realtime socket shared by the pages.

import { ApiError, api, onUnauthorized } from "./api.js";
import { h, mount } from "./dom.js";
import { Socket } from "./phoenix.js";
import * as account from "./pages/account.js";
import * as calls from "./pages/calls.js";
import * as campaigns from "./pages/campaigns.js";
import * as experiments from "./pages/experiments.js";
import * as friction from "./pages/friction.js";
import * as funnels from "./pages/funnels.js";
import * as live from "./pages/live.js";
import * as login from "./pages/login.js";
import * as overview from "./pages/overview.js";
import * as person from "./pages/person.js";
import * as proposals from "./pages/proposals.js";
import * as settings from "./pages/settings.js";
import * as system from "./pages/system.js";

const PAGES = {
  live, calls, overview, campaigns, friction, funnels, experiments, proposals, person, settings, system, account,
};
const SITE_KEY = "leadtrail.site";

const state = {
  session: null, // {user, sites, features}
  site: null,
  socket: null,
  cleanups: [],
};

const main = document.getElementById("main");
const topbar = document.getElementById("topbar");
const siteSelect = document.getElementById("site-select");

function parseHash() {
  const raw = window.location.hash.replace(/^#\/?/, "");
  const [pathPart, queryPart] = raw.split("?");
  const parts = pathPart.split("/").filter(Boolean).map(decodeURIComponent);
  return { page: parts[0] || "live", args: parts.slice(1), query: new URLSearchParams(queryPart || "") };
}

function cleanup() {
  const fns = state.cleanups;
  state.cleanups = [];
  fns.forEach((fn) => {
    try {
      fn();
    } catch (err) {
      console.warn("cleanup failed", err);
    }
  });
}

async function route() {
  cleanup();
  if (window.location.pathname === "/accept") {
    topbar.hidden = true;
    account.renderAccept(main, start);
    return;
  }
  if (!state.session || !state.session.user) {
    topbar.hidden = true;
    login.render({ root: main, onLoggedIn: start, sso: state.session && state.session.sso });
    return;
  }
  topbar.hidden = false;
  const { page, args, query } = parseHash();
  const module = PAGES[page] || live;
  document.querySelectorAll(".nav a").forEach((a) => {
    if (a.dataset.page === page) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  });
  if (!state.site && page === "account") {
    await account.render({ root: main, session: state.session });
    return;
  }
  if (!state.site) {
    mount(main, h("section", { class: "panel" },
      h("h1", {}, "No site yet"),
      h("p", {}, "Ask an administrator to add you to a site, or create one on the ",
        h("a", { href: "#/account" }, "Account"), " page (superusers) or with ",
        h("code", {}, "leadtrail sites create"), ".")));
    return;
  }
  const site = state.site;
  let pageTitle = null;
  const ctx = {
    root: main,
    site,
    features: state.session.features,
    socket: state.socket,
    args,
    query,
    session: state.session,
    onCleanup: (fn) => state.cleanups.push(fn),
    navigate: (hash) => { window.location.hash = hash; },
    setTitle: (text) => { pageTitle = text; }, // e.g. the person's name rather than "Person"
  };
  try {
    await module.render(ctx);
  } catch (err) {
    mount(main, h("section", { class: "panel error" }, h("h1", {}, "Something went wrong"), h("p", {}, err.message)));
  }
  // The session may have ended while the page rendered (logout): name the page it showed.
  document.title = `${pageTitle || module.title || "leadtrail"} · ${site.name} · leadtrail`;
}

function chooseSite(id) {
  const sites = state.session.sites;
  state.site = sites.find((x) => x.id === id) || sites[0] || null;
  if (state.site) localStorage.setItem(SITE_KEY, state.site.id);
  siteSelect.value = state.site ? state.site.id : "";
}

async function start() {
  state.session = await api("/api/dashboard/session");
  if (!state.session.user) {
    route();
    return;
  }
  document.getElementById("user-email").textContent = state.session.user.email;
  mount(siteSelect, state.session.sites.map((x) => h("option", { value: x.id }, x.name)));
  chooseSite(localStorage.getItem(SITE_KEY));
  if (state.session.features.realtime && !state.socket) {
    state.socket = new Socket("/realtime/v1/websocket", {
      onState: (st) => { document.body.dataset.socket = st; },
    });
    state.socket.connect();
  }
  route();
}

siteSelect.addEventListener("change", () => {
  chooseSite(siteSelect.value);
  route();
});

document.getElementById("logout").addEventListener("click", async () => {
  await api("/api/auth/logout", { method: "POST" });
  if (state.socket) state.socket.disconnect();
  state.socket = null;
  state.session = { user: null, sites: [], features: {} };
  state.site = null;
  window.location.hash = "#/live";
  route();
});

// A request still in flight when the session ends (logout, expiry) is refused with 401; the
// login page is shown by onUnauthorized, so that rejection is expected, not an error.
window.addEventListener("unhandledrejection", (event) => {
  if (event.reason instanceof ApiError && event.reason.status === 401) event.preventDefault();
});

onUnauthorized(() => {
  if (state.session && state.session.user) {
    state.session = { ...state.session, user: null };
    route();
  }
});

window.addEventListener("hashchange", async () => {
  await route();
  main.focus({ preventScroll: true }); // screen readers and keyboards land on the new page
});
start().catch((err) => {
  mount(main, h("section", { class: "panel error" }, h("h1", {}, "leadtrail is not reachable"), h("p", {}, err.message)));
});
