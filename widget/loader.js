/*! chatctl widget loader. This file is what pages embed:
 *   <script src="https://chat.example.com/widget.js" data-site="pk_..." async></script>
 * It stays tiny and is cached for minutes; it loads the widget script and a language pack
 * from URLs that carry the version (cached for a year), so an upgrade reaches every page soon.
 */
(function (d, w) {
  "use strict";
  var s = d.currentScript;
  if (!s || !s.dataset.site) return console.error("chatctl: the widget's <script> tag needs data-site");
  var C = (w.Chatctl = w.Chatctl || { q: [], packs: {}, calls: [] });
  // Calls made before the widget script arrives are replayed once it has started.
  ["open", "close", "toggle", "identify", "join", "on"].forEach(function (m) {
    C[m] = C[m] || function () { C.calls.push([m, arguments]); };
  });
  var base = new URL("widget/__CHATCTL_VERSION__", s.src).href;
  var langs = __CHATCTL_LANGS__; // the languages with a pack (src/lang.rs)
  var pick = function (tag) {
    tag = String(tag || "").slice(0, 2).toLowerCase();
    return langs.indexOf(tag) < 0 ? "" : tag;
  };
  // data-lang, then the page's <html lang>, then the browser's preferences.
  var lang = pick(s.dataset.lang) || pick(d.documentElement.lang) ||
    (navigator.languages || [navigator.language]).map(pick).filter(Boolean)[0] || "en";
  if (!C.packs[lang]) {
    C.packs[lang] = fetch(base + "/" + lang + ".json", { credentials: "omit" }).then(function (r) {
      if (!r.ok) throw new Error(r.status);
      return r.json();
    });
  }
  s.setAttribute("data-chatctl-lang", lang);
  C.q.push(s);
  if (C.boot) return C.boot();
  if (C.loading) return;
  C.loading = 1;
  var e = d.createElement("script");
  // Pages that enforce Trusted Types take a script's URL only from a policy: ours, "chatctl"
  // (README, "Trusted Types"), passes this server's widget files and nothing else.
  var tt = w.trustedTypes;
  try {
    C.tt = C.tt || (tt && tt.createPolicy("chatctl", { createScriptURL: function (u) {
      if (u.indexOf(base) === 0) return u;
      throw new TypeError("chatctl: not a widget file: " + u);
    } }));
  } catch (x) {
    // The page's `trusted-types` directive does not name chatctl: fine unless it enforces them.
  }
  try {
    e.src = C.tt ? C.tt.createScriptURL(base + ".js") : base + ".js";
  } catch (x) {
    return console.error("chatctl: this page enforces Trusted Types: add chatctl to its trusted-types directive");
  }
  e.async = true;
  (d.head || d.documentElement).appendChild(e);
})(document, window);
