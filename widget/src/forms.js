// Which form the panel shows: a nickname, sign-in, registration, the mail form (forgot
// password or resend confirmation), the composer, or none. Methods of Widget (widget.js).

export const formMethods = {
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
  },

  /** Hides the links to forms the site does not offer. */
  renderForms() {
    const { guests, registration, sign_in } = this.policy;
    const hide = (sel, hidden) => this.root.querySelectorAll(sel).forEach((b) => (b.hidden = hidden));
    hide("[data-to=nick]", !guests);
    hide("[data-to=register]", !registration);
    // Members can still sign in after the site closes registration.
    hide("[data-to=login],[data-to=forgot],[data-to=resend]", !sign_in);
  },

  formMessage(name, text, error) {
    const box = this.forms[name].querySelector(".msgbox");
    box.textContent = text;
    box.classList.toggle("err", !!error);
  },

  focusForm() {
    const form = this.forms[this.formName];
    const field = form && !form.hidden && form.querySelector("input:not([type=hidden]),textarea");
    if (field) field.focus();
    else if (this.floating) this.panel.querySelector("button:not([hidden])").focus();
  },

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
  },

  /** A guest's nickname: sent in `hello` (now, or when the socket opens). */
  submitNick(form) {
    const nick = form.elements.nick.value.trim();
    if (!nick) return;
    this.nick = nick;
    this.nickChosen = true;
    this.stopped = false;
    this.showNotice("");
    this.showForm("composer");
    this.input.focus();
    if (this.socketOpen()) this.hello();
    else this.connect();
  },
};
