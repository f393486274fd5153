// Registered accounts in the widget: the register, sign-in and mail forms, the account
// token, sign-out, and the account frames' answers. Methods of Widget (widget.js), part of the
// on-demand script (extra.js).

import { save } from "./storage.js";
import { h, build } from "./dom.js";
import { ACCOUNT_FORMS } from "./accountmarkup.js";

/** Account errors with a text of their own; others show the server's message. */
export const ACCOUNT_ERRORS = {
  invalid_credentials: "badCredentials",
  email_not_verified: "notVerified",
  email_taken: "emailTaken",
  registration_closed: "registrationClosed",
  rate_limited: "tryLater",
};

export const accountMethods = {
  /** Sends an account frame, opening a socket first when needed. */
  sendEarly(frame) {
    this.stopped = false;
    if (this.socketOpen()) return this.send(frame);
    this.early.push(frame);
    this.connect();
  },

  /** Puts the account forms in the panel, with their texts and what submitting each does. */
  mountExtra() {
    const box = h("div");
    box.append(...ACCOUNT_FORMS.map(build));
    box.querySelectorAll("[data-t]").forEach((e) => (e.textContent = this.T(e.dataset.t)));
    this.bindForms(box, { login: this.submitLogin, register: this.submitRegister, mail: this.submitMail });
    this.forms.composer.before(...box.children);
    this.renderForms();
  },

  /** The mail form as "forgot password" or "resend confirmation". */
  mailMode(mode) {
    const form = this.forms.mail;
    form.dataset.mode = mode;
    form.querySelector(".go").textContent = this.T(mode === "forgot" ? "sendReset" : "sendConfirm");
    this.formMessage("mail", this.T(mode === "forgot" ? "forgotHelp" : "resendHelp"));
  },

  formMessage(name, text, error) {
    const box = this.forms[name].querySelector(".msgbox");
    box.textContent = text;
    box.classList.toggle("err", !!error);
  },

  submitLogin(form) {
    const e = form.elements;
    this.sendEarly({ type: "login", email: e.email.value.trim(), password: e.password.value });
    this.formMessage("login", this.T("wait"));
  },

  submitRegister(form) {
    const e = form.elements;
    const frame = { type: "register", name: e.name.value.trim(), email: e.email.value.trim(), password: e.password.value, lang: this.lang };
    this.sendEarly(frame);
    this.formMessage("register", this.T("wait"));
  },

  /** The mail form: a password reset link, or the confirmation link again. */
  submitMail(form) {
    const type = form.dataset.mode === "forgot" ? "forgot_password" : "resend_verification";
    this.sendEarly({ type, email: form.elements.email.value.trim(), lang: this.lang });
    this.formMessage("mail", this.T("wait"));
  },

  /** An error answering an account frame, shown in its form. */
  accountError(f) {
    const form = f.ref === "register" ? "register" : f.ref === "login" ? "login" : "mail";
    const known = ACCOUNT_ERRORS[f.code];
    const wait = f.retry_after_ms ? Math.ceil(f.retry_after_ms / 1000) : 0;
    this.formMessage(form, known ? this.T(known, { s: wait }) : f.message, true);
  },

  logout() {
    if (this.account) this.send({ type: "logout", account_token: this.account });
    this.forgetAccount();
    this.me = null;
    this.meEl.textContent = "";
    this.outBtn.hidden = true;
    // Let the logout frame go out before the socket closes.
    setTimeout(() => {
      this.disconnect();
      this.setStatus("");
      this.askIdentity(true);
    }, 50);
  },
};

/** Mail was sent (or not, when the address is unknown: the visitor cannot tell). */
function mailSent(f) {
  this.formMessage("mail", this.T("mailSent", { email: f.email }));
}

/** The account frames' handlers, part of the FRAMES table (frames.js). */
export const accountFrames = {
  registered(f) {
    this.showForm("login");
    this.forms.login.elements.email.value = f.email;
    this.forms.login.elements.password.focus();
    this.formMessage("login", this.T("checkMail", { email: f.email }));
  },
  logged_in(f) {
    this.account = f.account_token;
    save(this.key + "account", { token: f.account_token, name: f.name, email: f.email });
    this.forms.login.reset();
    this.showNotice("");
    this.showForm("composer", this.isOpen());
    if (this.ready) this.reconnect();
    else this.hello();
  },
  // The socket closes right after (logout()): nothing to show.
  logged_out() {},
  verification_sent: mailSent,
  reset_sent: mailSent,
};
