// What the widget shares with the page: window.Chatctl, made by the loader (widget/loader.js),
// which queues the <script> tags and the calls made before this script arrived.

export const W = window;
export const C = (W.Chatctl = W.Chatctl || { q: [], packs: {}, calls: [] });
// This script's own URL (known only while it first runs): the English pack's, when another
// language's pack cannot load.
export const SELF = document.currentScript ? document.currentScript.src : "";
