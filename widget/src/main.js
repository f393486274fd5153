/*! chatctl widget, protocol v1 (docs/PROTOCOL.md). Plain ES2020, no dependencies, no
 * third-party requests. Started by the loader (widget/loader.js, served as /widget.js), which
 * queues the <script> tags in window.Chatctl.q and fetches the language packs.
 * Options are the tags' data attributes; the README lists them.
 *
 * The server serves this file and the ones it imports joined into one script, each file once,
 * after the files it imports (src/http/bundle.rs); docs/WIDGET.md shows the layout.
 */

import { C, here } from "./global.js";
import { handlers } from "./events.js";
import { Widget } from "./widget.js";

const widgets = (C.widgets = C.widgets || []);
// The tags started, by their attributes: a tag the page runs again (a framework re-rendering
// it, a router re-running the page's scripts) is a widget it already has.
const started = new Set();
let starting = [];
/** Runs `m` on every widget, once the ones being started exist. */
const all = (m) => (...args) => Promise.all(starting).then(() => widgets.forEach((w) => w[m](...args)));
const replay = C.calls || [];
Object.assign(C, {
  open: all("open"),
  close: all("close"),
  toggle: all("toggle"),
  identify: all("identify"),
  join: all("join"),
  on: (event, cb) => {
    (handlers[event] = handlers[event] || []).push(cb);
  },
  calls: [],
});
// Handlers first: the widgets about to start may emit events at once.
replay.filter((c) => c[0] === "on").forEach((c) => C.on(...c[1]));

/** The language pack the loader is fetching, or English when it cannot load. */
const pack = (lang) => {
  const english = () =>
    (C.packs.en = C.packs.en || fetch(here("en.json"), { credentials: "omit" }).then((r) => r.json()));
  return (C.packs[lang] || english()).catch(() => (lang === "en" ? {} : english().catch(() => ({}))));
};

/** Starts a widget for each tag the loader queued; the loader calls it again for later tags. */
C.boot = () => {
  const tags = (C.q || []).splice(0).filter((s) => {
    const key = JSON.stringify({ ...s.dataset });
    return !started.has(key) && started.add(key);
  });
  const made = tags.map((s) =>
    pack(s.getAttribute("data-chatctl-lang")).then((texts) => {
      if (document.readyState === "loading") {
        return new Promise((res) => document.addEventListener("DOMContentLoaded", res, { once: true })).then(() => texts);
      }
      return texts;
    }).then((texts) => {
      widgets.push(new Widget(s, texts));
    }).catch((e) => console.error("chatctl: the widget could not start", e)),
  );
  starting = starting.concat(made);
  return Promise.all(made);
};
C.boot().then(() => replay.filter((c) => c[0] !== "on").forEach((c) => C[c[0]](...c[1])));
