// The codes the widget acts on, in one table: close codes, `error` and `notice` codes, and
// the texts (keys of lang/*.json) it shows for them. docs/PROTOCOL.md defines every code.

export const PING_MS = 25000;
export const TYPING_EVERY_MS = 3000; // resend typing=true at most this often
export const TYPING_IDLE_MS = 5000; // then typing=false after this long without input
export const TYPING_EXPIRE_MS = 7000; // drop others' indicators not refreshed for this long

/** Close codes after which reconnecting cannot help, with the `notice` code sent before each. */
export const STOPS = { 4003: "banned", 4004: "site_disabled", 4010: "protocol_violation" };

/** Upgrade refusals that retrying cannot fix (see /ws/check). */
export const REFUSALS = ["unknown_site", "site_disabled", "origin_required", "origin_not_allowed", "banned"];

/** Account frames: sent before any identity, and the `ref` of their errors. */
export const ACCOUNT_FRAMES = ["register", "login", "resend_verification", "forgot_password"];

/** Send errors retried with the same cid after the server's delay, and the countdown's text. */
export const SEND_WAITS = { rate_limited: "tooFast", slow_mode: "slowMode" };

/** Send errors retried with backoff: nothing was stored. */
export const SEND_RETRIES = ["storage_unavailable", "internal"];
