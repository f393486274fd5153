// The message list and what surrounds it: messages in seq order (deduplicated), avatars,
// links, times, history pages, read receipts, who is online and typing, the status line.
// Methods of Widget (widget.js).

import { h } from "./dom.js";
import { hue, http, initials, kind, links, twins } from "./util.js";

export const renderMethods = {
  resetRoom() {
    this.bySeq = new Map(); // seq -> element, for dedupe and deletions
    this.minSeq = Infinity; // lowest seq shown: `before` for the next history page
    this.more = false;
  },

  index(seq, el) {
    this.bySeq.set(seq, el);
    this.minSeq = Math.min(this.minSeq, seq);
  },

  avatar(who) {
    const av = h("span", "av");
    av.setAttribute("aria-hidden", "true");
    const url = who.avatar && http(who.avatar);
    const noPicture = () => {
      av.textContent = initials(who.nick);
      // Dark enough for white initials at any hue (contrast above 4.5:1).
      av.style.background = `hsl(${hue(who.id)},60%,28%)`;
    };
    if (url) {
      const img = h("img");
      img.alt = "";
      img.referrerPolicy = "no-referrer";
      img.loading = "lazy";
      img.onerror = () => {
        img.remove();
        noPicture();
      };
      img.src = url;
      av.appendChild(img);
    } else {
      noPicture();
    }
    return av;
  },

  /** Message text with http(s) links made clickable; everything else as text. */
  linkify(text) {
    const div = h("div", "text");
    div.dir = "auto";
    for (const part of links(text)) {
      if (typeof part === "string") {
        div.append(part);
        continue;
      }
      const a = h("a", "", part.text);
      a.href = part.href;
      a.rel = "nofollow noopener ugc";
      a.target = "_blank";
      div.append(a);
    }
    return div;
  },

  messageEl(author, text, ts, own) {
    const el = h("li", own ? "msg own" : "msg");
    el.dataset.chatctl = "message";
    el.dataset.author = author.id;
    const body = h("div", "body");
    const meta = h("div", "meta");
    const time = h("time", "time");
    this.setTime(time, ts);
    // Every kind is marked (verified, member, guest): names alone can look alike.
    // Names and texts take their own direction (bidi isolation): Arabic in an English page and
    // English in a right-to-left page both read right.
    meta.append(h("bdi", "author", author.nick), this.tag(author.id), h("span", "kind " + kind(author), this.T(kind(author))), time, h("span", "state"));
    body.append(meta, this.linkify(text));
    el.append(this.avatar(author), body);
    return el;
  },

  setTime(el, ts) {
    const d = new Date(ts);
    el.dateTime = d.toISOString();
    el.title = d.toLocaleString(this.lang);
    // The time alone for today's messages; older ones say which day.
    const opts = { hour: "2-digit", minute: "2-digit" };
    if (d.toDateString() !== new Date().toDateString()) Object.assign(opts, { month: "short", day: "numeric" });
    el.textContent = d.toLocaleString(this.lang, opts);
  },

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
  },

  /** Puts `el` after every message with a lower seq, but before our own pending sends. */
  place(el, seq) {
    let ref = null;
    let n = this.list.lastElementChild;
    while (n && (n === el || (n.dataset.seq ? +n.dataset.seq > seq : n.dataset.state === "sending"))) {
      if (n !== el) ref = n;
      n = n.previousElementSibling;
    }
    if (el.parentNode !== this.list || el.nextElementSibling !== ref) this.list.insertBefore(el, ref);
  },

  atBottom() {
    const l = this.list;
    return l.scrollHeight - l.scrollTop - l.clientHeight < 40;
  },

  /** Runs `fn`, then keeps the list scrolled to the bottom if the reader was there. */
  stick(fn) {
    const bottom = this.atBottom();
    fn();
    if (bottom) this.scrollDown();
  },

  scrollDown() {
    this.list.scrollTop = this.list.scrollHeight;
    this.stuck = true;
    this.clearBelow();
  },

  clearBelow() {
    this.below = 0;
    this.jumpBtn.hidden = true;
    this.sendSeen();
  },

  /** A list too short to scroll cannot be scrolled up: load older messages until it fills. */
  fill() {
    const l = this.list;
    if (this.isOpen() && l.clientHeight && l.scrollHeight <= l.clientHeight) this.loadOlder();
  },

  loadOlder() {
    if (this.loading || !this.more || !this.joined) return;
    this.loading = true;
    this.moreBtn.disabled = true;
    this.send({ type: "history", room: this.room, before: this.minSeq, limit: 50 });
  },

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
  },

  /** "seen by N" under our own messages: the others whose receipt reached them. */
  renderSeen() {
    this.list.querySelectorAll(".msg.own[data-seq]").forEach((el) => {
      let n = 0;
      this.seenBy.forEach((seq) => (n += seq >= +el.dataset.seq));
      if (n) el.querySelector(".state").textContent = this.T("seenBy", { n });
    });
  },

  /** "No messages yet. Say hi!" in an empty list, unless the chat stopped (nobody can say hi). */
  renderEmpty() {
    const empty = this.list.querySelector(".empty");
    const want = !this.stopped && !this.list.querySelector(".msg,.sys");
    if (!want && empty) empty.remove();
    if (want && !empty) this.list.appendChild(h("li", "empty", this.T("empty")));
  },

  /** "#id" after a name while someone else present has the same or a look-alike name: verified
   * users' names are the host's to give, and two Alices differ by more than a colour. */
  tag(id) {
    return h("span", "tag", this.twins.has(id) ? `#${id}` : "");
  },

  renderPeople(count) {
    this.online = count;
    this.twins = twins(this.people.values());
    this.whoBtn.hidden = false;
    // "1,234 online": the count written the way the visitor's language writes numbers.
    this.whoBtn.textContent = this.T("onlineCount", { n: count.toLocaleString(this.lang) });
    this.peopleEl.textContent = "";
    this.people.forEach((w) => {
      const li = h("li");
      li.append(h("bdi", "", w.nick), this.tag(w.id), ` ${this.T(kind(w))}`);
      this.peopleEl.appendChild(li);
    });
    // In a crowd the list holds the pages asked for so far (docs/PROTOCOL.md, "Crowds").
    if (this.nextPeople != null) {
      const more = h("button", "link more-people", this.T("morePeople"));
      more.type = "button";
      more.onclick = () => this.askPeople(this.nextPeople);
      this.peopleEl.appendChild(h("li")).appendChild(more);
    }
    this.list.querySelectorAll("[data-author]").forEach((el) => el.querySelector(".tag").replaceWith(this.tag(+el.dataset.author)));
  },

  removeTyper(id) {
    const t = this.typers.get(id);
    if (!t) return;
    clearTimeout(t.timer);
    this.typers.delete(id);
    this.renderTyping();
  },

  clearTyping() {
    this.typers.forEach((t) => clearTimeout(t.timer));
    this.typers.clear();
    this.renderTyping();
  },

  renderTyping() {
    const n = Array.from(this.typers.values(), (t) => t.nick);
    this.setT(this.typingEl, n.length === 0 ? "" : n.length === 1 ? "typing1" : n.length === 2 ? "typing2" : "typingMany", { a: n[0], b: n[1] });
  },

  /** The status line: connecting, connected, reconnecting; none when there is no connection
   * to speak of (no identity chosen yet, or the chat stopped: the notice says why). */
  setStatus(s) {
    this.status.className = `status ${s}`;
    this.status.textContent = s && this.T(s);
    this.status.hidden = !s;
  },

  say(text) {
    // Each announcement a node of its own: several at once are all read, the same text twice
    // twice. The region keeps the latest few.
    this.live.append(h("p", "", text));
    if (this.live.childNodes.length > 9) this.live.firstChild.remove();
  },

  showNotice(text) {
    this.notice.textContent = text;
    this.notice.hidden = !text;
  },
};
