// One widget: a <script> tag's options, its shadow DOM, the public API (open, close, toggle,
// identify, join) and its state. The other concerns are methods in their own files, mixed in
// below: connection.js, lazy.js, composer.js, render.js, forms.js; frames.js handles what the
// server sends. The on-demand part (extra.js: accounts.js, report.js) adds its own when it loads.

// (The order of the imports is the order of the joined script: this one compresses best.)
import { W } from "./global.js";
import { emit } from "./events.js";
import { STYLE } from "./styles.js";
import { MARKUP } from "./markup.js";
import { format, roomFor, textOn } from "./util.js";
import { h, build, fillIn } from "./dom.js";
import { renderMethods } from "./render.js";
import { load, save } from "./storage.js";
import { composerMethods } from "./composer.js";
import { connectionMethods } from "./connection.js";
import { lazyMethods } from "./lazy.js";
import { formMethods } from "./forms.js";

export class Widget {
  constructor(script, pack) {
    const d = script.dataset;
    this.pack = pack;
    this.init(script, d);
    const target = d.mode === "inline" && d.target ? document.querySelector(d.target) : null;
    if (d.mode === "inline" && !target) console.warn("chatctl: data-target not found, using floating mode");
    this.floating = !target;
    const $ = this.mount(target);
    this.keep(d.target);
    this.title = d.title || this.T("title");
    this.texts($);
    this.style(d);
    this.setStatus("");
    this.renderEmpty();
    this.layout($, d);
    this.bind($);

    const stored = load(this.key + "read");
    if (!this.floating || d.open === "true") this.open(false);
    // A returning visitor's closed widget connects to count unread messages; a new visitor's
    // page view opens no socket until they open the chat.
    else if (stored[this.room] != null && (this.userToken || load(this.key + "guest").token || load(this.key + "account").token)) this.start();
  }

  /** The state: options from the tag, then what the connection and the room will fill in. */
  init(script, d) {
    this.soundDefault = d.sound === "true";
    this.src = new URL(script.src, location.href);
    this.siteKey = d.site;
    this.key = `chatctl:${this.siteKey}:`;
    this.fixed = d.room;
    this.siteRoom = load(this.key + "room").name;
    this.room = d.room || this.pageRoom();
    // A token signed by the host site (verified user); takes precedence over other identities.
    this.userToken = d.userToken || null;
    const ws = new URL(`ws?site=${encodeURIComponent(this.siteKey)}`, this.src);
    ws.protocol = this.src.protocol === "https:" ? "wss:" : "ws:";
    this.url = ws.href;
    this.lang = script.getAttribute("data-chatctl-lang") || "en";
    this.ws = null;
    this.me = null;
    this.limits = null;
    this.policy = { guests: true, registration: false, sign_in: false }; // until /ws/check answers
    this.ready = false; // `ready` received on the current socket
    this.joined = false; // `welcome` received for this.room on the current socket
    this.stopped = false; // never reconnect (banned, site disabled, ...)
    this.started = false;
    this.attempt = 0;
    this.early = []; // account frames waiting for the socket to open
    this.pending = new Map(); // cid -> {cid, room, text, el, label, tries, wait, tick}, oldest first
    this.inFlight = null; // the pending send awaiting its ack (one at a time: see pump)
    this.seenBy = new Map(); // participant id -> highest seq they have seen (read receipts)
    this.typers = new Map(); // participant id -> {nick, timer}
    this.people = new Map(); // participant id -> Who, for the online list
    this.twins = new Set(); // ids of people present whose names look alike (render.js)
    this.typedAt = 0;
    this.lastSeq = null; // highest seq seen in welcome/message/ack frames: the resume point
    this.unread = 0;
    this.below = 0; // messages that arrived while the reader was scrolled up
    this.resetRoom();
  }

  /** The shadow DOM, in the page (in `target`, or floating); returns its querySelector. */
  mount(target) {
    const host = h("div");
    host.setAttribute("data-chatctl-root", "");
    // Inline styles with !important: a host page's `div{display:none!important}` cannot hide us.
    host.style.cssText = target ? "all:initial!important;display:block!important" : "all:initial!important;display:block!important;position:static!important";
    const root = host.attachShadow({ mode: "open" });
    // A constructed stylesheet is not an inline <style>, so pages with a strict CSP style-src work too.
    if (root.adoptedStyleSheets && W.CSSStyleSheet && CSSStyleSheet.prototype.replaceSync) {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(STYLE);
      root.adoptedStyleSheets = [sheet];
    } else {
      root.append(h("style", "", STYLE));
    }
    // Built with DOM calls: pages that enforce Trusted Types refuse markup in innerHTML.
    root.append(build(MARKUP));
    // In the page before anything is measured (the accent colour below).
    (target || document.body).appendChild(host);
    const $ = (s) => root.querySelector(s);
    this.root = root;
    this.el = host;
    this.box = $(".root");
    // Right to left in a right-to-left language, else as the page (mirrored on RTL pages).
    if (this.T("dir") === "rtl") this.box.dir = "rtl";
    this.panel = $(".panel");
    this.launcher = $(".launcher");
    this.badge = $(".badge");
    this.status = $(".status");
    this.whoBtn = $(".who");
    this.peopleEl = $(".people");
    this.meEl = $(".me");
    this.outBtn = $(".out");
    this.soundBtn = $(".snd");
    this.notice = $(".notice");
    this.moreBtn = $(".more");
    this.list = $(".messages");
    this.jumpBtn = $(".jump");
    this.typingEl = $(".typing");
    this.live = $(".sr[aria-live]");
    this.input = $("textarea");
    return $;
  }

