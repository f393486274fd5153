/*! chatctl widget, protocol v1 (docs/PROTOCOL.md). Plain ES2020, no dependencies, no
 * third-party requests. Started by the loader (widget/loader.js, served as /widget.js), which
 * queues the <script> tags in window.Chatctl.q and fetches the language packs.
 * Options are the tags' data attributes; the README lists them.
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
  const ACCOUNT_FRAMES = ["register", "login", "resend_verification", "forgot_password"];
  const W = window;
  // This script's own URL: the English pack, when another language's pack cannot load.
  const SELF = document.currentScript ? document.currentScript.src : "";
  const C = (W.Chatctl = W.Chatctl || { q: [], packs: {}, calls: [] });

  const STYLE = `
:host{all:initial}
.root{--a:#2563eb;--af:#fff;--bg:#fff;--fg:#1f2328;--mu:#57606a;--bd:#8c959f;--ln:#d0d7de;--sf:#f6f8fa;--lk:#0550ae;--fr:#0969da;--nb:#fff8c5;--nf:#4d2d00;--er:#b42318;--own:#eef4ff;font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);text-align:left}
.root.dark{--bg:#161b22;--fg:#e6edf3;--mu:#9198a1;--bd:#6e7681;--ln:#30363d;--sf:#0d1117;--lk:#58a6ff;--fr:#58a6ff;--nb:#3b2e00;--nf:#f8e3a1;--er:#ff8182;--own:#1c2a44}
*{box-sizing:border-box;margin:0;padding:0;letter-spacing:normal;text-transform:none}
[hidden]{display:none!important}
button,input,textarea{font:inherit;color:inherit;background:none;border:0}
button{cursor:pointer;border-radius:8px;padding:8px 12px;background:var(--a);color:var(--af);font-weight:600}
button:disabled{opacity:.6;cursor:default}
:focus-visible{outline:2px solid var(--fr);outline-offset:2px}
.link{padding:0;background:none;color:var(--lk);font-weight:400;text-decoration:underline}
a{color:var(--lk)}
.launcher{position:fixed;right:20px;bottom:20px;z-index:2147483000;border-radius:24px;padding:12px 18px;box-shadow:0 4px 14px rgba(0,0,0,.25)}
.left .launcher,.left .panel{right:auto;left:20px}
.badge{display:inline-block;min-width:20px;margin-left:8px;padding:0 6px;border-radius:10px;background:#b42318;color:#fff;font-size:12px;line-height:20px;text-align:center}
.panel{position:relative;display:flex;flex-direction:column;background:var(--bg);border:1px solid var(--ln);border-radius:12px;overflow:hidden;height:480px}
.floating .panel{position:fixed;right:20px;bottom:84px;z-index:2147483000;width:370px;height:min(560px,calc(100vh - 104px));box-shadow:0 8px 30px rgba(0,0,0,.3);animation:pop .15s ease-out}
@keyframes pop{from{opacity:0;transform:translateY(8px)}}
header{display:flex;align-items:center;gap:6px;padding:8px 10px 8px 14px;background:var(--a);color:var(--af)}
h2{flex:1;font-size:15px;font-weight:600;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
header button{padding:4px 8px;font-size:12px;font-weight:400;background:none;color:inherit;border:1px solid transparent}
header button:hover{border-color:currentColor}
.x{font-size:20px;line-height:1}
.bar{display:flex;align-items:center;gap:8px;padding:4px 14px;border-bottom:1px solid var(--ln);font-size:12px;color:var(--mu)}
.bar .link{font-size:12px}
.status::before{content:"";display:inline-block;width:8px;height:8px;margin-right:5px;border-radius:50%;background:#d4a72c}
.status.online::before{background:#2da44e}
.status.offline::before{background:#8c959f}
.me{margin-left:auto;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.people{max-height:120px;overflow-y:auto;padding:6px 14px;border-bottom:1px solid var(--ln);list-style:none}
.notice{padding:8px 14px;background:var(--nb);color:var(--nf);border-bottom:1px solid var(--ln)}
.more{margin:6px auto 0;padding:4px 10px;font-size:12px;background:var(--sf);color:var(--fg);border:1px solid var(--ln)}
.messages{flex:1;overflow-y:auto;padding:6px 10px;list-style:none;overscroll-behavior:contain}
.empty{padding:16px 4px;color:var(--mu)}
.msg{position:relative;display:flex;gap:8px;margin:2px 0;padding:4px;border-radius:8px}
.msg.own{background:var(--own)}
.av{flex:none;display:flex;align-items:center;justify-content:center;width:30px;height:30px;border-radius:50%;color:#fff;font-size:12px;font-weight:600;overflow:hidden}
.av img{width:100%;height:100%;object-fit:cover}
.body{flex:1;min-width:0}
.author{font-weight:600}
.guest,.time,.state,.sys,.typing,.hint{font-size:12px;color:var(--mu)}
.guest,.time,.state{margin-left:6px}
.text{white-space:pre-wrap;overflow-wrap:anywhere}
[data-state=sending] .text{opacity:.75}
[data-state=failed] .state{color:var(--er)}
.rep{position:absolute;top:2px;right:2px;padding:2px 6px;font-size:11px;font-weight:400;background:var(--bg);color:var(--fg);border:1px solid var(--ln);opacity:0}
.msg:hover .rep,.msg:focus-within .rep,.rep:focus{opacity:1}
.repform{display:flex;gap:6px;margin-top:4px}
.repform input{flex:1}
.repform button{padding:4px 8px;font-size:12px}
.sys{margin:4px 0;text-align:center}
.jump{position:absolute;left:50%;bottom:120px;transform:translateX(-50%);padding:4px 12px;font-size:12px;border-radius:14px;box-shadow:0 2px 8px rgba(0,0,0,.3)}
.typing{min-height:18px;padding:0 14px}
form{display:flex;flex-direction:column;gap:8px;padding:10px 14px;border-top:1px solid var(--ln)}
form .row{display:flex;gap:8px;align-items:flex-end}
label{font-size:13px}
input,textarea{flex:1;min-width:0;width:100%;padding:8px;border:1px solid var(--bd);border-radius:8px;background:var(--bg)}
textarea{resize:none;max-height:120px}
.links{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:13px}
.msgbox{font-size:13px}
.msgbox.err{color:var(--er)}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
@media (max-width:480px){.floating .panel{position:fixed;inset:0;width:auto;height:auto;height:100dvh;border:0;border-radius:0}.floating.open .launcher{display:none}input,textarea{font-size:16px}}
@media (prefers-reduced-motion:reduce){*{animation:none!important;transition:none!important;scroll-behavior:auto!important}}`;

  // Static markup only; every text is set later with textContent.
  const HTML = `<div class="root">
<button type="button" class="launcher" aria-expanded="false" aria-controls="panel"><span class="lt"></span><span class="badge" hidden></span></button>
<section class="panel" id="panel" aria-labelledby="title">
<header><h2 id="title"></h2><button type="button" class="snd"></button><button type="button" class="x"><span aria-hidden="true">&times;</span></button></header>
<div class="bar"><span class="status" data-chatctl="status"></span><button type="button" class="link who" aria-expanded="false" aria-controls="people" hidden></button><span class="me"></span><button type="button" class="link out" data-t="signOut" hidden></button></div>
<ul class="people" id="people" hidden></ul>
<p class="notice" data-chatctl="notice" role="alert" hidden></p>
<button type="button" class="more" data-t="older" hidden></button>
<ol class="messages" data-chatctl="messages" tabindex="0"></ol>
<button type="button" class="jump" hidden></button>
<div class="typing" aria-hidden="true"></div>
<div class="sr" aria-live="polite" data-chatctl="live"></div>
<form class="nick" data-chatctl="nick" hidden><label for="nick" data-t="pickNick"></label><div class="row"><input id="nick" name="nick" maxlength="32" autocomplete="nickname" required><button class="go" data-t="join"></button></div><p class="links"><button type="button" class="link" data-to="login" data-t="signIn"></button><button type="button" class="link" data-to="register" data-t="register"></button></p></form>
<form class="login" data-chatctl="login" hidden><p class="msgbox" role="status"></p><label for="le" data-t="email"></label><input id="le" name="email" type="email" autocomplete="email" required><label for="lp" data-t="password"></label><input id="lp" name="password" type="password" autocomplete="current-password" required><button class="go" data-t="signIn"></button><p class="links"><button type="button" class="link" data-to="register" data-t="register"></button><button type="button" class="link" data-to="forgot" data-t="forgot"></button><button type="button" class="link" data-to="resend" data-t="resend"></button><button type="button" class="link" data-to="nick" data-t="asGuest"></button></p></form>
<form class="register" data-chatctl="register" hidden><p class="msgbox" role="status"></p><label for="rn" data-t="name"></label><input id="rn" name="name" maxlength="32" autocomplete="nickname" required><label for="re" data-t="email"></label><input id="re" name="email" type="email" autocomplete="email" required><label for="rp" data-t="password"></label><input id="rp" name="password" type="password" autocomplete="new-password" minlength="10" aria-describedby="rh" required><span id="rh" class="hint" data-t="passwordRule"></span><button class="go" data-t="createAccount"></button><p class="links"><button type="button" class="link" data-to="login" data-t="signIn"></button><button type="button" class="link" data-to="nick" data-t="asGuest"></button></p></form>
<form class="mail" data-chatctl="mail" hidden><p class="msgbox" role="status"></p><label for="me" data-t="email"></label><input id="me" name="email" type="email" autocomplete="email" required><button class="go"></button><p class="links"><button type="button" class="link" data-to="login" data-t="signIn"></button></p></form>
<form class="composer" data-chatctl="composer" hidden><label for="text" class="sr" data-t="message"></label><div class="row"><textarea id="text" name="text" rows="1"></textarea><button class="go" data-t="send"></button></div></form>
</section></div>`;

  /** Creates an element with a class and, optionally, text (always as text, never as HTML). */
  const h = (tag, cls, text) => {
    const el = document.createElement(tag);
    if (cls) el.className = cls;
    if (text != null) el.textContent = text;
    return el;
  };
  const chars = (s) => [...s].length;
  const newCid = () => {
    if (crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  };
  // 0.5 s doubling to 30 s, plus up to 30 % jitter so clients do not return all at once.
  const backoff = (n) => Math.min(30000, 500 * 2 ** n) * (1 + Math.random() * 0.3);
  const hash = (s) => {
    let x = 2166136261;
    for (let i = 0; i < s.length; i++) x = Math.imul(x ^ s.charCodeAt(i), 16777619);
    return x >>> 0;
  };
  const http = (u) => {
    try {
      const url = new URL(u);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (e) {
      return null;
    }
  };
  const URLS = new RegExp("\\bhttps?://[^\\s<>\"']+", "gi");
  const TRAILING = new RegExp("[.,;:!?)\\]}]+$");
  const load = (key) => {
    try {
      return JSON.parse(localStorage.getItem(key)) || {};
    } catch (e) {
      return {};
    }
  };
  const save = (key, value) => {
    try {
      if (value == null) localStorage.removeItem(key);
      else localStorage.setItem(key, JSON.stringify(value));
    } catch (e) {
      // Storage blocked (private mode, sandboxed frame): this lasts for the page only.
    }
  };

  /** A room name for the page: its path, made valid (PROTOCOL.md §5), or `lobby`. */
  const pageRoom = () => {
    const path = location.pathname.replace(new RegExp("[^A-Za-z0-9\\-_.:/]", "g"), "-").replace(new RegExp("/+$"), "");
    if (!path) return "lobby";
    return path.length <= 64 ? path : path.slice(0, 56) + "-" + hash(path).toString(36).slice(0, 7);
  };

  const handlers = {};
  const emit = (name, detail, widget) =>
    (handlers[name] || []).forEach((cb) => {
      try {
        cb(detail, widget);
      } catch (e) {
        console.error("chatctl: error in an event handler", e);
      }
    });

  class Widget {
    constructor(script, pack) {
      const d = script.dataset;
      this.pack = pack;
      this.soundDefault = d.sound === "true";
      this.src = new URL(script.src, location.href);
      this.siteKey = d.site;
      this.room = d.room || pageRoom();
      // A token signed by the host site (verified user); takes precedence over other identities.
      this.userToken = d.userToken || null;
      const ws = new URL(`ws?site=${encodeURIComponent(this.siteKey)}`, this.src);
      ws.protocol = this.src.protocol === "https:" ? "wss:" : "ws:";
      this.url = ws.href;
      this.key = `chatctl:${this.siteKey}:`;
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
      this.pending = new Map(); // cid -> {cid, room, text, el, label, tries, wait, tick}
      this.seenBy = new Map(); // participant id -> highest seq they have seen (read receipts)
      this.typers = new Map(); // participant id -> {nick, timer}
      this.people = new Map(); // participant id -> Who, for the online list
      this.typedAt = 0;
      this.lastSeq = null; // highest seq seen in welcome/message/ack frames: the resume point
      this.unread = 0;
      this.below = 0; // messages that arrived while the reader was scrolled up
      this.resetRoom();

      const target = d.mode === "inline" && d.target ? document.querySelector(d.target) : null;
      if (d.mode === "inline" && !target) console.warn("chatctl: data-target not found, using floating mode");
      this.floating = !target;

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
        root.innerHTML = HTML;
      } else {
        root.innerHTML = `<style>${STYLE}</style>${HTML}`;
      }
      // In the page before anything is measured (the accent colour below).
      (target || document.body).appendChild(host);
      const $ = (s) => root.querySelector(s);
      this.root = root;
      this.el = host;
      this.box = $(".root");
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
      this.forms = {};
      ["nick", "login", "register", "mail", "composer"].forEach((n) => (this.forms[n] = $(`form.${n}`)));
      this.input = $("textarea");

      this.title = d.title || this.T("title");
      this.texts($);
      this.style(d);
      this.setStatus("offline");
      this.renderEmpty();

      if (this.floating) {
        this.box.classList.add("floating");
        if (d.position === "left") this.box.classList.add("left");
        this.panel.setAttribute("role", "dialog");
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
      this.bind($);

      const stored = load(this.key + "read");
      if (!this.floating || d.open === "true") this.open(false);
      // A returning visitor's closed widget connects to count unread messages; a new visitor's
      // page view opens no socket until they open the chat.
      else if (stored[this.room] != null && (this.userToken || load(this.key + "guest").token || load(this.key + "account").token)) this.start();
    }

    /** A translated text; `{name}` placeholders are filled from `vars`. */
    T(key, vars) {
      const s = this.pack[key] || key;
      return vars ? s.replace(new RegExp("\\{(\\w+)\\}", "g"), (m, k) => (vars[k] != null ? vars[k] : m)) : s;
    }

    texts($) {
      // Static texts are named in the markup, by their data-t attributes.
      this.root.querySelectorAll("[data-t]").forEach((e) => (e.textContent = this.T(e.dataset.t)));
      $("h2").textContent = $(".launcher .lt").textContent = this.title;
      $(".x").setAttribute("aria-label", this.T("close"));
      this.list.setAttribute("aria-label", this.T("messages"));
      this.input.placeholder = this.T("placeholder");
      this.renderSound();
    }

    style(d) {
      const s = this.box.style;
      const colour = d.color || d.colour;
      if (colour && W.CSS && CSS.supports("color", colour)) {
        s.setProperty("--a", colour);
        // White or near-black text on the host's colour, whichever reads better (WCAG luminance).
        const probe = h("span");
        probe.style.color = colour;
        this.root.appendChild(probe);
        const rgb = (getComputedStyle(probe).color.match(new RegExp("[\\d.]+", "g")) || [0, 0, 0]).slice(0, 3);
        probe.remove();
        const lum = rgb.map((v) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
        const l = 0.2126 * lum[0] + 0.7152 * lum[1] + 0.0722 * lum[2];
        s.setProperty("--af", 1.05 / (l + 0.05) >= (l + 0.05) / 0.05 ? "#fff" : "#111");
      }
      const theme = d.theme || "light";
      const dark = W.matchMedia && matchMedia("(prefers-color-scheme: dark)");
      const apply = () => this.box.classList.toggle("dark", theme === "dark" || (theme === "auto" && !!dark && dark.matches));
      apply();
      if (theme === "auto" && dark && dark.addEventListener) dark.addEventListener("change", apply);
    }

    bind($) {
      const on = (el, ev, fn) => el.addEventListener(ev, fn);
      Object.entries(this.forms).forEach(([name, form]) =>
        on(form, "submit", (e) => {
          e.preventDefault();
          this[`submit_${name}`](form);
        }),
      );
      this.root.querySelectorAll("[data-to]").forEach((b) => on(b, "click", () => this.showForm(b.dataset.to, true)));
      on(this.input, "keydown", (e) => {
        if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
          e.preventDefault();
          this.submit_composer();
        }
      });
      on(this.input, "input", () => this.onInput());
      on(this.moreBtn, "click", () => this.loadOlder());
      on(document, "visibilitychange", () => this.sendSeen());
      on(this.list, "scroll", () => {
        if (this.atBottom()) this.clearBelow();
        if (this.list.scrollTop < 40 && this.more) this.loadOlder();
      });
      on(this.jumpBtn, "click", () => {
        this.scrollDown();
        this.input.focus();
      });
      on(this.whoBtn, "click", () => {
        const open = this.peopleEl.hidden;
        this.peopleEl.hidden = !open;
        this.whoBtn.setAttribute("aria-expanded", String(open));
      });
      on(this.outBtn, "click", () => this.logout());
      on(this.soundBtn, "click", () => {
        const on = !this.soundOn();
        save("chatctl:sound", { on });
        if (on) this.beep(true); // a user gesture: lets the browser start audio
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
      W.addEventListener("online", () => {
        if (!this.ws && this.started && !this.stopped) {
          clearTimeout(this.retry);
          this.connect();
        }
      });
    }

    // ---- public API --------------------------------------------------------------------

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

    /** Switches this widget to another room. */
    join(room) {
      if (room === this.room) return;
      if (this.joined) this.send({ type: "leave", room: this.room });
      this.room = room;
      this.joined = false;
      this.lastSeq = null;
      this.resetRoom();
      this.pending.forEach((p) => this.unqueue(p));
      this.pending.clear();
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

    // ---- connection --------------------------------------------------------------------

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
    }

    identity() {
      return this.userToken || this.account || this.token;
    }

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
          // Retrying cannot help (unknown site, foreign page, ban): say why and stop.
          this.stopped = true;
          this.setStatus("offline");
          this.showNotice(body.message);
          this.showForm(null);
          return body.message;
        })
        .catch(() => null);
    }

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
        this.onFrame(f);
      };
      ws.onclose = (e) => {
        if (ws !== this.ws) return;
        this.dropped();
        if (STOP_CODES.includes(e.code)) this.stopped = true;
        if (this.stopped) return this.setStatus("offline");
        this.setStatus(this.me ? "reconnecting" : "connecting");
        const retry = () => {
          clearTimeout(this.retry);
          this.retry = setTimeout(() => this.connect(), backoff(this.attempt++));
        };
        // Browsers hide why an upgrade was refused: ask the server.
        if (ws.opened) return retry();
        this.check().then((reason) => reason || retry());
      };
    }

    /** Closes the socket on purpose (its close event is then ignored). */
    disconnect() {
      const ws = this.ws;
      this.dropped();
      if (ws) ws.close(1000);
    }

    /** What the end of a socket changes, whoever ended it. */
    dropped() {
      clearInterval(this.beat);
      this.ws = null;
      this.ready = this.joined = false;
      this.whoBtn.hidden = this.peopleEl.hidden = true;
      this.clearTyping();
    }

    /** A new socket at once, e.g. for another identity. */
    reconnect() {
      this.disconnect();
      this.connect();
    }

    stop() {
      this.stopped = true;
      if (this.ws) this.ws.close(1000);
    }

    send(frame) {
      if (this.ws && this.ws.readyState === 1) this.ws.send(JSON.stringify(frame));
    }

    /** Sends an account frame, opening a socket first when needed. */
    sendEarly(frame) {
      this.stopped = false;
      if (this.ws && this.ws.readyState === 1) return this.send(frame);
      this.early.push(frame);
      this.connect();
    }

    hello() {
      if (this.userToken) this.send({ type: "hello", v: 1, token: this.userToken });
      else if (this.account) this.send({ type: "hello", v: 1, account_token: this.account });
      else if (this.token) this.send({ type: "hello", v: 1, guest_token: this.token });
      else if (this.nick && this.nickChosen) this.send({ type: "hello", v: 1, nick: this.nick });
    }

    sendJoin() {
      const frame = { type: "join", room: this.room };
      if (this.lastSeq != null) frame.since = this.lastSeq;
      this.send(frame);
    }

    // ---- frames from the server --------------------------------------------------------

    onFrame(f) {
      if (f.room != null && f.room !== this.room && f.type !== "error") return;
      const fn = this[`on_${f.type}`];
      if (fn) fn.call(this, f);
    }

    on_ready(f) {
      this.ready = true;
      this.attempt = 0;
      this.me = f.me;
      this.limits = f.limits;
      this.nick = f.me.nick;
      // Only guests get a guest token; other identities live in their own tokens.
      if (f.guest_token) {
        this.token = f.guest_token;
        save(this.key + "guest", { nick: this.nick, token: this.token });
      }
      this.meEl.textContent = this.T("you", { name: f.me.nick });
      this.outBtn.hidden = f.me.kind !== "member";
      this.setStatus("online");
      this.showNotice("");
      this.showForm("composer");
      this.sendJoin();
    }

    on_welcome(f) {
      this.joined = true;
      // The server forgot our receipt when we left: send it again.
      this.seenSent = 0;
      this.people = new Map(f.online.map((w) => [w.id, w]));
      this.renderPeople(f.online.length);
      const first = this.lastSeq == null;
      if (f.mode === "resumed") {
        this.stick(() => f.messages.forEach((m) => this.addMessage(m, undefined, true)));
      } else {
        // latest or reset: this page replaces whatever we had; pending sends stay.
        this.list.querySelectorAll("[data-seq],.sys").forEach((n) => n.remove());
        this.resetRoom();
        this.more = f.more;
        f.messages.forEach((m) => this.addMessage(m));
        this.scrollDown();
      }
      if (first) {
        // Unread on a returning visitor's closed widget: messages since their last visit.
        const read = load(this.key + "read")[this.room];
        if (read != null && !this.isOpen()) {
          this.setUnread(f.messages.filter((m) => m.seq > read && (!this.me || m.author.id !== this.me.id)).length);
        }
      }
      this.lastSeq = f.mode === "resumed" ? Math.max(this.lastSeq, f.seq) : f.seq;
      this.moreBtn.hidden = !this.more;
      this.renderEmpty();
      this.markRead();
      this.fill();
      (f.seen || []).forEach((c) => this.on_seen(c));
      this.sendSeen();
      // Resend everything not yet acknowledged, with the same cid: the server deduplicates.
      this.pending.forEach((p) => this.transmit(p));
    }

    on_message(f) {
      this.lastSeq = Math.max(this.lastSeq || 0, f.seq);
      this.removeTyper(f.author.id);
      const mine = this.me && f.author.id === this.me.id;
      if (mine) {
        // An approve-first message of ours, now approved: it replaces the waiting copy.
        const held = [...this.list.querySelectorAll("[data-state=held]")].find((el) => el.querySelector(".text").textContent === f.text);
        if (held) held.remove();
      }
      this.addMessage(f, undefined, true);
      if (!mine) {
        this.say(`${f.author.nick}: ${f.text}`);
        if (!this.isOpen()) this.setUnread(this.unread + 1);
        if (!this.isOpen() || document.hidden) this.beep();
      }
      this.markRead();
      emit("message", { room: f.room, seq: f.seq, id: f.id, author: f.author, text: f.text, ts: f.ts, own: !!mine }, this);
    }

    on_ack(f) {
      // Acks arrive in seq order with messages, so they advance the resume point too.
      this.lastSeq = Math.max(this.lastSeq || 0, f.seq);
      const p = this.pending.get(f.cid);
      if (!p) return;
      this.unqueue(p);
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
      // Seed 003's delivery report: how many other open chats the message reached.
      p.label.textContent = this.T(f.delivered ? "delivered" : "sent", { n: f.delivered });
      this.index(f.seq, el);
      this.stick(() => this.place(el, f.seq));
      this.renderSeen();
      this.markRead();
    }

    on_history(f) {
      this.loading = false;
      const top = this.list.firstElementChild;
      const before = this.list.scrollHeight;
      f.messages.forEach((m) => this.addMessage(m, top && top.dataset.seq ? top : this.list.querySelector("[data-seq]")));
      this.list.scrollTop += this.list.scrollHeight - before; // keep the reader's place
      this.more = f.more;
      this.moreBtn.hidden = !this.more;
      this.moreBtn.disabled = false;
      this.renderEmpty();
      this.fill();
    }

    on_presence(f) {
      if (f.event === "join") this.people.set(f.who.id, f.who);
      else this.people.delete(f.who.id);
      this.renderPeople(f.online);
      if (this.me && f.who.id === this.me.id) return;
      if (f.event === "leave") this.removeTyper(f.who.id);
      const text = this.T(f.event === "join" ? "joined" : "left", { name: f.who.nick });
      this.stick(() => this.list.appendChild(h("li", "sys", text)));
      this.renderEmpty();
    }

    on_typing(f) {
      const id = f.who.id;
      if (this.me && id === this.me.id) return;
      this.removeTyper(id);
      if (f.active) {
        const timer = setTimeout(() => this.removeTyper(id), TYPING_EXPIRE_MS);
        this.typers.set(id, { nick: f.who.nick, timer });
        this.renderTyping();
      }
    }

    on_deleted(f) {
      const el = this.bySeq.get(f.seq);
      if (el) el.remove();
      this.bySeq.delete(f.seq);
      this.renderEmpty();
    }

    on_reported(f) {
      const el = this.bySeq.get(f.seq);
      const form = el && el.querySelector(".repform");
      if (form) form.replaceWith(h("div", "hint", this.T("reported")));
      this.say(this.T("reported"));
    }

    on_error(f) {
      const p = f.ref != null && this.pending.get(f.ref);
      if (p) return this.sendFailed(p, f);
      if (ACCOUNT_FRAMES.includes(f.ref) || f.ref === "logout") return this.accountError(f);
      if (f.ref === "report") return this.say(f.message);
      switch (f.code) {
        case "invalid_token": {
          if (this.userToken) {
            // The host's token is bad or expired: never fall back to a guest identity.
            this.showNotice(this.T("badUserToken", { why: f.message }));
            this.showForm(null);
            return this.stop();
          }
          // Never loop on a bad token: forget it and ask for a nickname (the socket stays open).
          if (load(this.key + "guest").token === this.token) save(this.key + "guest", { nick: this.nick });
          this.token = null;
          this.showNotice(this.T("badGuestToken"));
          return this.askIdentity(true);
        }
        case "session_expired":
          this.forgetAccount();
          this.showNotice(this.T("sessionExpired"));
          return this.askIdentity(true, "login");
        case "invalid_nick":
        case "nick_taken":
          this.nickChosen = false;
          this.showNotice(this.T(f.code === "nick_taken" ? "nickTaken" : "nickInvalid", { why: f.message }));
          return this.askIdentity(true, "nick");
        case "guests_not_allowed":
        case "verification_required":
          this.nickChosen = false;
          this.token = null;
          this.policy.guests = false;
          if (this.policy.sign_in) return this.askIdentity(true, "login");
          this.showNotice(this.T("signInOnSite"));
          return this.stop();
        case "unsupported_version":
          this.showNotice(f.message);
          return this.stop();
        default:
          if (f.ref === "hello" || f.ref === "join") this.showNotice(f.message);
          else console.warn("chatctl:", f.code, f.message);
      }
    }

    on_notice(f) {
      // The server's message already says what happened and why (a ban's reason).
      let text = f.message;
      if (f.until) text += " " + this.T("until", { time: new Date(f.until).toLocaleString(this.lang) });
      this.showNotice(text);
      if (f.code === "banned" || f.code === "site_disabled" || f.code === "protocol_violation") {
        this.stopped = true;
        this.showForm(null);
      }
    }

    // ---- accounts ----------------------------------------------------------------------

    on_registered(f) {
      this.showForm("login");
      this.forms.login.elements.email.value = f.email;
      this.forms.login.elements.password.focus();
      this.formMessage("login", this.T("checkMail", { email: f.email }));
    }

    on_logged_in(f) {
      this.account = f.account_token;
      save(this.key + "account", { token: f.account_token, name: f.name, email: f.email });
      this.forms.login.reset();
      this.showNotice("");
      this.showForm("composer", this.isOpen());
      if (this.ready) this.reconnect();
      else this.hello();
    }

    on_logged_out() {}

    on_verification_sent(f) {
      this.formMessage("mail", this.T("mailSent", { email: f.email }));
    }

    on_reset_sent(f) {
      this.formMessage("mail", this.T("mailSent", { email: f.email }));
    }

    accountError(f) {
      const form = f.ref === "register" ? "register" : f.ref === "login" ? "login" : "mail";
      const known = {
        invalid_credentials: "badCredentials",
        email_not_verified: "notVerified",
        email_taken: "emailTaken",
        registration_closed: "registrationClosed",
        rate_limited: "tryLater",
      }[f.code];
      const wait = f.retry_after_ms ? Math.ceil(f.retry_after_ms / 1000) : 0;
      this.formMessage(form, known ? this.T(known, { s: wait }) : f.message, true);
    }

    forgetAccount() {
      this.account = null;
      save(this.key + "account", null);
    }

    logout() {
      if (this.account) this.send({ type: "logout", account_token: this.account });
      this.forgetAccount();
      this.me = null;
      this.meEl.textContent = "";
      this.outBtn.hidden = true;
      // Let the logout frame go out before the socket closes.
      setTimeout(() => {
        this.disconnect();
        this.setStatus("offline");
        this.askIdentity(true);
      }, 50);
    }

    submit_login(form) {
      const e = form.elements;
      this.sendEarly({ type: "login", email: e.email.value.trim(), password: e.password.value });
      this.formMessage("login", this.T("wait"));
    }

    submit_register(form) {
      const e = form.elements;
      const frame = { type: "register", name: e.name.value.trim(), email: e.email.value.trim(), password: e.password.value, lang: this.lang };
      this.sendEarly(frame);
      this.formMessage("register", this.T("wait"));
    }

    submit_mail(form) {
      const type = form.dataset.mode === "forgot" ? "forgot_password" : "resend_verification";
      this.sendEarly({ type, email: form.elements.email.value.trim(), lang: this.lang });
      this.formMessage("mail", this.T("wait"));
    }

    // ---- sending -----------------------------------------------------------------------

    submit_nick(form) {
      const nick = form.elements.nick.value.trim();
      if (!nick) return;
      this.nick = nick;
      this.nickChosen = true;
      this.stopped = false;
      this.showNotice("");
      this.showForm("composer");
      this.input.focus();
      if (this.ws && this.ws.readyState === 1) this.hello();
      else this.connect();
    }

    submit_composer() {
      const text = this.input.value.trim();
      if (!text) return;
      const lim = this.limits;
      const cid = newCid();
      const frame = { type: "send", room: this.room, cid, text };
      let problem = "";
      if (lim && chars(text) > lim.max_message_chars) {
        problem = this.T("tooLong", { n: chars(text), max: lim.max_message_chars });
      } else if (lim && new TextEncoder().encode(JSON.stringify(frame)).length > lim.max_frame_bytes) {
        problem = this.T("tooLong", { n: chars(text), max: lim.max_message_chars });
      }
      this.input.setCustomValidity(problem);
      if (problem) {
        this.input.reportValidity();
        return;
      }

      this.input.value = "";
      this.autosize();
      this.stopTyping();
      const el = this.messageEl(this.me || { nick: this.nick || "", kind: "guest", id: 0 }, text, Date.now(), true);
      el.dataset.state = "sending";
      const label = el.querySelector(".state");
      label.textContent = this.T(this.joined ? "sending" : "queued");
      const p = { cid, room: this.room, text, el, label, tries: 0, wait: 0 };
      this.pending.set(cid, p);
      this.list.appendChild(el);
      this.renderEmpty();
      this.scrollDown();
      this.transmit(p);
    }

    transmit(p) {
      if (!this.joined || p.wait) return;
      p.label.textContent = this.T("sending");
      this.send({ type: "send", room: p.room, cid: p.cid, text: p.text });
    }

    unqueue(p) {
      clearTimeout(p.wait);
      clearInterval(p.tick);
      p.wait = 0;
    }

    sendFailed(p, f) {
      let ms = 0;
      const secs = (t) => Math.max(1, Math.ceil(t / 1000));
      if (f.code === "rate_limited" || f.code === "slow_mode") {
        ms = f.retry_after_ms || 1000;
        // A visible countdown, then the same cid again (nothing was stored).
        const key = f.code === "slow_mode" ? "slowMode" : "tooFast";
        const until = Date.now() + ms;
        const show = () => (p.label.textContent = this.T(key, { s: secs(until - Date.now()) }));
        show();
        clearInterval(p.tick);
        p.tick = setInterval(show, 1000);
      } else if (f.code === "storage_unavailable" || f.code === "internal") {
        ms = backoff(++p.tries);
        p.label.textContent = this.T("busy");
      }
      if (ms) {
        clearTimeout(p.wait);
        p.wait = setTimeout(() => {
          this.unqueue(p);
          this.transmit(p);
        }, ms);
        return;
      }
      this.unqueue(p);
      this.pending.delete(p.cid);
      if (f.code === "held_for_review") {
        p.el.dataset.state = "held";
        p.label.textContent = this.T("held");
        return;
      }
      p.el.dataset.state = "failed";
      let why = f.message;
      if (f.code === "muted") {
        why = this.T("muted", { min: Math.max(1, Math.ceil((f.retry_after_ms || 0) / 60000)) });
        this.showNotice(`${why} ${f.message}`);
      } else if (f.code === "room_locked") {
        why = this.T("locked");
        this.showNotice(why);
      }
      p.label.textContent = this.T("notSent", { why });
      this.say(p.label.textContent);
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

    /** A list too short to scroll cannot be scrolled up: load older messages until it fills. */
    fill() {
      const l = this.list;
      if (this.isOpen() && l.clientHeight && l.scrollHeight <= l.clientHeight) this.loadOlder();
    }

    loadOlder() {
      if (this.loading || !this.more || !this.joined) return;
      this.loading = true;
      this.moreBtn.disabled = true;
      this.send({ type: "history", room: this.room, before: this.minSeq, limit: 50 });
    }

    report(el, seq) {
      if (el.querySelector(".repform")) return;
      const form = h("form", "repform");
      const id = `rep${seq}`;
      const label = h("label", "sr", this.T("reportWhy"));
      label.htmlFor = id;
      const input = h("input");
      input.id = id;
      input.maxLength = 500;
      input.placeholder = this.T("reportWhy");
      const go = h("button", "", this.T("report"));
      const cancel = h("button", "", this.T("cancel"));
      cancel.type = "button";
      cancel.addEventListener("click", () => {
        form.remove();
        el.querySelector(".rep").focus();
      });
      form.addEventListener("submit", (e) => {
        e.preventDefault();
        const frame = { type: "report", room: this.room, seq };
        if (input.value.trim()) frame.reason = input.value.trim();
        this.send(frame);
        go.disabled = true;
      });
      form.append(label, input, go, cancel);
      el.querySelector(".body").appendChild(form);
      input.focus();
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

    avatar(who) {
      const av = h("span", "av");
      av.setAttribute("aria-hidden", "true");
      const url = who.avatar && http(who.avatar);
      const initials = () => {
        av.textContent = (who.nick || "?").split(new RegExp("\\s+")).filter(Boolean).slice(0, 2).map((w) => [...w][0]).join("").toUpperCase();
        // Dark enough for white initials at any hue (contrast above 4.5:1).
        av.style.background = `hsl(${hash(`${who.kind}:${who.id}`) % 360},60%,28%)`;
      };
      if (url) {
        const img = h("img");
        img.alt = "";
        img.referrerPolicy = "no-referrer";
        img.loading = "lazy";
        img.onerror = () => {
          img.remove();
          initials();
        };
        img.src = url;
        av.appendChild(img);
      } else {
        initials();
      }
      return av;
    }

    /** Message text with http(s) links made clickable; everything else as text. */
    linkify(text) {
      const div = h("div", "text");
      let at = 0;
      for (const m of text.matchAll(URLS)) {
        const raw = m[0].replace(TRAILING, "");
        const href = http(raw);
        if (!href) continue;
        div.append(text.slice(at, m.index));
        const a = h("a", "", raw);
        a.href = href;
        a.rel = "nofollow noopener ugc";
        a.target = "_blank";
        div.append(a);
        at = m.index + raw.length;
      }
      div.append(text.slice(at));
      return div;
    }

    messageEl(author, text, ts, own) {
      const el = h("li", own ? "msg own" : "msg");
      el.dataset.chatctl = "message";
      const body = h("div", "body");
      const meta = h("div", "meta");
      const time = h("time", "time");
      this.setTime(time, ts);
      meta.append(h("span", "author", author.nick));
      // Guests are marked, so nobody mistakes one for a signed-in user.
      if (author.kind === "guest") meta.append(h("span", "guest", this.T("guest")));
      meta.append(time, h("span", "state"));
      body.append(meta, this.linkify(text));
      el.append(this.avatar(author), body);
      return el;
    }

    setTime(el, ts) {
      const d = new Date(ts);
      el.dateTime = d.toISOString();
      el.title = d.toLocaleString(this.lang);
      // The time alone for today's messages; older ones say which day.
      const opts = { hour: "2-digit", minute: "2-digit" };
      if (d.toDateString() !== new Date().toDateString()) Object.assign(opts, { month: "short", day: "numeric" });
      el.textContent = d.toLocaleString(this.lang, opts);
    }

    /** Adds a stored message once (deduplicated by seq), in seq order, or before `ref`. */
    addMessage(m, ref, live) {
      if (this.bySeq.has(m.seq)) return;
      const own = this.me && m.author.id === this.me.id;
      const el = this.messageEl(m.author, m.text, m.ts, own);
      el.dataset.seq = m.seq;
      el.dataset.id = m.id;
      if (!own) {
        const rep = h("button", "rep", this.T("report"));
        rep.type = "button";
        rep.setAttribute("aria-label", this.T("reportFrom", { name: m.author.nick }));
        rep.addEventListener("click", () => this.report(el, m.seq));
        el.appendChild(rep);
      }
      this.index(m.seq, el);
      if (!live) {
        if (ref) this.list.insertBefore(el, ref);
        else this.place(el, m.seq);
        return;
      }
      const bottom = this.atBottom();
      this.place(el, m.seq);
      if (bottom) this.scrollDown();
      else if (!own) {
        this.below++;
        this.jumpBtn.textContent = this.T("newBelow", { n: this.below });
        this.jumpBtn.hidden = false;
      }
      this.renderEmpty();
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

    atBottom() {
      const l = this.list;
      return l.scrollHeight - l.scrollTop - l.clientHeight < 40;
    }

    /** Runs `fn`, then keeps the list scrolled to the bottom if the reader was there. */
    stick(fn) {
      const bottom = this.atBottom();
      fn();
      if (bottom) this.scrollDown();
    }

    scrollDown() {
      this.list.scrollTop = this.list.scrollHeight;
      this.clearBelow();
    }

    clearBelow() {
      this.below = 0;
      this.jumpBtn.hidden = true;
      this.sendSeen();
    }

    /** Read receipt for what is on screen: at most one a second, the latest one always sent. */
    sendSeen() {
      const seq = this.lastSeq;
      if (!this.joined || !seq || seq <= this.seenSent || document.hidden || !this.isOpen() || !this.atBottom()) return;
      // seenAt is undefined before the first receipt: NaN > 0 is false, so it goes at once.
      const wait = this.seenAt + 1e3 - Date.now();
      clearTimeout(this.seenTimer);
      if (wait > 0) return void (this.seenTimer = setTimeout(() => this.sendSeen(), wait));
      this.seenAt = Date.now();
      this.seenSent = seq;
      this.send({ type: "seen", room: this.room, seq });
    }

    /** "seen by N" under our own messages: the others whose receipt reached them. */
    renderSeen() {
      this.list.querySelectorAll(".msg.own[data-seq]").forEach((el) => {
        let n = 0;
        this.seenBy.forEach((seq) => (n += seq >= +el.dataset.seq));
        if (n) el.querySelector(".state").textContent = this.T("seenBy", { n });
      });
    }

    on_seen(f) {
      if (this.me && f.id === this.me.id) return;
      this.seenBy.set(f.id, Math.max(this.seenBy.get(f.id) || 0, f.seq));
      this.renderSeen();
    }

    renderEmpty() {
      const empty = this.list.querySelector(".empty");
      const has = this.list.querySelector(".msg,.sys");
      if (has && empty) empty.remove();
      if (!has && !empty) this.list.appendChild(h("li", "empty", this.T("empty")));
    }

    renderPeople(count) {
      this.whoBtn.hidden = false;
      this.whoBtn.textContent = this.T("onlineCount", { n: count });
      this.peopleEl.textContent = "";
      this.people.forEach((w) => this.peopleEl.appendChild(h("li", "", w.kind === "guest" ? `${w.nick} ${this.T("guest")}` : w.nick)));
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
        n.length === 1 ? this.T("typing1", { a: n[0] }) :
        n.length === 2 ? this.T("typing2", { a: n[0], b: n[1] }) :
        this.T("typingMany");
    }

    setStatus(s) {
      this.status.className = `status ${s}`;
      this.status.textContent = this.T(s);
    }

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

    say(text) {
      // Cleared first, so that the same text twice is announced twice.
      this.live.textContent = "";
      setTimeout(() => (this.live.textContent = text), 50);
    }

    showNotice(text) {
      this.notice.textContent = text;
      this.notice.hidden = !text;
    }

    /** Shows one of the forms (nick, login, register, forgot, resend, composer) or none. */
    showForm(name, focus) {
      const mode = name === "forgot" || name === "resend" ? name : null;
      if (mode) name = "mail";
      this.formName = name;
      Object.entries(this.forms).forEach(([n, f]) => (f.hidden = n !== name));
      if (mode) {
        const form = this.forms.mail;
        form.dataset.mode = mode;
        form.querySelector(".go").textContent = this.T(mode === "forgot" ? "sendReset" : "sendConfirm");
        this.formMessage("mail", this.T(mode === "forgot" ? "forgotHelp" : "resendHelp"));
      }
      this.renderForms();
      if (focus) this.focusForm();
    }

    /** Hides the links to forms the site does not offer. */
    renderForms() {
      const { guests, registration, sign_in } = this.policy;
      const hide = (sel, hidden) => this.root.querySelectorAll(sel).forEach((b) => (b.hidden = hidden));
      hide("[data-to=nick]", !guests);
      hide("[data-to=register]", !registration);
      // Members can still sign in after the site closes registration.
      hide("[data-to=login],[data-to=forgot],[data-to=resend]", !sign_in);
    }

    formMessage(name, text, error) {
      const box = this.forms[name].querySelector(".msgbox");
      box.textContent = text;
      box.classList.toggle("err", !!error);
    }

    focusForm() {
      const form = this.forms[this.formName];
      const field = form && !form.hidden && form.querySelector("input:not([type=hidden]),textarea");
      if (field) field.focus();
      else if (this.floating) this.panel.querySelector("button:not([hidden])").focus();
    }

    /** No identity yet: a nickname form, or sign-in when the site wants accounts. */
    askIdentity(focus, form) {
      const { guests, sign_in } = this.policy;
      if (!form) form = guests ? "nick" : sign_in ? "login" : null;
      if (!form) {
        this.showForm(null);
        this.showNotice(this.T("signInOnSite"));
        return;
      }
      if (form === "nick" && this.nick) this.forms.nick.elements.nick.value = this.nick;
      this.showForm(form, focus);
    }

    soundOn() {
      const s = load("chatctl:sound");
      return s.on != null ? s.on : this.soundDefault;
    }

    renderSound() {
      const on = this.soundOn();
      this.soundBtn.textContent = this.T(on ? "soundOn" : "soundOff");
    }

    /** A short tone, made here: no audio file to fetch. */
    beep(force) {
      if (!force && !this.soundOn()) return;
      try {
        const ctx = (C.audio = C.audio || new (W.AudioContext || W.webkitAudioContext)());
        const o = ctx.createOscillator();
        const g = ctx.createGain();
        o.frequency.value = 880;
        g.gain.setValueAtTime(0.08, ctx.currentTime);
        g.gain.exponentialRampToValueAtTime(0.0001, ctx.currentTime + 0.25);
        o.connect(g).connect(ctx.destination);
        o.start();
        o.stop(ctx.currentTime + 0.25);
      } catch (e) {
        // No audio here; the badge and the live region still tell.
      }
    }

    autosize() {
      const t = this.input;
      t.style.height = "auto";
      t.style.height = `${t.scrollHeight + t.offsetHeight - t.clientHeight}px`; // content + borders
    }
  }

  // ---- bootstrap -------------------------------------------------------------------------

  const widgets = (C.widgets = C.widgets || []);
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

  const pack = (lang) => {
    const english = () =>
      (C.packs.en = C.packs.en || fetch(SELF.replace(new RegExp("\\.js$"), "/en.json"), { credentials: "omit" }).then((r) => r.json()));
    return (C.packs[lang] || english()).catch(() => (lang === "en" ? {} : english().catch(() => ({}))));
  };

  C.boot = () => {
    const tags = (C.q || []).splice(0);
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
})();
