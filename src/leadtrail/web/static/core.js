/*! leadtrail tracker | docs/tracker.md */
// Plain JavaScript for current browsers: no dependencies, no build step. leadtrail serves it
// minified and gzipped; tests/unit/test_tracker_size.py keeps that under 5 KB. Names stay
// short because the minifier does not rename them.
((w, d) => {
  var me = d.currentScript || d.querySelector('script[data-site-id]');
  var site = me && me.getAttribute('data-site-id');
  if (!site || (w.leadtrail || w.opmantik || {})._initialized) return;  // pasted twice, or the seed's

  var loc = location, nav = navigator, con = console, now = () => Date.now();
  var IDLE = 18e5, MAX = 6e4, PRE = 'leadtrail_', WARN = PRE + 'ignored';
  var KS = PRE + 'session', KF = PRE + 'fp', KB = PRE + 'outbox', KO = PRE + 'optout';
  var UUID = /^[\da-f]{8}-[\da-f]{4}-4[\da-f]{3}-[89ab][\da-f]{3}-[\da-f]{12}$/;
  var IDS = ['gclid', 'wbraid', 'gbraid', 'fbclid', 'msclkid'];
  var UTM = ['source', 'medium', 'campaign', 'term', 'content'];
  var ACT = 'a[href],button,input,select,textarea,[role=button]';
  // The server's length limits for identify and lead fields (others: 200).
  var cut = (k, v) => String(v).trim().slice(0, { email: 254, phone: 40, message: 5e3, form_type: 100 }[k] || 200);
  var attr = n => me.getAttribute(n);
  // API base: data-api, else where this script came from (…/assets/core.js or …/ux-core.js).
  var base = (attr('data-api') ||
    (/^(.*)\/(assets\/core|ux-core)\.js([?#].*)?$/.exec(me.src) || [0, new URL(me.src || '/', loc.href).origin])[1]
  ).replace(/\/+$/, '');
  var dnt = attr('data-respect-dnt');
  dnt = dnt != null && dnt != 'false' && (nav.doNotTrack == 1 || w.doNotTrack == 1 || nav.globalPrivacyControl);

  // Storage may be missing, blocked (throws) or full: every access is guarded.
  var LS, SS;
  try { LS = localStorage; SS = sessionStorage; } catch { /* blocked */ }
  var get = (s, k) => { try { return s.getItem(k); } catch { /* blocked */ } };
  var put = (s, k, v) => { try { v == null ? s.removeItem(k) : s.setItem(k, v); } catch { /* full */ } };
  var json = (s, k) => { try { return JSON.parse(s.getItem(k)); } catch { /* none */ } };
  var str = JSON.stringify, each = (a, f) => a.forEach(f);
  var off = () => dnt || get(LS, KO) == '1';
  var blen = s => new Blob([s]).size;
  // UUID v4: 122 random bits, the version nibble 4 and the variant 8-b.
  var uuid = b => (b = crypto.getRandomValues(new Uint8Array(16)), [...b].map(x => (x | 256).toString(16).slice(1)).join('')
    .replace(/(.{8})(.{4}).(.{3}).(.{3})/, '$1-$2-4$3-' + '89ab'[b[8] & 3] + '$4-'));
  var eid = () => uuid().replace(/-/g, '');
  var tz = () => Intl.DateTimeFormat().resolvedOptions().timeZone;

  // Two 32-bit FNV-style lanes with different multipliers: a stable 64-bit id, not a secret.
  var FP, fp = () => {
    var c = d.createElement('canvas'), x, img = '', a = 2166136261, b = 3335851081, k;
    if (FP = FP || get(LS, KF)) return FP;
    try {
      x = c.getContext('2d');
      x.font = '14px Arial';
      x.fillText('leadtrail, \u00e7a\u011f \ud83d\udcde', 2, 15);
      img = c.toDataURL();
    } catch { /* no canvas */ }
    for (k of [img, nav.userAgent, screen.width, screen.height, screen.colorDepth, tz(), nav.language].join('|')) {
      k = k.charCodeAt();
      a = Math.imul(a ^ k, 16777619);
      b = Math.imul(b ^ k, 1540483477);
    }
    put(LS, KF, FP = (a >>> 0).toString(36) + (b >>> 0).toString(36));
    return FP;
  };

  // Click ids and utm_* in the contract's meta shape: {gclid, …, utm: {source, …}}.
  var pick = f => {
    var c = {}, u = {}, n;
    each(IDS, k => { var v = f(k); if (v) c[k] = String(v).slice(0, 200); });
    each(UTM, k => { var v = f('utm_' + k); if (v) n = u[k] = String(v).slice(0, 200); });
    if (n) c.utm = u;
    return c;
  };
  var lands = q => (q = new URLSearchParams(loc.search), pick(k => q.get(k)));

  // ---- session: UUID v4 per tab, renewed after 30 min without activity ----
  var S = json(SS, KS), sv = 0, ended = 0;
  if (!UUID.test(S?.id)) S = null;
  var save = () => { sv = now(); put(SS, KS, S && str(S)); };
  var touch = (t, view) => {
    if (!S || t - S.last >= IDLE) {
      S = { id: uuid(), start: t, last: t, c: lands() };
      ended = sv = 0;
      if (view) track('acquisition', 'view', d.title);
    }
    S.last = t;
    if (t - sv > 5e3) save();
  };
  // Seed (opmantik) keys: sess_* ids become UUID v4; fingerprint and click context are kept.
  ((sid, ofp, ctx, o) => {
    if (ofp && !get(LS, KF)) put(LS, KF, ofp.slice(0, 128));
    if (sid && !S) {
      try { o = JSON.parse(ctx); } catch { /* a bare gclid */ }
      if (!o || typeof o != 'object') o = ctx ? { gclid: ctx } : {};
      S = { id: UUID.test(sid) ? sid : uuid(), start: now(), last: now(),
        c: pick(k => o[k]) };
      save();
    }
    put(SS, 'opmantik_session_sid');
    put(SS, 'opmantik_session_context');
    put(LS, 'opmantik_session_fp');
  })(get(SS, 'opmantik_session_sid'), get(LS, 'opmantik_session_fp'), get(SS, 'opmantik_session_context'));
  // A landing URL with other click ids or UTM than the session's starts a new session.
  var land = lands();
  if (Object.keys(land).length && str(land) != str(S?.c)) S = null;

  // ---- queue, outbox and delivery (design note in docs/tracker.md) ----
  var Q = [], tm = 0, fly = {}, kab = 0, gone, ref = d.referrer;
  var box = b => (b = json(LS, KB))?.q ? b : { q: [], n: 0, at: 0 };
  var keep = b => put(LS, KB, b.q[0] && str(b));
  var later = ms => { tm = tm || setTimeout(flush, ms); };
  var enq = (p, b) => Q.push({ k: b.eid || eid(), p, b, t: now() });

  var track = (c, a, l, v, m, u) => {
    var t = now(), e;
    if (off()) return;
    if (c != 'system') touch(t, a != 'view');
    else if (!S) return;
    e = { s: site, u: (u || loc.href).slice(0, 2e3), sid: S.id, ec: c, ea: a, eid: eid(), ts: t, meta: { ...m, fp: fp(), ...S.c, device_info: {
      screen: screen.width + 'x' + screen.height, viewport: w.innerWidth + 'x' + w.innerHeight,
      tz: tz(), lang: nav.language, dpr: w.devicePixelRatio } } };
    if (l || l === 0) e.el = String(l).slice(0, 500);
    if (isFinite(v) && v !== null && v !== '') e.ev = +v;
    if (ref) e.r = ref.slice(0, 2e3);
    enq('/api/sync', e);
    Q.length > 9 || c == 'conversion' ? flush() : later(2e3);
  };

  // Fresh events and due retries go out in ≤ 60 KB, ≤ 100-event bodies. Every item stays in
  // the localStorage outbox until the server answers; a beacon gets no answer, so beaconed
  // items are sent again (same eid, stored once) by the next page.
  var flush = bc => {
    var t = now(), b = box(), fr = Q.splice(0), bt = [], size, n;
    var send = () => {
      if (bt.length) post('/api/sync', { batch: bt.map(i => i.b) }, bt.map(i => i.k), bc);
      bt = [];
      size = 12;
    };
    tm = clearTimeout(tm);
    b.q = b.q.concat(fr).filter(i => t - i.t < 864e5).slice(-500);
    keep(b);
    send();
    each(t < b.at ? fr : b.q, i => {
      if (fly[i.k]) return;
      // identify and leads carry the session's token; the session's own wait until it comes
      if (i.p != '/api/sync') return i.b.sid != S?.id || (i.b.k = S.k) ? post(i.p, i.b, [i.k], bc) : 0;
      n = blen(str(i.b)) + 1;
      if (size + n > MAX || bt.length > 99) send();
      bt.push(i);
      size += n;
    });
    send();
    if (b.q.length && t < b.at) later(b.at - t);
  };
  var post = (path, obj, keys, bc) => {
    var url = base + path, body = str(obj), n = blen(body), ka = kab + n < MAX;
    var done = r => {
      var b = box(), wait;
      if (r !== 1 && gone) return;  // cut off by the page's unload: the next page sends it
      if (ka) kab -= n;
      each(keys, k => delete fly[k]);
      if (r == 1) {
        b.q = b.q.filter(i => keys.indexOf(i.k) < 0);
        b.n = b.at = 0;
      } else {
        b.n = Math.min(b.n + 1, 9);
        wait = 1e3 * Math.max(Math.min(2 ** b.n, 300), r.headers?.get('retry-after') | 0);
        b.at = now() + wait;
        later(wait);
      }
      keep(b);
    };
    // A beaconed item stays "in flight" for the rest of this page: the next page re-sends it.
    each(keys, k => fly[k] = 1);
    if ((bc || !w.fetch) && nav.sendBeacon) {
      try { if (nav.sendBeacon(url, body)) return; } catch { /* fall back to fetch */ }
    }
    if (!w.fetch) return;
    // Browsers allow 64 KB of keepalive bodies in flight; past that, plain fetch.
    if (ka) kab += n;
    // The body is read to the end: Chromium releases a keepalive request's quota only then.
    fetch(url, { method: 'POST', body, keepalive: ka, credentials: 'omit' }).then(r => r.text().then(x => {
      if (/^(408|429|5)/.test(r.status)) throw r;
      if (r.status > 399) con.warn(WARN, path, r.status);
      done(1);
      // k: the server's token for a session this browser made ("<sid>.…", docs/security.md);
      // identify and lead calls waiting for it go now
      if ((x = /"k":"(.*)"/.exec(x)?.[1])?.startsWith(S?.id)) S.k = x, flush();
    })).catch(done);
  };

  // ---- automatic events ----
  var page = loc.href.split('#')[0], depth = {}, forms = new Map(), seen = new WeakSet();
  var hov, hovt, taps = [], errs = 0, vms = 0, vat = now();

  var desc = (t, i, n) => {
    if (!(i = t.closest?.(ACT))) return t.tagName;
    n = i.tagName.toLowerCase();
    if (n == 'a') return i.href;
    if (n != 'button' && !/^(submit|button|reset)$/.test(i.type)) return n + ':' + (i.getAttribute('name') || i.id || i.type);
    return (i.getAttribute('aria-label') || i.innerText || i.value || i.id || n).trim().replace(/\s+/g, ' ').slice(0, 100);
  };
  var fname = f => f.getAttribute('id') || f.getAttribute('name') || f.getAttribute('action') || 'form';

  var onClick = e => {
    var t = e.target, n = now(), a = t.closest?.('a[href]'), h, x = e.clientX, y = e.clientY;
    if (e.detail) {  // a mouse or touch click, not the keyboard
      taps = taps.filter(c => n - c[2] < 1e3 && Math.hypot(c[0] - x, c[1] - y) <= 30);
      if (taps.push([x, y, n]) > 2) {
        track('interaction', 'rage_click', desc(t), taps.length);
        taps = [];
      }
    }
    if (!a) return;
    h = a.href;
    if (a.protocol == 'tel:') track('conversion', 'phone_call', a.getAttribute('href').trim());
    else if (a.protocol == 'whatsapp:' || /(^|\.)(wa\.me|whatsapp\.com)$/.test(a.hostname)) track('conversion', 'whatsapp', h);
    else if (a.hasAttribute('download') || /\.(pdf|zip|rar|7z|gz|dmg|exe|msi|apk|csv|xlsx?|docx?|pptx?|od[st]|txt|mp[34]|mov|epub)$/i.test(a.pathname)) track('interaction', 'download', h);
    else if (/^https?:$/.test(a.protocol) && a.hostname != loc.hostname) track('interaction', 'external_link', h);
  };
  var onInput = e => {
    var t = e.target, f = t.form, s;
    if (!f) return;
    if (!(s = forms.get(f))) forms.set(f, s = {});
    if (!s.t) {
      s.t = now();
      track('interaction', 'form_start', fname(f));
    }
    s.f = t.getAttribute('name') || t.id || t.type;
  };
  var onSubmit = e => {
    var f = e.target, s = forms.get(f) || {};
    s.d = 1;
    forms.set(f, s);
    track('conversion', 'form_submit', fname(f));
    if (f.hasAttribute('data-leadtrail-lead') && !off()) lead(f);
  };
  // Opt-in lead capture: fields recognised by type, name, id or autocomplete; never passwords.
  var lead = f => {
    var o = { s: site, sid: S.id, fp: fp(), eid: eid(), form_type: cut('form_type', f.getAttribute('data-leadtrail-lead') || fname(f)) };
    each(f.querySelectorAll('input,select,textarea'), el => {
      var v = (el.value || '').trim(), t = el.type, k = [el.getAttribute('name'), el.id, el.getAttribute('autocomplete')].join(' ').toLowerCase();
      if (!v || /^(password|hidden|file|submit|button|reset|checkbox|radio)$/.test(t)) return;
      k = t == 'email' || /mail/.test(k) ? 'email'
        : t == 'tel' || /phone|mobile|gsm|\btel\b/.test(k) ? 'phone'
          : /company|organi[sz]ation|business/.test(k) ? 'company'
            : el.tagName == 'TEXTAREA' || /message|comment|question|enquiry|inquiry|details/.test(k) ? 'message'
              : /name/.test(k) && !/user/.test(k) ? 'name' : '';
      if (k) o[k] = cut(k, k == 'name' && o.name ? o.name + ' ' + v : o[k] || v);
    });
    enq('/api/leads', o);
    flush();
  };
  var quit = u => {  // u: the page the forms were on, when an SPA has already left it
    forms.forEach((s, f) => s.t && !s.d && track('interaction', 'form_abandon', fname(f), (now() - s.t) / 1e3 | 0, { field: s.f }, u));
    forms = new Map();
  };
  var onScroll = () => {
    var h = d.documentElement.scrollHeight, p = h && (w.scrollY + w.innerHeight) / h * 100;
    each([25, 50, 75, 90], t => p >= t && !depth[t] && track('interaction', 'scroll_depth', '', depth[t] = t));
  };
  var onHover = e => {
    var t = e.type == 'mouseout' ? e.relatedTarget : e.target;
    t = t?.closest?.(ACT);
    if (t == hov) return;
    clearTimeout(hovt);
    hov = t;
    if (t && !seen.has(t)) hovt = setTimeout(() => track('interaction', 'hover_intent', desc(seen.add(t) && t)), 2e3);
  };
  var onNav = h => {
    if ((h = loc.href.split('#')[0]) == page) return;
    quit(page);
    ref = page;
    page = h;
    depth = {};
    track('interaction', 'page_view', d.title);
  };
  var oops = (m, x) => errs++ < 10 && track('system', 'js_error', m, null, x);
  // Leaving a page ends the session so far (a later page may continue it); 30 idle minutes
  // end it for good, at its last activity.
  var bye = t => {
    if (S && !ended && !off()) {
      t = now();
      ended = t - S.last >= IDLE;
      track('system', 'session_end', '', ((ended ? S.last : t) - S.start) / 1e3 | 0);
    }
  };

  var api = {
    _initialized: true,
    send: (c, a, l, v, m) => {
      var deep = o => o && typeof o == 'object' ? Math.max(0, ...Object.values(o).map(deep)) + 1 : 0;
      if (!/^(acquisition|interaction|conversion|system)$/.test(c) || !/^[\w.:-]{1,64}$/.test(a)) {
        con.warn(WARN, c, a);
        return !1;
      }
      if (m != null && (typeof m != 'object' || blen(str(m)) > 5e3 || deep(m) > 3)) {
        con.warn(WARN, m);
        m = 0;
      }
      track(c, a, l, v, m);
      return !off();
    },
    identify: p => {
      var o = { s: site, sid: S?.id }, n = 0;
      if (off() || !p || !S) return !1;
      // uh: the site's signature of id (identity verification, docs/security.md)
      each(['email', 'phone', 'id', 'uh'], k => p[k] != null && p[k] !== '' && (o[k] = cut(k, p[k]), n++));
      n && (enq('/api/identify', o), flush());
      return !!n;
    },
    optOut: () => {
      put(LS, KO, '1');
      put(LS, KB);
      put(LS, KF);
      put(SS, KS);
      Q = [];
      S = FP = null;
    },
    optIn: was => {
      was = off();
      put(LS, KO);
      if (was && !off()) track('acquisition', 'view', d.title);
    },
    flush,
    sessionId: () => S && !off() ? S.id : null,
    _t: track  // for the site's optional modules (web/site_script.py)
  };
  w.leadtrail = w.opmantik = api;
  if (dnt) return;

  var go = () => {
    var on = (t, f, o) => w.addEventListener(t, f, o), cap = { capture: 1, passive: 1 }, x = d.createElement('script');
    on('click', onClick, 1);
    on('auxclick', onClick, 1);
    on('input', onInput, 1);
    on('submit', onSubmit, 1);
    on('scroll', onScroll, { passive: 1 });
    on('mouseover', onHover, cap);
    on('mouseout', onHover, cap);
    on('popstate', () => onNav());
    on('error', e => oops(e.message, { src: e.filename, line: e.lineno, col: e.colno }));
    on('unhandledrejection', e => oops(String(e.reason?.message || e.reason), { src: 'promise' }));
    each(['pointerdown', 'keydown', 'scroll', 'touchstart'], t => on(t, () => S && !off() && touch(now(), 1), cap));
    on('pagehide', () => {
      quit();
      bye();
      save();
      flush(gone = 1);
    });
    d.addEventListener('visibilitychange', () => {
      if (d.visibilityState == 'hidden') {
        vms += vat && now() - vat;
        vat = 0;
        flush();
      } else vat = now(), gone = 0;  // shown again, maybe from the back-forward cache
    });
    each(['pushState', 'replaceState'], (m, orig) => {
      orig = history[m];
      history[m] = function (...a) {
        queueMicrotask(onNav);  // after the router's own code in this task (title, redirects)
        return orig.apply(this, a);
      };
    });
    // Heartbeat every 30 s while visible; a session idle for 30 min ends instead.
    setInterval(() => {
      if (d.visibilityState != 'visible' || !S || off()) return;
      if (now() - S.last >= IDLE) bye();
      else track('system', 'heartbeat', '', (vms + (vat && now() - vat)) / 1e3 | 0);  // seconds visible
    }, 3e4);
    track('acquisition', 'view', d.title);
    // The site's optional modules and their settings (web/site_script.py), after the first view.
    x.src = base + '/assets/site/' + site + '.js';
    d.head.append(x);
  };
  d.prerendering ? d.addEventListener('prerenderingchange', go, { once: 1 }) : go();
})(window, document);
