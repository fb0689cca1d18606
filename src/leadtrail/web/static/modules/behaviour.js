/*! leadtrail behaviour capture | docs/behaviour.md */
// Loaded by the site script only when the site turned behaviour capture on. Sends through the
// tracker (leadtrail._t): opt-out, DNT/GPC, sessions and delivery apply unchanged. Every
// detection rule and threshold is described in docs/behaviour.md; thresholds come from the
// site's settings (leadtrail._cfg.behaviour.t). Never reads the value of a form field.
((w, d, L) => {
  var C = L && L._cfg && L._cfg.behaviour, T = C && C.t;
  if (!T || !L._t || L._bx) return;
  L._bx = 1;
  var now = () => Date.now(), loc = location, SS;
  try { SS = sessionStorage; } catch (e) { /* blocked */ }
  var ACT = 'a[href],button,input,select,textarea,label,summary,[role=button],[role=link],[onclick],[contenteditable=""],[contenteditable=true]';
  var FIELD = /^(INPUT|SELECT|TEXTAREA)$/;
  var KX = 'leadtrail_bx_exits';

  // One decision per session: a stable hash of the session id against the sampling rate.
  var sampled = (id, h, c) => {
    h = 2166136261;
    for (c of id) h = Math.imul(h ^ c.charCodeAt(), 16777619);
    return (h >>> 0) / 4294967296 < C.rate;
  };
  // Emails, runs of 4+ digits (phones, cards) masked; 100 characters at most.
  var mask = (s, n) => String(s || '').replace(/\s+/g, ' ').trim()
    .replace(/[^\s@<>()[\],;:"']+@[^\s@<>()[\],;:"']+\.[a-z]{2,}/gi, '[email]')
    .replace(/\+?\d(?:[\s.\-()]*\d){3,}/g, '[number]').slice(0, n || 100);

  // A stable CSS path: from the nearest ancestor with an id, tag:nth-of-type steps below it.
  var path = (el) => {
    var out = [], n, i, s;
    while (el && el.nodeType == 1 && el != d.documentElement && out.length < 12) {
      n = el.tagName.toLowerCase();
      if (el.id && !/\d{3}|^[\d-]/.test(el.id)) {
        out.unshift(n + '#' + CSS.escape(el.id));
        break;
      }
      for (i = 1, s = el; (s = s.previousElementSibling);) if (s.tagName == el.tagName) i++;
      for (s = el.nextElementSibling; s && i == 1; s = s.nextElementSibling) if (s.tagName == el.tagName) i = -1;
      out.unshift(i == 1 ? n : n + ':nth-of-type(' + (i < 0 ? 1 : i) + ')');
      el = el.parentElement;
    }
    return out.join('>');
  };
  var kind = (el) => (el.tagName == 'INPUT' ? 'input:' + (el.type || 'text') : el.tagName.toLowerCase());
  // Text a person sees on the element; for form fields their label, never their value.
  var text = (el) => FIELD.test(el.tagName)
    ? mask(el.getAttribute('aria-label') || el.getAttribute('name') || el.id || '')
    : el.children.length > 20 ? '' : mask(el.getAttribute('aria-label') || el.innerText);
  var fname = (el) => el.getAttribute('name') || el.id || el.type || el.tagName.toLowerCase();

  var page = loc.href.split('#')[0], errs = 0, depth = 0, forms = new Map();
  var send = (type, el, ev, data, cat) => {
    var s = L.sessionId(), bx = { d: data || {} }, r, c;
    if (!s || !sampled(s)) return;
    if (el && el.nodeType == 1) {
      bx.p = path(el);
      bx.t = kind(el);
      bx.x = text(el);
      c = el.closest('[data-lt-component]');
      if (c) bx.c = c.getAttribute('data-lt-component').slice(0, 100);
      if (ev && ev.clientX != null) {
        r = el.getBoundingClientRect();
        bx.co = { x: Math.round(ev.clientX - r.left), y: Math.round(ev.clientY - r.top), px: Math.round(ev.pageX), py: Math.round(ev.pageY),
          pw: d.documentElement.scrollWidth, ph: d.documentElement.scrollHeight };
      }
    }
    bx.vp = { w: w.innerWidth, h: w.innerHeight };
    L._t(cat || 'interaction', 'bx:' + type, '', null, { bx }, page);
  };

  // ---- page changes (for dead clicks): DOM mutations, URL, scroll, focus ----
  var changed = 0;
  new MutationObserver(() => { changed = now(); })
    .observe(d.documentElement, { subtree: true, childList: true, attributes: true, characterData: true });

  // ---- clicks, rage clicks, dead clicks, hesitation ----
  var burst = [], raged = 0, hov, hovAt = 0, navAt = 0;
  var interactive = (el) => el.closest(ACT) || getComputedStyle(el).cursor == 'pointer';
  w.addEventListener('click', (e) => {
    var t = e.target, n = now(), a, el, since, sx = w.scrollX, sy = w.scrollY, f = d.activeElement, u = loc.href;
    if (!t || t.nodeType != 1) return;
    el = t.closest(ACT) || t;
    send('click', el, e);
    a = t.closest('a[href]');
    if (a && !e.defaultPrevented && a.target != '_blank' && a.href.split('#')[0] != page) navAt = n;
    // hesitation: the pointer rested on this interactive element (since it came or since
    // its last click) before this click
    if (hov && hov.contains(t) && (since = n - hovAt) >= T.hesitation_ms) send('hesitation', hov, e, { hesitation_ms: since });
    hovAt = n;
    if (!e.detail) return;  // the keyboard: no position, no rage
    burst = burst.filter((c) => n - c.t <= T.rage_window_ms && Math.hypot(c.x - e.clientX, c.y - e.clientY) <= T.rage_radius_px);
    burst.push({ t: n, x: e.clientX, y: e.clientY, el });
    if (burst.length >= T.rage_clicks && !raged) {
      raged = 1;
      send('rage_click', el, e, { clicks: burst.length });
    }
    if (burst.length == 1) raged = 0;
    if (interactive(t)) return;
    var mine = burst[burst.length - 1];
    setTimeout(() => {
      // A click that became part of a rage click is reported as that, not as dead.
      if (raged && burst.indexOf(mine) >= 0) return;
      if (changed >= n || loc.href != u || w.scrollX != sx || w.scrollY != sy || d.activeElement != f) return;
      send('dead_click', t, e);
    }, T.dead_click_ms);
  }, true);
  w.addEventListener('mouseover', (e) => {
    var t = e.target.closest && e.target.closest(ACT);
    if (t == hov) return;
    if (hov && now() - hovAt >= T.hesitation_ms) send('hover', hov, null, { duration_ms: now() - hovAt });
    hov = t;
    hovAt = now();
  }, { capture: true, passive: true });

  // ---- forms: start, submit, abandon (the last field's name, never a value) ----
  w.addEventListener('input', (e) => {
    var t = e.target, f = t.form, s;
    if (!f) return;
    if (!(s = forms.get(f))) {
      forms.set(f, s = {});
      send('form_start', f, null, { form: fname(f) });
    }
    s.f = fname(t);
  }, true);
  w.addEventListener('submit', (e) => {
    var f = e.target, s = forms.get(f) || {};
    s.d = 1;
    forms.set(f, s);
    navAt = now();
    send('form_submit', f, null, { form: fname(f) });
  }, true);

  // ---- scrolling: depth reached, excessive back-and-forth ----
  var lastY = w.scrollY, dir = 0, flips = [];
  w.addEventListener('scroll', () => {
    var y = w.scrollY, h = d.documentElement.scrollHeight, n = now(), nd;
    depth = Math.max(depth, h ? Math.min(100, (y + w.innerHeight) / h * 100) : 0);
    if (Math.abs(y - lastY) < 40) return;
    nd = y > lastY ? 1 : -1;
    lastY = y;
    if (dir && nd != dir) {
      flips = flips.filter((t) => n - t <= T.scroll_window_ms);
      if (flips.push(n) >= T.scroll_reversals) {
        send('excessive_scroll', null, null, { reversals: flips.length });
        flips = [];
      }
    }
    dir = nd;
  }, { passive: true });

  // ---- errors: message, source, line, trimmed stack ----
  var oops = (m, src, line, col, st) => errs++ < 10 && send('error', null, null, {
    message: mask(m, 300), source: String(src || '').slice(0, 300), line, col,
    stack: String(st || '').split('\n').slice(0, 6).join('\n').slice(0, 1000) });
  w.addEventListener('error', (e) => e.message && oops(e.message, e.filename, e.lineno, e.colno, e.error && e.error.stack));
  w.addEventListener('unhandledrejection', (e) => oops(e.reason && e.reason.message || e.reason, 'promise', 0, 0, e.reason && e.reason.stack));

  // ---- page views, exits, quick backs ----
  var exits = () => { try { return JSON.parse(SS.getItem(KX)) || []; } catch (e) { return []; } };
  var leave = (reason) => {
    forms.forEach((s, f) => s.f && !s.d && send('form_abandon', f, null, { form: fname(f), field: s.f }));
    forms = new Map();
    send('scroll_depth', null, null, { percentage: Math.round(depth) });
    send('page_exit', null, null, { reason }, 'system');
    try { SS.setItem(KX, JSON.stringify(exits().concat({ u: page, t: now(), r: reason }).slice(-5))); } catch (e) { /* full */ }
  };
  var arrive = (nav) => {
    var n = now(), list = exits(), last = list[list.length - 1], back = list.filter((x) => x.u == page).pop();
    depth = 0;
    send('page_view');
    if (!last) return;
    if (nav == 'reload' && last.u == page) return send('page_exit', null, null, { reason: 'refresh' }, 'system');
    // The previous page looked closed but this tab went on to this page: it was a navigation.
    if (last.r == 'close' && n - last.t < 6e4) send('page_exit', null, null, { reason: 'navigation' }, 'system');
    if (back && n - back.t <= T.quick_back_s * 1e3) send('quick_back', null, null, { seconds_away: Math.round((n - back.t) / 1e3) });
  };
  var spa = () => {
    var h = loc.href.split('#')[0];
    if (h == page) return;
    leave('navigation');
    page = h;
    arrive('navigate');
  };
  w.addEventListener('popstate', spa);
  ['pushState', 'replaceState'].forEach((m, orig) => {
    orig = history[m];
    history[m] = function () {
      var r = orig.apply(this, arguments);
      queueMicrotask(spa);
      return r;
    };
  });
  w.addEventListener('pagehide', () => {
    leave(now() - navAt < 5e3 ? 'navigation' : 'close');
    L.flush(1);
  });
  w.addEventListener('pageshow', (e) => e.persisted && arrive('back_forward'));
  // Idle past the threshold: the session ends with "timeout" (sent as a system event, which
  // does not start a new session).
  var active = now(), idle = 0;
  ['pointerdown', 'keydown', 'scroll', 'touchstart'].forEach((t) => w.addEventListener(t, () => { active = now(); idle = 0; }, { capture: true, passive: true }));
  setInterval(() => {
    if (!idle && now() - active >= T.idle_timeout_s * 1e3) {
      idle = 1;
      send('page_exit', null, null, { reason: 'timeout' }, 'system');
    }
  }, 3e4);
  var p = performance.getEntriesByType && performance.getEntriesByType('navigation')[0];
  arrive(p ? p.type : 'navigate');
})(window, document, window.leadtrail);
