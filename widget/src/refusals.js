// Every refusal a visitor can see, in one table (docs/WIDGET.md, "What a refused visitor
// reads"): an upgrade refused (/ws/check), a notice before the server closes, an error
// answering hello or join. Each gets a plain sentence in the visitor's language (the texts of
// the on-demand part) and a next step. Refused sends are rare.js's. Part of the on-demand
// script (extra.js); until it is here, the core shows the server's words (halt, connection.js).

import { load, save } from "./storage.js";
import { backoff } from "./util.js";

/** Code -> text key (lang/*.json, "extra"). */
export const REFUSAL_TEXTS = {
  unknown_site: "notHere",
  origin_required: "notHere",
  origin_not_allowed: "notHere",
  site_disabled: "siteOff",
  banned: "banned",
  protocol_violation: "broken",
  unsupported_version: "reload",
  invalid_token: "badGuestToken",
  session_expired: "sessionExpired",
  invalid_nick: "nickInvalid",
  nick_taken: "nickTaken",
  nick_reserved: "nickReserved",
  nick_in_use: "nickInUse",
  guests_not_allowed: "signInOnSite",
  verification_required: "signInOnSite",
  room_forbidden: "roomForbidden",
  room_not_found: "roomMissing",
  invalid_room: "roomMissing",
  too_many_rooms: "roomsFull",
  rate_limited: "busyWait",
  storage_unavailable: "trouble",
  internal: "trouble",
};

/** Send errors that fail the message, with the reason shown under it ("Not sent: ..."); any
 * other says that something went wrong. (Those retried or held: rare.js, codes.js.) */
export const SEND_TEXTS = { message_blocked: "blocked", message_too_long: "tooLongSent", room_locked: "locked" };

/** Refusals that may end without the visitor doing anything (a moderator lifts the ban or it
 * runs out, the site is turned on again): the widget looks again now and then. */
export const WAITS = ["banned", "site_disabled"];

/** The sentence for a refusal, as [text key, values] parts. `info` is the /ws/check answer,
 * the notice or the error frame; `host`: the visitor was signed in by the host site. */
export const refusalText = (code, info, lang, host) => {
  if (code === "invalid_token" && host) return [["hostSignIn"]];
  if (code === "banned") {
    const parts = [info.until ? ["bannedUntil", { time: new Date(info.until).toLocaleString(lang, { dateStyle: "medium", timeStyle: "short" }) }] : ["banned"]];
    if (info.reason) parts.push(["reasonIs", { reason: info.reason }]);
    return parts;
  }
  const wait = Math.max(1, Math.ceil((info.retry_after_ms || 0) / 1000));
  return [[REFUSAL_TEXTS[code] || "oops", { name: info.nick, s: wait }]];
};

/** When to look again after a refusal that may end: 15 s doubling to 10 minutes (with jitter),
 * or when a shorter ban ends. */
export const recheckIn = (n, until, now) => {
  const later = Math.min(6e5, 15e3 * 2 ** n) * (1 + Math.random() * 0.3);
  return until ? Math.max(1e3, Math.min(later, until - now + 1e3)) : later;
};

export const refusalMethods = {
  /** A refusal that stopped the chat (halt): the sentence, and another look later if it may end. */
  refused(code, info) {
    this.showNotice(this.sentence(code, info));
    if (!WAITS.includes(code)) return;
    const n = this.waits | 0;
    this.waits = n + 1;
    clearTimeout(this.wake);
    this.wake = setTimeout(() => this.recheck(), recheckIn(n, info.until, Date.now()));
  },

  sentence(code, info) {
    return refusalText(code, { nick: this.nick, ...info }, this.lang, !!this.userToken)
      .map(([key, vars]) => this.T(key, vars))
      .join(" ");
  },

  /** Asks the server whether the chat is open again (an address ban or a disabled site show
   * there; a ban on the participant shows on connecting, and halts again). */
  recheck() {
    this.check().then((refusal) => refusal || this.resume());
  },

  /** The chat is open again: back to where the visitor was. */
  resume() {
    clearTimeout(this.wake);
    this.stopped = false;
    this.showNotice("");
    this.renderEmpty();
    if (!this.identity() && !this.nickChosen) return this.askIdentity();
    this.showForm("composer");
    this.connect();
  },

  /** An error answering hello or join: the sentence, and what the visitor can do. */
  refusedFrame(f) {
    this.showNotice(this.sentence(f.code, f));
    switch (f.code) {
      case "invalid_token":
        // The host's token: never fall back to a guest identity.
        if (this.userToken) {
          this.showForm(null);
          return this.stop();
        }
        // Never loop on a bad token: forget it and ask for a nickname (the socket stays open).
        if (load(this.key + "guest").token === this.token) save(this.key + "guest", { nick: this.nick });
        this.token = null;
        return this.askIdentity(true);
      case "session_expired":
        this.forgetAccount();
        return this.askIdentity(true, "login");
      case "invalid_nick":
      case "nick_taken":
      case "nick_reserved":
      case "nick_in_use":
        this.nickChosen = false;
        this.askIdentity(true, "nick");
        // A free name like it, ready to take or change.
        if (f.suggestion) this.forms.nick.elements.nick.value = f.suggestion;
        return;
      case "guests_not_allowed":
      case "verification_required":
        // Guests may not chat here: sign in, or chat from the site's own sign-in.
        this.nickChosen = false;
        this.token = null;
        this.policy.guests = false;
        if (this.policy.sign_in) {
          this.showNotice("");
          return this.askIdentity(true, "login");
        }
        return this.stop();
      case "unsupported_version":
        return this.halt(f.code, f);
      case "rate_limited":
        // Too many new guests from this address (or rooms joined): again once allowed.
        clearTimeout(this.retry);
        this.retry = setTimeout(() => (f.ref === "join" ? this.sendJoin() : this.hello()), f.retry_after_ms || 1e3);
        return;
      case "storage_unavailable":
      case "internal":
        // Server trouble: a new connection, with backoff.
        clearTimeout(this.retry);
        this.retry = setTimeout(() => this.reconnect(), backoff(this.attempt++));
        return;
      // Room refusals: the connection stays, for another room.
    }
  },
};
