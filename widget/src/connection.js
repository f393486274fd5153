// The connection: /ws/check, the WebSocket with ping and reconnects (backoff), and the frames
// that open a session (hello, join). Methods of Widget (widget.js).

import { PING_MS, STOPS, REFUSALS } from "./codes.js";
import { backoff } from "./util.js";
import { load, save } from "./storage.js";
import { handleFrame } from "./frames.js";

export const connectionMethods = {
  start() {
    if (this.started) return;
    this.started = true;
    // The identity is read once: each instance keeps its own across reconnects, even if
    // another tab stores a different one meanwhile.
    const g = load(this.key + "guest");
    this.token = g.token;
    this.nick = g.nick;
    this.account = load(this.key + "account").token || null;
    this.check();
    if (this.identity()) {
      this.showForm("composer"); // messages typed before `ready` are queued
      this.connect();
    } else {
      this.askIdentity();
    }
  },

  identity() {
    return this.userToken || this.account || this.token;
  },

  forgetAccount() {
    this.account = null;
    save(this.key + "account", null);
  },

  /** Asks /ws/check what the site allows (and, after a refused upgrade, why). */
  check() {
    // The origin in the query too: browsers send no Origin header on same-origin GETs.
    const url = new URL(`ws/check?site=${encodeURIComponent(this.siteKey)}&origin=${encodeURIComponent(location.origin)}`, this.src).href;
    return fetch(url, { credentials: "omit" })
      .then((r) => r.json())
      .then((body) => {
        if (body.ok) {
          this.policy = body;
          // Swap the default form for the right one, unless the visitor is already using one.
          if (!this.identity() && !this.ready && !this.nickChosen && (this.formName === "nick" || !this.formName)) this.askIdentity();
          this.renderForms();
        }
        if (!REFUSALS.includes(body.error)) return null;
        this.halt(body.error, body);
        return body.message;
      })
      .catch(() => null);
  },

  connect() {
    if (this.ws || this.stopped) return;
    this.setStatus(this.me ? "reconnecting" : "connecting");
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => {
      ws.opened = true;
      this.setStatus("online");
      this.hello();
      this.early.splice(0).forEach((f) => this.send(f));
      this.beat = setInterval(() => this.ready && this.send({ type: "ping" }), PING_MS);
    };
    ws.onmessage = (e) => {
      if (ws !== this.ws || typeof e.data !== "string") return;
      let f;
      try {
        f = JSON.parse(e.data);
      } catch (err) {
        return;
      }
      handleFrame(this, f);
    };
    ws.onclose = (e) => {
      if (ws !== this.ws) return;
      this.dropped();
      // (The notice before such a close has already halted, unless it was lost.)
      if (e.code in STOPS && !this.stopped) this.halt(STOPS[e.code], {});
      if (this.stopped) return;
      this.setStatus(this.me ? "reconnecting" : "connecting");
      const retry = () => {
        clearTimeout(this.retry);
        this.retry = setTimeout(() => this.connect(), backoff(this.attempt++));
      };
      // Browsers hide why an upgrade was refused: ask the server.
      if (ws.opened) return retry();
      this.check().then((reason) => reason || retry());
    };
  },

  /** Closes the socket on purpose (its close event is then ignored). */
  disconnect() {
    const ws = this.ws;
    this.dropped();
    if (ws) ws.close(1000);
  },

  /** What the end of a socket changes, whoever ended it. */
  dropped() {
    clearInterval(this.beat);
    this.ws = null;
    this.ready = this.joined = false;
    this.joining = null;
    clearTimeout(this.joinSoon);
    this.whoBtn.hidden = this.peopleEl.hidden = true;
    this.peopleAsked = false;
    this.clearTyping();
  },

  /** A new socket at once, e.g. for another identity. */
  reconnect() {
    this.disconnect();
    this.connect();
  },

  stop() {
    this.stopped = true;
    if (this.ws) this.ws.close(1000);
  },

  /** Retrying at once cannot help (a ban, a disabled site, a page the site does not allow):
   * the chat stops, with the server's words until the on-demand part says it plainly, in the
   * visitor's language, and looks again later when it may end (refusals.js). */
  halt(code, info) {
    this.stopped = true;
    clearTimeout(this.retry);
    this.setStatus("");
    this.showForm(null);
    this.showNotice(info.message || "");
    this.renderEmpty();
    this.later(() => this.refused(code, info));
  },

  socketOpen() {
    return !!this.ws && this.ws.readyState === 1;
  },

  send(frame) {
    if (this.socketOpen()) this.ws.send(JSON.stringify(frame));
  },

  /** Asks for a page of who is present (`who`): after a participant id, or from the first
   * (null), which replaces the list. One question at a time: each costs a signal. */
  askPeople(after) {
    if (this.peopleAsked || !this.joined) return;
    this.peopleAsked = true;
    this.peopleAfter = after;
    this.send({ type: "who", room: this.room, after, limit: 50 });
  },

  /** `hello` with the strongest identity we have: the host's token, an account, a guest (with
   * the name they chose: a returning guest whose name was refused renames). */
  hello() {
    const f = { type: "hello", v: 1 };
    if (this.userToken) f.token = this.userToken;
    else if (this.account) f.account_token = this.account;
    else {
      if (this.nick && this.nickChosen) f.nick = this.nick;
      if (this.token) f.guest_token = this.token;
      else if (!f.nick) return;
    }
    this.send(f);
  },

  /** Joins this.room: one join at a time, sent once the current task is over, so that a page
   * switching rooms several times at once joins only the last; a join made stale meanwhile is
   * left when its welcome comes (frames.js). No ghost presence in the rooms passed through. */
  sendJoin() {
    if (this.joining) return;
    this.joining = true;
    this.joinSoon = setTimeout(() => {
      const frame = { type: "join", room: (this.joining = this.room) };
      if (this.lastSeq != null) frame.since = this.lastSeq;
      this.send(frame);
    });
  },
};
