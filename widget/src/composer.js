// What the visitor sends: the composer and its send queue (in order, one in flight, retried
// with the same cid until acknowledged), typing indicators; a refused send is rare.js's, a report report.js's (loaded on demand). Methods of Widget (widget.js).

import { TYPING_EVERY_MS, TYPING_IDLE_MS } from "./codes.js";
import { newCid, chars, tooLong } from "./util.js";

export const composerMethods = {
  submitComposer() {
    const text = this.input.value.trim();
    if (!text) return;
    // The room's own limit (welcome.rules) is at most the site's (ready.limits).
    const lim = this.rules ? { ...this.limits, max_message_chars: this.rules.max_message_chars } : this.limits;
    const cid = newCid();
    const over = tooLong({ type: "send", room: this.room, cid, text }, lim);
    const problem = over ? this.T("tooLong", { n: chars(text), max: lim.max_message_chars }) : "";
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
    label.textContent = this.T("queued");
    const p = { cid, room: this.room, text, el, label, tries: 0, wait: 0 };
    this.pending.set(cid, p);
    this.list.appendChild(el);
    this.renderEmpty();
    this.scrollDown();
    this.pump();
  },

  /** The room's rules (welcome.rules, room_rules frames): a locked room is read-only, and the
   * composer's placeholder says when slow mode or approval applies. */
  applyRules(rules) {
    this.rules = rules;
    this.input.disabled = rules.locked;
    this.input.placeholder = this.hint();
  },

  hint() {
    const r = this.rules || {};
    if (r.locked) return this.T("readOnly");
    if (r.slow_mode_secs) return this.T("slowRule", { n: r.slow_mode_secs });
    return this.T(r.approve_first ? "approveRule" : "placeholder");
  },

  /** Sends the oldest unacknowledged message, one at a time: the server stores what arrives in
   * order, so a message must not overtake an earlier one that waits (rate limit, slow mode,
   * reconnect, server trouble). The ack or error of this one sends the next. */
  pump() {
    const p = this.pending.values().next().value;
    if (!this.joined || !p || p.wait || this.inFlight === p) return;
    this.inFlight = p;
    p.label.textContent = this.T("sending");
    this.send({ type: "send", room: p.room, cid: p.cid, text: p.text });
  },

  unqueue(p) {
    clearTimeout(p.wait);
    clearInterval(p.tick);
    p.wait = 0;
  },

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
  },

  stopTyping() {
    clearTimeout(this.typingIdle);
    if (!this.typedAt) return;
    this.typedAt = 0;
    if (this.joined) this.send({ type: "typing", room: this.room, active: false });
  },

  autosize() {
    const t = this.input;
    t.style.height = "auto";
    t.style.height = `${t.scrollHeight + t.offsetHeight - t.clientHeight}px`; // content + borders
  },

  /** The report form under a message (report.js, loaded on demand). */
  report(el, seq) {
    this.later(() => this.reportForm(el, seq));
  },
};
