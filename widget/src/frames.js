// What the widget does with each frame the server sends: the FRAMES table, one handler per
// frame type (docs/PROTOCOL.md describes every frame). A handler is called with the frame and
// with the widget as `this`, like a method of Widget. The table has no prototype: frame
// types come from the network.

import { TYPING_EXPIRE_MS, STOPS, ACCOUNT_FRAMES } from "./codes.js";
import { emit } from "./events.js";
import { h } from "./dom.js";
import { load, save } from "./storage.js";

/** Frame type -> handler; the on-demand part (extra.js) adds the account and report frames. */
export const FRAMES = {
  __proto__: null,
  ready(f) {
    this.ready = true;
    this.attempt = this.waits = 0;
    this.me = f.me;
    this.limits = f.limits;
    this.nick = f.me.nick;
    // Only guests get a guest token; other identities live in their own tokens.
    if (f.guest_token) {
      this.token = f.guest_token;
      save(this.key + "guest", { nick: this.nick, token: this.token });
    }
    this.setT(this.meEl, "you", { name: f.me.nick });
    this.outBtn.hidden = f.me.kind !== "member";
    this.setStatus("online");
    this.showNotice("");
    this.showForm("composer");
    this.siteRoom = f.default_room;
    save(this.key + "room", f.default_room && { name: f.default_room });
    if (!this.fixed && this.room !== this.pageRoom()) this.join(this.pageRoom());
    else this.sendJoin();
  },

  welcome(f) {
    this.joined = true;
    this.joining = null;
    // The server forgot our receipt when we left: send it again.
    this.seenSent = 0;
    this.people = new Map(f.online.map((p) => [p.id, p]));
    // A crowd's welcome lists the first page by id; the people list asks for the next ones.
    this.nextPeople = f.online.length < f.online_total ? f.online[f.online.length - 1].id : null;
    this.lines = f.presence_lines;
    this.applyRules(f.rules);
    this.renderPeople(f.online_total);
    const first = this.lastSeq == null;
    // What came while we were away counts, notifies and is announced like live messages.
    const fresh = first ? [] : f.messages.filter((m) => m.seq > this.lastSeq && !this.bySeq.has(m.seq));
    if (f.mode === "resumed") {
      // Deleted by a moderator while we were away.
      (f.deleted || []).forEach((seq) => FRAMES.deleted.call(this, { seq }));
    } else {
      // latest or reset: this page replaces whatever we had; pending sends stay.
      this.list.querySelectorAll("[data-seq],.sys").forEach((n) => n.remove());
      this.resetRoom();
      this.more = f.more;
      f.messages.forEach((m) => fresh.includes(m) || this.addMessage(m));
      this.scrollDown();
    }
    arrived(this, fresh);
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
    (f.seen || []).forEach((c) => FRAMES.seen.call(this, c));
    this.sendSeen();
    // Resend what is not yet acknowledged, oldest first, with the same cid: the server deduplicates.
    this.inFlight = null;
    this.pump();
  },

  room_rules(f) {
    if (f.room === this.room) this.applyRules(f.rules);
  },

  message(f) {
    this.lastSeq = Math.max(this.lastSeq || 0, f.seq);
    arrived(this, [f]);
  },

  ack(f) {
    // Acks arrive in seq order with messages, so they advance the resume point too.
    this.lastSeq = Math.max(this.lastSeq || 0, f.seq);
    const p = this.pending.get(f.cid);
    if (!p) return;
    this.unqueue(p);
    this.pending.delete(f.cid);
    this.inFlight = null;
    this.pump();
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
  },

  history(f) {
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
  },

  presence(f) {
    if (f.event === "join") this.people.set(f.who.id, f.who);
    else this.people.delete(f.who.id);
    // Back from a crowd, the list missed who came and went meanwhile: ask for it whole.
    if (this.people.size !== f.online && f.online <= 100) this.askPeople(null);
    this.renderPeople(f.online);
    if (this.me && f.who.id === this.me.id) return;
    if (f.event === "leave") this.removeTyper(f.who.id);
    // Off on the site, or a crowd (over 50 present): the lines would drown the talk.
    if (!this.lines || f.online > 50) return;
    const li = this.setT(h("li", "sys"), f.event === "join" ? "joined" : "left", { name: f.who.nick });
    this.stick(() => this.list.appendChild(li));
    this.renderEmpty();
  },

  // A crowd (over 50 present) hears its count, not each join and leave.
  presence_count(f) {
    this.renderPeople(f.online);
  },

  // A page of who is present, asked for by askPeople: the first page replaces the list.
  who(f) {
    this.peopleAsked = false;
    if (f.room !== this.room) return;
    if (this.peopleAfter == null) this.people = new Map();
    f.online.forEach((p) => this.people.set(p.id, p));
    this.nextPeople = f.next;
    this.renderPeople(f.online_total);
  },

  typing(f) {
    const id = f.who.id;
    if (this.me && id === this.me.id) return;
    this.removeTyper(id);
    if (f.active) {
      const timer = setTimeout(() => this.removeTyper(id), TYPING_EXPIRE_MS);
      this.typers.set(id, { nick: f.who.nick, timer });
      this.renderTyping();
    }
  },

  deleted(f) {
    const el = this.bySeq.get(f.seq);
    if (el) el.remove();
    this.bySeq.delete(f.seq);
    this.renderEmpty();
  },

  seen(f) {
    if (this.me && f.id === this.me.id) return;
    this.seenBy.set(f.id, Math.max(this.seenBy.get(f.id) || 0, f.seq));
    this.renderSeen();
  },

  // Before a close. Those that stop the chat say why; after the others the widget reconnects
  // (the status line says so).
  notice(f) {
    if (Object.values(STOPS).includes(f.code)) this.halt(f.code, f);
  },

  error(f) {
    const p = f.ref != null && this.pending.get(f.ref);
    if (p) return this.later(() => this.sendFailed(p, f));
    if (ACCOUNT_FRAMES.includes(f.ref) || f.ref === "logout") return this.accountError(f);
    if (f.ref === "report") return this.say(f.message);
    if (f.ref === "join") {
      this.joining = null;
      // A refused join of a room we have left since: join ours.
      if (f.room != null && f.room !== this.room) return this.sendJoin();
      // Joining rooms too fast (a page changing rooms quickly): again, once allowed.
      // (joinSoon: a dropped socket cancels it, like a join about to go.)
      if (f.code === "rate_limited" && f.retry_after_ms < 6e4) return void (this.joinSoon = setTimeout(() => this.sendJoin(), f.retry_after_ms));
    }
    // Refused identities and rooms: what the visitor reads and does next (refusals.js).
    if (f.ref === "who") this.peopleAsked = false; // the list keeps what it has; a click asks again
    if (f.ref === "hello" || f.ref === "join") this.later(() => this.refusedFrame(f));
    else console.warn("chatctl:", f.code, f.message);
  },

};

