/*! leadtrail experiments module | docs/experiments.md */
// Assigns visitors to the site's active experiments synchronously, from the configuration the
// site script carries (leadtrail._cfg.experiments): no request, so no flicker when the site
// script is loaded in <head>. The hash and the bucket rules are the server's
// (src/leadtrail/experiments/assignment.py); tests check that both give the same variant.
// Exposures go out as ordinary tracker events (system/experiment_exposure) in the tracker's
// own batches, once per test and session.
((w) => {
  var L = w.leadtrail, cfg = (L && L._cfg && L._cfg.experiments) || { tests: [] };
  if (L && L._xp) {  // loaded again (core.js loads the site script after the first view)
    L._xp.cfg = cfg;
    L._xp.flush();
    return;
  }
  var LS, SS, PRE = 'leadtrail_';
  try { LS = localStorage; SS = sessionStorage; } catch (e) { /* blocked */ }
  var get = (s, k) => { try { return s.getItem(k); } catch (e) { return null; } };
  var put = (s, k, v) => { try { s.setItem(k, v); } catch (e) { /* full */ } };

  // 32-bit FNV-1a over UTF-8, then Murmur3's fmix32: assignment.py's hash32.
  var hash = (s) => {
    var h = 2166136261, b;
    for (b of new TextEncoder().encode(s)) h = Math.imul(h ^ b, 16777619) >>> 0;
    h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b) >>> 0;
    h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35) >>> 0;
    return (h ^ (h >>> 16)) >>> 0;
  };

  // The visitor: core.js's fingerprint. Before core.js has run (site script in <head>) it is
  // computed here the same way and stored, and core.js then uses the stored value.
  var returning = get(SS, PRE + 'xret');
  var unit = () => {
    var fp = get(LS, PRE + 'fp'), c, x, img = '', a = 2166136261, b = 3335851081, k;
    // new or returning: was this browser seen in an earlier tab session?
    if (returning == null) {
      put(SS, PRE + 'xret', returning = get(LS, PRE + 'xseen') ? '1' : '0');
      put(LS, PRE + 'xseen', '1');
    }
    if (fp) return fp;
    c = document.createElement('canvas');
    try {
      x = c.getContext('2d');
      x.font = '14px Arial';
      x.fillText('leadtrail, \u00e7a\u011f \ud83d\udcde', 2, 15);
      img = c.toDataURL();
    } catch (e) { /* no canvas */ }
    for (k of [img, navigator.userAgent, screen.width, screen.height, screen.colorDepth,
      Intl.DateTimeFormat().resolvedOptions().timeZone, navigator.language].join('|')) {
      k = k.charCodeAt();
      a = Math.imul(a ^ k, 16777619);
      b = Math.imul(b ^ k, 1540483477);
    }
    fp = (a >>> 0).toString(36) + (b >>> 0).toString(36);
    put(LS, PRE + 'fp', fp);
    return fp;
  };

  var device = () => {
    var ua = navigator.userAgent;
    return /iPad|Tablet|Android(?!.*Mobile)/i.test(ua) ? 'tablet' : /Mobi|iPhone|Android/i.test(ua) ? 'mobile' : 'desktop';
  };
  // The session's channel, decided on its first page (attribution/channels.py, simplified to
  // what a browser can see) and kept for the session.
  var channel = () => {
    var ch = get(SS, PRE + 'xch'), q = new URLSearchParams(location.search), m = (q.get('utm_medium') || '').toLowerCase(), r = '';
    if (ch) return ch;
    try { r = document.referrer ? new URL(document.referrer).hostname : ''; } catch (e) { /* bad referrer */ }
    if (r == location.hostname) r = '';
    ch = q.get('fbclid') || (/^(paid_?social|paidsocial)$/.test(m)) ? 'paid_social'
      : ['gclid', 'wbraid', 'gbraid', 'msclkid'].some((k) => q.get(k)) || /^(cpc|ppc|paid|paid_?search|cpm|cpv|display)$/.test(m) ? 'paid_search'
        : m == 'email' ? 'email'
          : /(^|\.)(google|bing|duckduckgo|yahoo|yandex|baidu|ecosia)\./.test(r) || m == 'organic' ? 'organic_search'
            : /(^|\.)(facebook|instagram|linkedin|twitter|x|t|pinterest|reddit|tiktok|youtube)\.(com|co)$/.test(r) || m == 'social' ? 'organic_social'
              : r || q.get('utm_source') ? 'referral' : 'direct';
    put(SS, PRE + 'xch', ch);
    return ch;
  };
  var glob = (p, s) => new RegExp('^' + p.split('*').map((x) => x.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$').test(s);
  var eligible = (g) => {
    var v = g.visitors || 'all';
    return !(g.pages && g.pages.length && !g.pages.some((p) => glob(p, location.pathname)))
      && !(g.devices && g.devices.length && g.devices.indexOf(device()) < 0)
      && !(g.channels && g.channels.length && g.channels.indexOf(channel()) < 0)
      && (v == 'all' || (returning == '1') == (v == 'returning'));
  };

  var X = { cfg, pending: [], sent: {} };
  var find = (key) => X.cfg.tests.find((t) => t.k == key);
  // Once per test and session: a session-keyed record in sessionStorage.
  X.flush = () => {
    var me = w.leadtrail, sid = me && me.sessionId && me.sessionId(), rec;
    if (!sid || !me._t) return;
    try { rec = JSON.parse(get(SS, PRE + 'xps')); } catch (e) { /* none */ }
    if (!rec || rec.s != sid) rec = { s: sid, k: [] };
    X.pending.splice(0).forEach((e) => {
      if (rec.k.indexOf(e[0]) >= 0) return;
      rec.k.push(e[0]);
      me._t('system', 'experiment_exposure', e[0], null, { xv: e[1], xu: e[2] });
    });
    put(SS, PRE + 'xps', JSON.stringify(rec));
  };
  var variant = (key) => {
    var t = find(key), u, h, i, v;
    if (!t) return null;
    if (get(LS, PRE + 'optout') == '1') return t.v[0];  // opted out: the control, nothing recorded
    u = unit();
    if (!eligible(t.g || {}) || hash(key + ':in:' + u) % 1e4 >= Math.round(t.t * 1e4)) return null;
    h = hash(key + ':' + u) % 1e4;
    for (i = 0; i < t.b.length; i++) if (h < t.b[i]) break;
    v = t.v[Math.min(i, t.v.length - 1)];
    if (!X.sent[key]) {
      X.sent[key] = 1;
      X.pending.push([key, v, u]);
      setTimeout(X.flush, 0);
    }
    return v;
  };
  var payload = (key) => {
    var t = find(key), v = t && variant(key);
    return v && t.p ? t.p[v] || null : null;
  };
  var install = (o) => Object.assign(o, { variant, variantPayload: payload, _xp: X });

  if (L && L._initialized) {
    install(L);
    return;
  }
  // Before core.js: keep the functions when core.js replaces window.leadtrail with its API.
  L = install(L || {});
  var cur = L;
  Object.defineProperty(w, 'leadtrail', {
    configurable: true,
    get: () => cur,
    set: (api) => {
      cur = api && typeof api == 'object' ? install(Object.assign(api, { _cfg: cur._cfg })) : api;
      Object.defineProperty(w, 'leadtrail', { value: cur, writable: true, configurable: true });
      setTimeout(X.flush, 0);  // after core.js's first view has started the session
    },
  });
})(window);
