// Pure helpers: no DOM, no storage, no network (widget/test/util.test.js).

/** Length in characters (code points), as the server counts. */
export const chars = (s) => [...s].length;

/** A fresh client message id. */
export const newCid = () => {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
};

/** Reconnect delay in ms: 1 s doubling to 30 s, each drawn at random from half to one and a
 * half times that ("equal jitter", as in the AWS Architecture Blog's "Exponential Backoff And
 * Jitter"). After a server restart a whole room reconnects: the first attempts spread over a
 * second instead of arriving in the same few milliseconds. */
export const backoff = (n) => Math.min(30000, 1000 * 2 ** n) * (0.5 + Math.random());

/** The text key of a participant's kind (`system`: the site itself, through its API); anything unknown is shown as a guest, never as more. */
export const kind = (w) => (["verified", "member", "system"].includes(w.kind) ? w.kind : "guest");

/** An avatar's hue for a participant id: golden-angle steps, so that any eight ids in a row
 * (people who arrived about together) are at least 32 degrees apart. */
export const hue = (id) => (id * 137.508) % 360 | 0;

/** The ids among `people` ({id, nick, look}) whose names look alike: the same `look` (the
 * server's key of the name: case, width, accents and look-alike letters folded), or the same
 * name in lower case when the server sent none. */
export const twins = (people) => {
  const first = new Map();
  const out = new Set();
  for (const p of people) {
    const k = p.look || p.nick.toLowerCase();
    const id = first.get(k);
    if (id == null) first.set(k, p.id);
    else if (id !== p.id) out.add(id).add(p.id);
  }
  return out;
};

/** FNV-1a: a small stable hash for shortened room names. */
export const hash = (s) => {
  let x = 2166136261;
  for (let i = 0; i < s.length; i++) x = Math.imul(x ^ s.charCodeAt(i), 16777619);
  return x >>> 0;
};

/** The URL if it is http(s), else null: nothing else becomes a link or an image. */
export const http = (u) => {
  try {
    const url = new URL(u);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch (e) {
    return null;
  }
};

/** A text with its `{name}` placeholders filled from `vars`; unknown ones stay. */
export const format = (s, vars) =>
  vars ? s.replace(new RegExp("\\{(\\w+)\\}", "g"), (m, k) => (vars[k] != null ? vars[k] : m)) : s;

/** A room name for a page path, made valid (PROTOCOL.md §5), or `lobby`. */
export const roomFor = (pathname) => {
  const path = pathname.replace(new RegExp("[^A-Za-z0-9\\-_.:/]", "g"), "-").replace(new RegExp("/+$"), "");
  if (!path) return "lobby";
  return path.length <= 64 ? path : path.slice(0, 56) + "-" + hash(path).toString(36).slice(0, 7);
};

const URLS = new RegExp("\\bhttps?://[^\\s<>\"']+", "gi");
const TRAILING = new RegExp("[.,;:!?)\\]}]+$");

/** Message text cut into strings and links ({text, href}): http(s) URLs without trailing punctuation. */
export const links = (text) => {
  const parts = [];
  let at = 0;
  for (const m of text.matchAll(URLS)) {
    const raw = m[0].replace(TRAILING, "");
    const href = http(raw);
    if (!href) continue;
    parts.push(text.slice(at, m.index), { text: raw, href });
    at = m.index + raw.length;
  }
  parts.push(text.slice(at));
  return parts;
};

/** Up to two initials of a nickname, for an avatar without a picture. */
export const initials = (nick) =>
  (nick || "?").split(new RegExp("\\s+")).filter(Boolean).slice(0, 2).map((w) => [...w][0]).join("").toUpperCase();

/** White or near-black text on an [r, g, b] background, whichever reads better (WCAG luminance). */
export const textOn = (rgb) => {
  const lum = rgb.map((v) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
  const l = 0.2126 * lum[0] + 0.7152 * lum[1] + 0.0722 * lum[2];
  return 1.05 / (l + 0.05) >= (l + 0.05) / 0.05 ? "#fff" : "#111";
};

/** Whether a message is over the server's limits: too many characters, or a frame too large. */
export const tooLong = (frame, limits) =>
  !!limits &&
  (chars(frame.text) > limits.max_message_chars ||
    new TextEncoder().encode(JSON.stringify(frame)).length > limits.max_frame_bytes);
