// Dynamic number insertion (docs/leads-and-calls.md): asks leadtrail for a tracking number
// leased to this session and shows it instead of the site's own number, in tel: links and
// in elements marked data-leadtrail-phone. No number (not a chosen source, pool exhausted):
// the page is left as it is.
(function () {
  var w = window, d = document, lt = w.leadtrail, c = lt && lt._cfg && lt._cfg.dni;
  if (!c || !lt.sessionId) return;
  var sid = lt.sessionId();
  if (!sid) return;
  var me = d.currentScript, base = me && me.src ? me.src.replace(/\/assets\/site\/[^\/?#]*([?#].*)?$/, '') : '';
  var K = 'leadtrail_dni', digits = function (s) { return String(s || '').replace(/\D/g, ''); };
  var own = digits(c.number).slice(-10);
  function swap(number, display) {
    var links = d.querySelectorAll('a[href^="tel:"], a[href^="TEL:"]');
    for (var i = 0; i < links.length; i++) {
      var a = links[i], was = digits(a.getAttribute('href'));
      if (!own || was.slice(-10) === own) {
        a.setAttribute('href', 'tel:' + number);
        a.setAttribute('data-leadtrail-dni', '1');
      }
    }
    var marked = d.querySelectorAll('[data-leadtrail-phone]');
    for (var j = 0; j < marked.length; j++) marked[j].textContent = display || number;
  }
  var held = null;
  try { held = JSON.parse(sessionStorage.getItem(K) || 'null'); } catch (e) { held = null; }
  if (held && held.sid === sid && Date.parse(held.exp) > Date.now()) swap(held.number, held.display);
  fetch(base + '/api/dni/lease', {
    method: 'POST', mode: 'cors', credentials: 'omit', keepalive: true,
    headers: { 'Content-Type': 'text/plain' },
    body: JSON.stringify({ s: c.site, sid: sid, u: location.href, r: d.referrer || null })
  }).then(function (r) { return r.ok ? r.json() : null; }).then(function (b) {
    if (!b || !b.number) return;
    try { sessionStorage.setItem(K, JSON.stringify({ sid: sid, number: b.number, display: b.display, exp: b.expires_at })); } catch (e) {}
    swap(b.number, b.display);
  }).catch(function () {});
})();