  /** Puts the widget back when the page's own rendering removes it (a framework that replaces
   * the body or its children, a router that re-renders the inline widget's target): the same
   * widget, with its connection and its messages. Watches only the widget's ancestors. */
  keep(sel) {
    const watch = () => {
      mo.disconnect();
      for (let n = this.el.parentNode; n; n = n.parentNode) mo.observe(n, { childList: true });
      // Out of the page, waiting for a new target: watch the page until there is one.
      if (!this.el.isConnected) mo.observe(document, { childList: true, subtree: true });
    };
    const mo = new MutationObserver(() => {
      const home = this.floating ? document.body : document.querySelector(sel);
      if (!this.el.isConnected && home) home.appendChild(this.el);
      watch();
    });
    watch();
  }

  /** Floating (a launcher and a dialog, left or right) or inline in the page. */
  layout($, d) {
    if (!this.floating) {
      this.launcher.remove();
      $(".x").remove();
      return;
    }
    this.box.classList.add("floating");
    // By default at the end of the line: right, or left on right-to-left pages.
    if (d.position === "left" || d.position === "right") this.box.classList.add(d.position);
    this.panel.setAttribute("role", "dialog");
    this.panel.hidden = true;
    this.launcher.addEventListener("click", () => this.toggle());
    $(".x").addEventListener("click", () => this.close());
    this.panel.addEventListener("keydown", (e) => {
      if (e.key === "Escape") this.close();
    });
  }

  /** A translated text; `{name}` placeholders are filled from `vars`. */
  T(key, vars) {
    return format(this.pack[key] || key, vars);
  }

  /** Puts a translated text in `el`, each of its `vars` (names) isolated in its own direction. */
  setT(el, key, vars) {
    fillIn(el, this.pack[key] || key, vars);
    return el;
  }

  texts($) {
    // Static texts are named in the markup, by their data-t attributes.
    this.root.querySelectorAll("[data-t]").forEach((e) => (e.textContent = this.T(e.dataset.t)));
    $("h2").textContent = $(".launcher .lt").textContent = this.title;
    $(".x").setAttribute("aria-label", this.T("close"));
    this.list.setAttribute("aria-label", this.T("messages"));
    this.input.placeholder = this.hint();
    this.renderSound();
  }

  style(d) {
    const s = this.box.style;
    const colour = d.color || d.colour;
    if (colour && W.CSS && CSS.supports("color", colour)) {
      s.setProperty("--a", colour);
      const probe = h("span");
      probe.style.color = colour;
      this.root.appendChild(probe);
      const rgb = (getComputedStyle(probe).color.match(new RegExp("[\\d.]+", "g")) || [0, 0, 0]).slice(0, 3);
      probe.remove();
      s.setProperty("--af", textOn(rgb));
    }
    const theme = d.theme || "light";
    const dark = W.matchMedia && matchMedia("(prefers-color-scheme: dark)");
    const apply = () => this.box.classList.toggle("dark", theme === "dark" || (theme === "auto" && !!dark && dark.matches));
    apply();
    if (theme === "auto" && dark && dark.addEventListener) dark.addEventListener("change", apply);
  }