/** New messages, live or caught up by a resume: shown, counted in the unread badge, announced
 * to screen readers, a tone, and a `message` event each. (History pages are none of these.) */
const arrived = (w, messages) => {
  let others = 0;
  messages.forEach((f) => {
    w.removeTyper(f.author.id);
    const mine = w.me && f.author.id === w.me.id;
    if (mine) {
      // An approve-first message of ours, now approved: it replaces the waiting copy.
      const held = [...w.list.querySelectorAll("[data-state=held]")].find((el) => el.querySelector(".text").textContent === f.text);
      if (held) held.remove();
    } else {
      others++;
      w.say(`${f.author.nick}: ${f.text}`);
    }
    w.addMessage(f, undefined, true);
    emit("message", { room: w.room, seq: f.seq, id: f.id, author: f.author, text: f.text, ts: f.ts, own: !!mine }, w);
  });
  if (others && !w.isOpen()) w.setUnread(w.unread + others);
  if (others && (!w.isOpen() || document.hidden) && w.soundOn()) w.later(() => w.beep());
  w.markRead();
};

/** Handles one frame; frames for another room than ours (but errors) are stale and dropped. */
export const handleFrame = (w, f) => {
  if (f.room != null && f.room !== w.room && f.type !== "error") {
    // A join that join() made stale meanwhile: leave that room, then join ours.
    if (f.type === "welcome") {
      w.joining = null;
      w.send({ type: "leave", room: f.room });
      w.sendJoin();
    }
    return;
  }
  const handle = FRAMES[f.type];
  if (handle) handle.call(w, f);
};
