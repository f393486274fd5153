// The on-demand part of the widget (extra.js: the account forms, reports) and its texts: loaded
// once per page, when a widget first needs it or soon after the visitor opens the chat
// (docs/WIDGET.md, "Two scripts"). Methods of Widget (widget.js).

import { W, C, here } from "./global.js";
import { h } from "./dom.js";
import { backoff } from "./util.js";

let extra = null;
/** Runs extra.js once; rejects with whether it was for another version (then retrying cannot help). */
const loadExtra = () =>
  extra ||
  (extra = new Promise((ok, fail) => {
    const s = h("script");
    // Through the loader's Trusted Types policy, on pages that enforce them (loader.js).
    s.src = C.tt ? C.tt.createScriptURL(here("extra.js")) : here("extra.js");
    s.onload = () => (C.core.loaded ? ok() : fail(!!C.core.stale));
    s.onerror = () => {
      s.remove();
      extra = null;
      fail(false);
    };
    document.head.appendChild(s);
  }));

/** The on-demand part's texts in `lang`, fetched once. */
const extraTexts = (lang) => {
  const key = `${lang}.extra`;
  return (C.packs[key] =
    C.packs[key] ||
    fetch(here(`${key}.json`), { credentials: "omit" })
      .then((r) => {
        if (!r.ok) throw new Error(r.status);
        return r.json();
      })
      .catch(() => {
        delete C.packs[key];
        throw false;
      }));
};

export const lazyMethods = {
  /** Runs `fn` once this widget has the on-demand part: at once, or after loading it. A failed
   * load says so and tries again, with backoff, until it works; what waited runs then, in order.
   * Without `fn` (a prefetch), a failure is silent and the next need tries again. */
  later(fn) {
    if (this.extra) return fn && fn();
    const waiting = (this.waiting = this.waiting || []);
    if (fn) waiting.push(fn);
    if (this.fetching) return;
    this.fetching = true;
    Promise.all([loadExtra(), extraTexts(this.lang)]).then(
      ([, texts]) => {
        Object.assign(this.pack, texts);
        this.extra = true;
        this.mountExtra();
        if (this.notice.textContent === this.T("loadFailed")) this.showNotice("");
        waiting.splice(0).forEach((f) => f());
      },
      (stale) => {
        this.fetching = false;
        if (!waiting.length) return;
        this.showNotice(this.T(stale ? "reload" : "loadFailed"));
        if (!stale) this.retryExtra = setTimeout(() => this.later(), backoff((this.extraTries = (this.extraTries | 0) + 1)));
      },
    );
  },

  /** Loads the on-demand part once the browser is idle (the chat was just opened). */
  prefetch() {
    (W.requestIdleCallback || setTimeout)(() => this.later());
  },
};