  bind($) {
    const on = (el, ev, fn) => el.addEventListener(ev, fn);
    // The forms, each with what submitting it does (the account forms come later: lazy.js).
    this.forms = {};
    this.bindForms(this.root, { nick: this.submitNick, composer: this.submitComposer });
    on(this.input, "keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.submitComposer();
      }
    });
    on(this.input, "input", () => this.onInput());
    on(this.moreBtn, "click", () => this.loadOlder());
    on(document, "visibilitychange", () => this.sendSeen());
    // A list read at its bottom stays there when it gets shorter (the older-messages button
    // shown above it, someone typing below it): the newest message is never cut off.
    new ResizeObserver(() => this.stuck && this.scrollDown()).observe(this.list);
    on(this.list, "scroll", () => {
      this.stuck = this.atBottom();
      if (this.stuck) this.clearBelow();
      if (this.list.scrollTop < 40 && this.more) this.loadOlder();
    });
    on(this.jumpBtn, "click", () => {
      this.scrollDown();
      this.input.focus();
    });
    on(this.whoBtn, "click", () => {
      const open = this.peopleEl.hidden;
      this.peopleEl.hidden = !open;
      // A crowd's list is a snapshot: opening it shows who is here now.
      if (open && this.people.size < this.online) this.askPeople(null);
      this.whoBtn.setAttribute("aria-expanded", String(open));
    });
    on(this.outBtn, "click", () => this.later(() => this.logout()));
    on(this.soundBtn, "click", () => {
      const on = !this.soundOn();
      save("chatctl:sound", { on });
      if (on) this.later(() => this.beep()); // a user gesture: lets the browser start audio
      this.renderSound();
    });
    // Full screen on a phone: fit what the on-screen keyboard leaves visible.
    const vv = W.visualViewport;
    if (vv && this.floating) {
      vv.addEventListener("resize", () => {
        const full = innerWidth <= 480;
        this.panel.style.height = full ? `${vv.height}px` : "";
        this.panel.style.top = full ? `${vv.offsetTop}px` : "";
      });
    }
    // The back/forward cache: a page kept there holds no socket (its visitor is gone, and a
    // socket would keep it out of the cache); it resumes where it was when it comes back.
    W.addEventListener("pagehide", (e) => {
      if (!e.persisted || !this.started) return;
      clearTimeout(this.retry);
      this.disconnect();
    });
    W.addEventListener("pageshow", (e) => e.persisted && this.started && this.connect());
    W.addEventListener("online", () => {
      if (!this.ws && this.started && !this.stopped) {
        clearTimeout(this.retry);
        this.connect();
      }
    });
  }

  // ---- public API ----------------------------------------------------------------------

  open(focus = true) {
    this.start();
    if (this.floating && !this.panel.hidden) return;
    if (this.floating) {
      this.panel.hidden = false;
      this.box.classList.add("open");
      this.launcher.setAttribute("aria-expanded", "true");
      emit("open", { room: this.room }, this);
    }
    this.markRead();
    if (focus) this.focusForm();
    this.scrollDown();
    this.fill();
    this.prefetch();
  }

  close() {
    if (!this.floating || this.panel.hidden) return;
    const hadFocus = this.root.activeElement;
    this.panel.hidden = true;
    this.box.classList.remove("open");
    this.launcher.setAttribute("aria-expanded", "false");
    if (hadFocus) this.launcher.focus();
    emit("close", { room: this.room }, this);
  }

  toggle() {
    if (this.floating && !this.panel.hidden) this.close();
    else this.open();
  }

  isOpen() {
    return !this.floating || !this.panel.hidden;
  }

  /** The room of a page whose tag names none: the site's one room (`ready.default_room`, kept
   * for the next page view) or the page's own, named after its path. */
  pageRoom() {
    return this.siteRoom || roomFor(location.pathname);
  }

  /** Switches this widget to another room; without one, to the page's room (as without
   * data-room): what a single-page app calls on each route change (README). */
  join(room = this.pageRoom()) {
    if (room === this.room) return;
    if (this.joined) this.send({ type: "leave", room: this.room });
    this.room = room;
    this.joined = false;
    this.lastSeq = null;
    this.resetRoom();
    this.pending.forEach((p) => this.unqueue(p));
    this.pending.clear();
    this.inFlight = null;
    this.list.textContent = "";
    this.renderEmpty();
    this.moreBtn.hidden = true;
    this.clearTyping();
    this.setUnread(0);
    if (this.ready) this.sendJoin();
  }

  /** Switches to a user verified by the host site (a signed token), reconnecting. */
  identify(token) {
    this.userToken = token;
    this.stopped = false;
    if (!this.started) return;
    this.showNotice("");
    this.showForm("composer");
    this.reconnect();
  }

  // ---- unread count and sound (the tone itself is rare.js's) ----------------------------------------------------------

  setUnread(n) {
    if (n === this.unread) return;
    this.unread = n;
    this.badge.hidden = !n;
    this.badge.textContent = n > 99 ? "99+" : String(n);
    this.launcher.setAttribute("aria-label", n ? `${this.title} (${this.T("unread", { n })})` : this.title);
    emit("unread", { room: this.room, count: n }, this);
  }

  /** Remembers what the reader has seen (for the unread count on their next visit). */
  markRead() {
    if (!this.isOpen() || this.lastSeq == null) return;
    this.setUnread(0);
    const read = load(this.key + "read");
    if (read[this.room] === this.lastSeq) return;
    read[this.room] = this.lastSeq;
    save(this.key + "read", read);
  }

  soundOn() {
    const s = load("chatctl:sound");
    return s.on != null ? s.on : this.soundDefault;
  }

  renderSound() {
    const on = this.soundOn();
    this.soundBtn.textContent = this.T(on ? "soundOn" : "soundOff");
  }

}

Object.assign(Widget.prototype, connectionMethods, lazyMethods, composerMethods, renderMethods, formMethods);
