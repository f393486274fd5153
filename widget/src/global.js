// What the widget shares with the page: window.Chatctl, made by the loader (widget/loader.js),
// which queues the <script> tags and the calls made before this script arrived.

export const W = window;
export const C = (W.Chatctl = W.Chatctl || { q: [], packs: {}, calls: [] });
// This script's own URL (known only while it first runs): where this version's other files are
// (the English pack, when another language's cannot load; the on-demand part: lazy.js).
const SELF = document.currentScript ? document.currentScript.src : "";
/** A file of this version, next to this script: /widget/<version>/<file>. */
export const here = (file) => SELF.replace(new RegExp("\\.js$"), `/${file}`);
