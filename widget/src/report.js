// Reporting a message to the moderators: the form under the message and the answer. Part of
// the on-demand script (extra.js); the message's Report button is render.js's.

import { h } from "./dom.js";

export const reportMethods = {
  /** The report form under a message: an optional reason, then a `report` frame. */
  reportForm(el, seq) {
    if (el.querySelector(".repform")) return;
    const form = h("form", "repform");
    const id = `rep${seq}`;
    const label = h("label", "sr", this.T("reportWhy"));
    label.htmlFor = id;
    const input = h("input");
    input.id = id;
    input.maxLength = 500;
    input.dir = "auto";
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
  },
};

/** The report frames' handlers, part of the FRAMES table (frames.js). */
export const reportFrames = {
  reported(f) {
    const el = this.bySeq.get(f.seq);
    const form = el && el.querySelector(".repform");
    if (form) form.replaceWith(h("div", "hint", this.T("reported")));
    this.say(this.T("reported"));
  },
};
