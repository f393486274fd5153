/*! chatctl widget, protocol v1. Plain ES2019, no dependencies, no third-party requests.
 *
 * <script src="https://chat.example.com/widget.js" data-site="pk_..." data-room="lobby" async></script>
 *
 * Options (data attributes): data-site (required), data-room ("lobby"), data-title ("Chat"),
 * data-mode ("floating" | "inline"), data-target (CSS selector, inline mode), data-open ("true").
 * Protocol: docs/PROTOCOL.md.
 */
(() => {
  "use strict";

  const PING_MS = 25000;
  const TYPING_EVERY_MS = 3000; // resend typing=true at most this often
  const TYPING_IDLE_MS = 5000; // then typing=false after this long without input
  const TYPING_EXPIRE_MS = 7000; // drop others' indicators not refreshed for this long
  const STOP_CODES = [4003, 4004, 4010]; // banned, site disabled, protocol violation
  // Upgrade refusals that retrying cannot fix (see /ws/check).
  const REFUSALS = ["unknown_site", "site_disabled", "origin_required", "origin_not_allowed", "banned"];

  const CSS = `
:host{--a:var(--chatctl-accent,#2563eb)}
*{box-sizing:border-box}
[hidden]{display:none!important}
.root{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328}
button,input,textarea{font:inherit;color:inherit}
button{cursor:pointer;border:0;border-radius:8px;padding:8px 12px;background:var(--a);color:#fff}
:focus-visible{outline:2px solid var(--a);outline-offset:2px}
.launcher{position:fixed;right:20px;bottom:20px;z-index:2147483000;border-radius:24px;padding:12px 16px;box-shadow:0 4px 14px rgba(0,0,0,.25)}
.panel{display:flex;flex-direction:column;background:#fff;border:1px solid #d0d7de;border-radius:12px;overflow:hidden;height:480px}
.floating .panel{position:fixed;right:20px;bottom:80px;z-index:2147483000;width:360px;height:min(540px,calc(100vh - 100px));box-shadow:0 8px 30px rgba(0,0,0,.25);animation:pop .15s ease-out}
@keyframes pop{from{opacity:0;transform:translateY(8px)}}
header{display:flex;align-items:center;gap:8px;padding:10px 12px;background:var(--a);color:#fff}
h2{flex:1;margin:0;font-size:15px;font-weight:600;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.status,.online{font-size:12px;opacity:.9}
.status::before{content:"";display:inline-block;width:8px;height:8px;margin-right:4px;border-radius:50%;background:#fbbf24}
.status.online{font-size:0}
.status.online::before{background:#4ade80}
.status.offline::before{background:#d1d5db}
.x{padding:0 6px;font-size:20px;line-height:1;background:none}
.notice{margin:0;padding:8px 12px;background:#fef3c7;color:#7c2d12;border-bottom:1px solid #fcd34d}
.more{margin:6px auto 0;padding:4px 10px;font-size:12px;background:#eef2ff;color:var(--a)}
.messages{flex:1;overflow-y:auto;padding:8px 12px}
.messages:empty::before{content:"No messages yet. Say hi!";color:#6b7280}
.msg{margin:6px 0}
.author{font-weight:600}
.own .author{color:var(--a)}
.guest{font-weight:400;opacity:.7}
.time,.state,.sys,.typing{font-size:12px;color:#6b7280}
.time{margin-left:6px}
.text{white-space:pre-wrap;overflow-wrap:anywhere}
.state{margin-left:6px}
[data-state=sending] .text{opacity:.6}
[data-state=failed] .state{color:#b91c1c}
.sys{margin:4px 0;text-align:center}
.typing{min-height:18px;padding:0 12px}
form{display:flex;gap:8px;padding:10px 12px;border-top:1px solid #d0d7de}
.composer{align-items:flex-end}
.nick{flex-direction:column;gap:6px}
.nick div{display:flex;gap:8px}
input,textarea{flex:1;min-width:0;padding:8px;border:1px solid #d0d7de;border-radius:8px;background:#fff}
textarea{resize:none;max-height:120px}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
@media (max-width:479px){.floating .panel{inset:0;width:auto;height:auto;border:0;border-radius:0}}
@media (prefers-reduced-motion:reduce){*{animation:none!important;transition:none!important}}`;

  const HTML = `<div class="root">
<button type="button" class="launcher" data-chatctl="launcher" aria-expanded="false" aria-controls="panel"></button>
<section class="panel" id="panel" aria-labelledby="title">
<header><h2 id="title"></h2><span class="status" data-chatctl="status" role="status"></span><span class="online" data-chatctl="online" hidden></span><button type="button" class="x" aria-label="Close chat">&times;</button></header>
<p class="notice" data-chatctl="notice" role="alert" hidden></p>
<button type="button" class="more" hidden>Load earlier messages</button>
<div class="messages" data-chatctl="messages" role="log" aria-live="polite" aria-label="Messages" tabindex="0"></div>
<div class="typing"></div>
<form class="nick" data-chatctl="nick" hidden><label for="nick">Choose a nickname to join the chat</label><div><input id="nick" name="nick" maxlength="32" autocomplete="nickname" required><button>Join</button></div></form>
<form class="composer" data-chatctl="composer" hidden><label for="text" class="sr">Message</label><textarea id="text" name="text" rows="1" placeholder="Write a message&hellip;"></textarea><button>Send</button></form>
</section></div>`;

  /** Creates an element with a class and, optionally, text (always as text, never as HTML). */
  const h = (tag, cls, text) => {
    const el = document.createElement(tag);
    el.className = cls;
    if (text != null) el.textContent = text;
    return el;
  };
  const chars = (s) => [...s].length;
  const newCid = () => {
    if (crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  };
  const backoff = (n) => Math.min(30000, 500 * 2 ** n) * (1 + Math.random() * 0.3);

  class Widget {
    constructor(script) {
      const d = script.dataset;
      const src = new URL(script.src, location.href);
      this.site = d.site;
      this.room = d.room || "lobby";
      // A token signed by the host site (verified user); takes precedence over guest identity.
      this.userToken = d.userToken || null;
      this.url = `${src.protocol === "https:" ? "wss:" : "ws:"}//${src.host}/ws?site=${encodeURIComponent(this.site)}`;
      this.key = `chatctl:${this.site}:guest`;
      this.ws = null;
      this.me = null;
      this.limits = null;
      this.ready = false; // `ready` received on the current socket
      this.joined = false; // `welcome` received for this.room on the current socket
      this.stopped = false; // never reconnect (banned, site disabled, ...)
      this.started = false;
      this.attempt = 0;
      this.pending = new Map(); // cid -> {cid, room, text, el, label, tries, wait}
      this.typers = new Map(); // participant id -> {nick, timer}
      this.typedAt = 0;
      this.lastSeq = null; // highest seq seen in welcome/message/ack frames: the resume point
      this.resetRoom();

      const target = d.mode === "inline" && d.target ? document.querySelector(d.target) : null;
      if (d.mode === "inline" && !target) console.warn("chatctl: data-target not found, using floating mode");
      this.floating = !target;

      const host = document.createElement("div");
      host.setAttribute("data-chatctl-root", "");
      host.style.cssText = target ? "all:initial;display:block" : "all:initial";
      const root = host.attachShadow({ mode: "open" });
      // A constructed stylesheet is not an inline <style>, so pages with a strict CSP style-src work too.
      if (root.adoptedStyleSheets && window.CSSStyleSheet && CSSStyleSheet.prototype.replaceSync) {
        const sheet = new CSSStyleSheet();
        sheet.replaceSync(CSS);
        root.adoptedStyleSheets = [sheet];
        root.innerHTML = HTML; // static markup only
      } else {
        root.innerHTML = `<style>${CSS}</style>${HTML}`;
      }
      const $ = (s) => root.querySelector(s);
      this.root = root;
      this.el = host; // the widget's element in the page
      this.panel = $(".panel");
      this.launcher = $(".launcher");
      this.status = $(".status");
      this.online = $(".online");
      this.notice = $(".notice");
      this.moreBtn = $(".more");
      this.list = $(".messages");
      this.typingEl = $(".typing");
      this.nickForm = $(".nick");
      this.composer = $(".composer");
      this.input = $("textarea");

      const title = d.title || "Chat";
      $("h2").textContent = title;
      this.launcher.textContent = title;
      this.setStatus("offline");

      if (this.floating) {
        $(".root").classList.add("floating");
        this.panel.hidden = true;
        this.launcher.addEventListener("click", () => this.toggle());
        $(".x").addEventListener("click", () => this.close());
        this.panel.addEventListener("keydown", (e) => {
          if (e.key === "Escape") this.close();
        });
      } else {
        this.launcher.remove();
        $(".x").remove();
      }

      this.nickForm.addEventListener("submit", (e) => {
        e.preventDefault();
        this.submitNick();
      });
      this.composer.addEventListener("submit", (e) => {
        e.preventDefault();
        this.submitText();
      });
      this.input.addEventListener("keydown", (e) => {
        if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
          e.preventDefault();
          this.submitText();
        }
      });
      this.input.addEventListener("input", () => this.onInput());
      this.moreBtn.addEventListener("click", () => {
        this.moreBtn.disabled = true;
        this.send({ type: "history", room: this.room, before: this.minSeq, limit: 50 });
      });

      (target || document.body).appendChild(host);
      if (!this.floating || d.open === "true") this.open(false);
    }

    // ---- public API --------------------------------------------------------------------

    open(focus = true) {
      this.start();
      if (!this.floating || !this.panel.hidden) return;
      this.panel.hidden = false;
      this.launcher.setAttribute("aria-expanded", "true");
      if (focus) (this.nickForm.hidden ? this.input : this.nickForm.elements.nick).focus();
      this.scrollDown();
    }

    close() {
      if (!this.floating || this.panel.hidden) return;
      const hadFocus = this.root.activeElement;
      this.panel.hidden = true;
      this.launcher.setAttribute("aria-expanded", "false");
      if (hadFocus) this.launcher.focus();
    }

    toggle() {
      if (this.floating && !this.panel.hidden) this.close();
      else this.open();
    }

    /** Switches this widget to another room. */
    join(room) {
      if (room === this.room) return;
      if (this.joined) this.send({ type: "leave", room: this.room });
      this.room = room;
      this.joined = false;
      this.lastSeq = null;
      this.resetRoom();
      this.pending.forEach((p) => clearTimeout(p.wait));
      this.pending.clear();
      this.list.textContent = "";
      this.moreBtn.hidden = true;
      this.clearTyping();
      if (this.ready) this.sendJoin();
    }

    // ---- connection --------------------------------------------------------------------

    start() {
      if (this.started) return;
      this.started = true;
      // The identity is read once: each instance keeps its own across reconnects, even if
      // another tab stores a different one meanwhile.
      const g = this.guest();
      this.token = g.token;
      this.nick = g.nick;
      if (!this.token && !this.userToken) return this.askNick(this.nick);
      this.showForm(false); // messages typed before `ready` are queued
      this.connect();
    }

    guest() {
      try {
        return JSON.parse(localStorage.getItem(this.key)) || {};
      } catch (e) {
        return {};
      }
    }

    saveGuest(g) {
      try {
        localStorage.setItem(this.key, JSON.stringify(g));
      } catch (e) {
        // Storage blocked (private mode, sandboxed frame): identity lasts for this page only.
      }
    }

    connect() {
      if (this.ws || this.stopped) return;
      this.setStatus(this.me ? "reconnecting" : "connecting");
      const ws = new WebSocket(this.url);
      this.ws = ws;
      ws.onopen = () => {
        ws.opened = true;
        this.hello();
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
        this.onFrame(f);
      };
      ws.onclose = (e) => {
        if (ws !== this.ws) return;
        clearInterval(this.beat);
        this.ws = null;
        this.ready = this.joined = false;
        this.online.hidden = true;
        this.clearTyping();
        if (STOP_CODES.includes(e.code)) this.stopped = true;
        if (this.stopped) return this.setStatus("offline");
        this.setStatus(this.me ? "reconnecting" : "connecting");
        const retry = () => setTimeout(() => this.connect(), backoff(this.attempt++));
        // Browsers hide why an upgrade was refused; ask the server, and stop for good
        // when retrying cannot help (unknown site, foreign page, ban).
        if (ws.opened) return retry();
        this.explain().then((reason) => {
          if (!reason) return retry();
          this.stopped = true;
          this.setStatus("offline");
          this.showNotice(reason);
        });
      };
    }

    explain() {
      const url = this.url.replace(/^ws/, "http").replace("/ws?", "/ws/check?");
      return fetch(url, { credentials: "omit" })
        .then((r) => r.json())
        .then((body) => (REFUSALS.includes(body.error) ? body.message : null))
        .catch(() => null);
    }

    /** Switches to a user verified by the host site (a signed token), reconnecting. */
    identify(token) {
      this.userToken = token;
      this.stopped = false;
      if (!this.started) return;
      this.showNotice("");
      this.showForm(false);
      if (this.ws) this.ws.close(1000);
      else this.connect();
    }

    stop() {
      this.stopped = true;
      if (this.ws) this.ws.close(1000);
    }

    send(frame) {
      if (this.ws && this.ws.readyState === 1) this.ws.send(JSON.stringify(frame));
    }

    hello() {
      if (this.userToken) this.send({ type: "hello", v: 1, token: this.userToken });
      else if (this.token) this.send({ type: "hello", v: 1, guest_token: this.token });
      else if (this.nick && this.nickForm.hidden) this.send({ type: "hello", v: 1, nick: this.nick });
    }

    sendJoin() {
      const frame = { type: "join", room: this.room };
      if (this.lastSeq != null) frame.since = this.lastSeq;
      this.send(frame);
    }

    // ---- frames from the server --------------------------------------------------------

    onFrame(f) {
      if (f.room != null && f.room !== this.room && f.type !== "error") return;
      switch (f.type) {
        case "ready":
          return this.onReady(f);
        case "welcome":
          return this.onWelcome(f);
        case "message":
          this.lastSeq = Math.max(this.lastSeq || 0, f.seq);
          this.removeTyper(f.author.id);
          return this.stick(() => this.addMessage(f));
        case "ack":
          return this.onAck(f);
        case "history":
          return this.onHistory(f);
        case "presence":
          return this.onPresence(f);
        case "typing":
          return this.onTyping(f);
        case "deleted":
          return this.onDeleted(f);
        case "error":
          return this.onError(f);
        case "notice":
          return this.onNotice(f);
      }
    }

    onReady(f) {
      this.ready = true;
      this.attempt = 0;
      this.me = f.me;
      this.limits = f.limits;
      this.nick = f.me.nick;
      // Only guests get a guest token; a verified user's identity lives in the host's token.
      if (f.guest_token) {
        this.token = f.guest_token;
        this.saveGuest({ nick: this.nick, token: this.token });
      }
      this.setStatus("online");
      this.showNotice("");
      this.showForm(false);
      this.sendJoin();
    }

    onWelcome(f) {
      this.joined = true;
      this.online.hidden = false;
      this.online.textContent = `${f.online.length} online`;
      if (f.mode === "resumed") {
        this.stick(() => f.messages.forEach((m) => this.addMessage(m)));
      } else {
        // latest or reset: this page replaces whatever we had; pending sends stay.
        this.list.querySelectorAll("[data-chatctl=message]:not([data-state=sending]),.sys").forEach((n) => n.remove());
        this.resetRoom();
        this.more = f.more;
        f.messages.forEach((m) => this.addMessage(m));
        this.scrollDown();
      }
      this.lastSeq = f.mode === "resumed" ? Math.max(this.lastSeq, f.seq) : f.seq;
      this.moreBtn.hidden = !this.more;
      // Resend everything not yet acknowledged, with the same cid: the server deduplicates.
      this.pending.forEach((p) => this.transmit(p));
    }

    onAck(f) {
      // Acks arrive in seq order with messages, so they advance the resume point too.
      this.lastSeq = Math.max(this.lastSeq || 0, f.seq);
      const p = this.pending.get(f.cid);
      if (!p) return;
      this.pending.delete(f.cid);
      if (this.bySeq.has(f.seq)) {
        // Already shown: it was stored before a reconnect and came back in the resume page.
        p.el.remove();
        return;
      }
      const el = p.el;
      el.dataset.seq = f.seq;
      el.dataset.state = "sent";
      el.dataset.id = f.id;
      this.setTime(el.querySelector(".time"), f.ts);
      p.label.textContent = "sent";
      this.index(f.seq, el);
      this.stick(() => this.place(el, f.seq));
    }

    onHistory(f) {
      const top = this.list.firstChild;
      const before = this.list.scrollHeight;
      f.messages.forEach((m) => this.addMessage(m, top));
      this.list.scrollTop += this.list.scrollHeight - before; // keep the reader's position
      this.more = f.more;
      this.moreBtn.hidden = !this.more;
      this.moreBtn.disabled = false;
    }

    onPresence(f) {
      this.online.textContent = `${f.online} online`;
      if (this.me && f.who.id === this.me.id) return;
      if (f.event === "leave") this.removeTyper(f.who.id);
      this.stick(() => this.list.appendChild(h("div", "sys", `${f.who.nick} ${f.event === "join" ? "joined" : "left"}`)));
    }

    onTyping(f) {
      const id = f.who.id;
      if (this.me && id === this.me.id) return;
      this.removeTyper(id);
      if (f.active) {
        const timer = setTimeout(() => this.removeTyper(id), TYPING_EXPIRE_MS);
        this.typers.set(id, { nick: f.who.nick, timer });
        this.renderTyping();
      }
    }

    onDeleted(f) {
      const el = this.bySeq.get(f.seq);
      if (el) el.remove();
      this.bySeq.delete(f.seq);
    }

    onError(f) {
      const p = f.ref != null && this.pending.get(f.ref);
      if (p) return this.sendFailed(p, f);
      switch (f.code) {
        case "invalid_token": {
          if (this.userToken) {
            // The host's token is bad or expired: never fall back to a guest identity.
            this.showNotice(`Your sign-in for this chat is no longer valid (${f.message}) Reload the page.`);
            return this.stop();
          }
          // Never loop on a bad token: forget it and ask for a nickname (the socket stays open).
          if (this.guest().token === this.token) this.saveGuest({ nick: this.nick });
          this.token = null;
          this.showNotice("Your saved chat identity is no longer valid. Please choose a nickname.");
          return this.askNick(this.nick, true);
        }
        case "invalid_nick":
        case "nick_taken":
          this.showNotice(f.message);
          return this.askNick(this.nick, true);
        case "guests_not_allowed":
        case "verification_required":
        case "unsupported_version":
          this.showNotice(f.message);
          return this.stop();
        default:
          if (f.ref === "hello" || f.ref === "join") this.showNotice(f.message);
          else console.warn("chatctl:", f.code, f.message);
      }
    }

    onNotice(f) {
      let text = f.message;
      if (f.until) text += ` (until ${new Date(f.until).toLocaleString()})`;
      this.showNotice(text);
      if (f.code === "banned" || f.code === "site_disabled" || f.code === "protocol_violation") this.stopped = true;
    }

    // ---- sending -----------------------------------------------------------------------

    submitNick() {
      const nick = this.nickForm.elements.nick.value.trim();
      if (!nick) return;
      this.nick = nick;
      this.showNotice("");
      this.showForm(false);
      this.input.focus();
      if (this.ws && this.ws.readyState === 1) this.hello();
      else this.connect();
    }

    submitText() {
      const text = this.input.value.trim();
      if (!text) return;
      const lim = this.limits;
      const cid = newCid();
      const frame = { type: "send", room: this.room, cid, text };
      let problem = "";
      if (lim && chars(text) > lim.max_message_chars) {
        problem = `Message is too long (${chars(text)} of ${lim.max_message_chars} characters).`;
      } else if (lim && new TextEncoder().encode(JSON.stringify(frame)).length > lim.max_frame_bytes) {
        problem = "Message is too long.";
      }
      this.input.setCustomValidity(problem);
      if (problem) {
        this.input.reportValidity();
        return;
      }

      this.input.value = "";
      this.autosize();
      this.stopTyping();
      const el = this.messageEl(this.me || { nick: this.nick, kind: "guest" }, text, Date.now(), true);
      el.dataset.state = "sending";
      const label = el.insertBefore(h("span", "state", "sending\u2026"), el.lastChild);
      const p = { cid, room: this.room, text, el, label, tries: 0, wait: 0 };
      this.pending.set(cid, p);
      this.list.appendChild(el);
      this.scrollDown();
      this.transmit(p);
    }

    transmit(p) {
      if (this.joined && !p.wait) this.send({ type: "send", room: p.room, cid: p.cid, text: p.text });
    }

    sendFailed(p, f) {
      let ms = 0;
      if (f.code === "rate_limited") {
        ms = f.retry_after_ms || 1000;
        p.label.textContent = `Too fast, retry in ${Math.ceil(ms / 1000)}s`;
      } else if (f.code === "storage_unavailable") {
        ms = backoff(++p.tries);
        p.label.textContent = "Server busy, retrying\u2026";
      }
      if (ms) {
        clearTimeout(p.wait);
        p.wait = setTimeout(() => {
          p.wait = 0;
          p.label.textContent = "sending\u2026";
          this.transmit(p);
        }, ms);
        return;
      }
      this.pending.delete(p.cid);
      p.el.dataset.state = "failed";
      p.label.textContent = `Not sent: ${f.message}`;
    }

    onInput() {
      this.input.setCustomValidity("");
      this.autosize();
      if (!this.joined) return;
      if (!this.input.value.trim()) return this.stopTyping();
      const now = Date.now();
      if (now - this.typedAt > TYPING_EVERY_MS) {
        this.typedAt = now;
        this.send({ type: "typing", room: this.room, active: true });
      }
      clearTimeout(this.typingIdle);
      this.typingIdle = setTimeout(() => this.stopTyping(), TYPING_IDLE_MS);
    }

    stopTyping() {
      clearTimeout(this.typingIdle);
      if (!this.typedAt) return;
      this.typedAt = 0;
      if (this.joined) this.send({ type: "typing", room: this.room, active: false });
    }

    // ---- rendering ---------------------------------------------------------------------

    resetRoom() {
      this.bySeq = new Map(); // seq -> element, for dedupe and deletions
      this.minSeq = Infinity; // lowest seq shown: `before` for the next history page
      this.more = false;
    }

    index(seq, el) {
      this.bySeq.set(seq, el);
      this.minSeq = Math.min(this.minSeq, seq);
    }

    messageEl(author, text, ts, own) {
      const el = h("div", own ? "msg own" : "msg");
      el.dataset.chatctl = "message";
      const time = h("time", "time");
      this.setTime(time, ts);
      el.append(h("span", "author", author.nick));
      // Guests are marked, so nobody mistakes one for a signed-in user.
      if (author.kind === "guest") el.append(h("span", "guest", " (guest)"));
      el.append(time, h("div", "text", text));
      return el;
    }

    setTime(el, ts) {
      const d = new Date(ts);
      el.dateTime = d.toISOString();
      el.title = d.toLocaleString();
      el.textContent = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    }

    /** Adds a stored message once (deduplicated by seq), in seq order, or before `ref`. */
    addMessage(m, ref) {
      if (this.bySeq.has(m.seq)) return;
      const el = this.messageEl(m.author, m.text, m.ts, this.me && m.author.id === this.me.id);
      el.dataset.seq = m.seq;
      el.dataset.id = m.id;
      this.index(m.seq, el);
      if (ref !== undefined) this.list.insertBefore(el, ref);
      else this.place(el, m.seq);
    }

    /** Puts `el` after every message with a lower seq, but before our own pending sends. */
    place(el, seq) {
      let ref = null;
      let n = this.list.lastElementChild;
      while (n && (n === el || (n.dataset.seq ? +n.dataset.seq > seq : n.dataset.state === "sending"))) {
        if (n !== el) ref = n;
        n = n.previousElementSibling;
      }
      if (el.parentNode !== this.list || el.nextElementSibling !== ref) this.list.insertBefore(el, ref);
    }

    /** Runs `fn`, then keeps the list scrolled to the bottom if the reader was there. */
    stick(fn) {
      const l = this.list;
      const atBottom = l.scrollHeight - l.scrollTop - l.clientHeight < 40;
      fn();
      if (atBottom) this.scrollDown();
    }

    scrollDown() {
      this.list.scrollTop = this.list.scrollHeight;
    }

    removeTyper(id) {
      const t = this.typers.get(id);
      if (!t) return;
      clearTimeout(t.timer);
      this.typers.delete(id);
      this.renderTyping();
    }

    clearTyping() {
      this.typers.forEach((t) => clearTimeout(t.timer));
      this.typers.clear();
      this.renderTyping();
    }

    renderTyping() {
      const n = Array.from(this.typers.values(), (t) => t.nick);
      this.typingEl.textContent =
        n.length === 0 ? "" :
        n.length === 1 ? `${n[0]} is typing\u2026` :
        n.length === 2 ? `${n[0]} and ${n[1]} are typing\u2026` :
        "Several people are typing\u2026";
    }

    setStatus(s) {
      this.status.className = `status ${s}`;
      this.status.textContent = s;
    }

    showNotice(text) {
      this.notice.textContent = text;
      this.notice.hidden = !text;
    }

    showForm(nick) {
      this.nickForm.hidden = !nick;
      this.composer.hidden = nick;
    }

    askNick(value, focus) {
      const input = this.nickForm.elements.nick;
      if (value) input.value = value;
      this.showForm(true);
      if (focus) input.focus();
    }

    autosize() {
      const t = this.input;
      t.style.height = "auto";
      t.style.height = `${t.scrollHeight + t.offsetHeight - t.clientHeight}px`; // content + borders
    }
  }

  // ---- bootstrap -------------------------------------------------------------------------

  const api =
    window.Chatctl ||
    (window.Chatctl = {
      widgets: [],
      open: () => api.widgets.forEach((w) => w.open()),
      close: () => api.widgets.forEach((w) => w.close()),
      toggle: () => api.widgets.forEach((w) => w.toggle()),
      identify: (token) => api.widgets.forEach((w) => w.identify(token)),
    });

  const fresh = (s) => s && s.dataset.site && !s.hasAttribute("data-chatctl-init");
  let script = document.currentScript;
  if (!fresh(script)) {
    const all = document.querySelectorAll('script[src*="widget.js"][data-site]:not([data-chatctl-init])');
    script = all[all.length - 1];
  }
  if (!fresh(script)) return console.error("chatctl: no <script data-site=...> tag found");
  script.setAttribute("data-chatctl-init", "");

  const boot = () => api.widgets.push(new Widget(script));
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot, { once: true });
  else boot();
})();
