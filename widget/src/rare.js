// What the widget needs rarely, loaded on demand (extra.js): what to do when the server refuses
// a message (wait and retry, hold, or fail with a reason) and the new-message tone. Methods of
// Widget (widget.js).

import { C, W } from "./global.js";
import { SEND_WAITS, SEND_RETRIES } from "./codes.js";
import { SEND_TEXTS } from "./refusals.js";
import { backoff } from "./util.js";

export const rareMethods = {
  /** A send refused: retried later (rate limits, server trouble), held, or failed for good. */
  sendFailed(p, f) {
    // The queue waits behind this one (order): retried, it goes first; dropped, the next goes.
    this.inFlight = null;
    let ms = 0;
    const secs = (t) => Math.max(1, Math.ceil(t / 1000));
    const countdown = SEND_WAITS[f.code];
    if (countdown) {
      ms = f.retry_after_ms || 1000;
      // A visible countdown, then the same cid again (nothing was stored).
      const until = Date.now() + ms;
      const show = () => (p.label.textContent = this.T(countdown, { s: secs(until - Date.now()) }));
      show();
      clearInterval(p.tick);
      p.tick = setInterval(show, 1000);
    } else if (SEND_RETRIES.includes(f.code)) {
      ms = backoff(++p.tries);
      p.label.textContent = this.T("busy");
    }
    if (ms) {
      clearTimeout(p.wait);
      p.wait = setTimeout(() => {
        this.unqueue(p);
        this.pump();
      }, ms);
      return;
    }
    this.unqueue(p);
    this.pending.delete(p.cid);
    this.pump();
    if (f.code === "held_for_review") {
      p.el.dataset.state = "held";
      p.label.textContent = this.T("held");
      return;
    }
    p.el.dataset.state = "failed";
    let why = this.T(SEND_TEXTS[f.code] || "sendOops");
    if (f.code === "muted") {
      why = this.T("muted", { min: Math.max(1, Math.ceil((f.retry_after_ms || 0) / 60000)) });
      // The moderator's own words, if they gave a reason.
      this.showNotice(f.reason ? `${why} ${this.T("reasonIs", { reason: f.reason })}` : why);
    } else if (f.code === "room_locked") {
      this.showNotice(why);
    }
    p.label.textContent = this.T("notSent", { why });
    this.say(p.label.textContent);
  },

  /** A short tone, made here: no audio file to fetch. */
  beep() {
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
};
