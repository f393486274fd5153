// Which form the panel shows: a nickname, sign-in, registration, the mail form (forgot
// password or resend confirmation), the composer, or none. Methods of Widget (widget.js).
// The account forms come with the on-demand part (accounts.js, through lazy.js).

export const formMethods = {
  /** Binds the forms in `scope` (what submitting each does, their links to other forms). */
  bindForms(scope, submits) {
    Object.entries(submits).forEach(([name, submit]) => {
      const form = (this.forms[name] = scope.querySelector(`form.${name}`));
      form.addEventListener("submit", (e) => {
        e.preventDefault();
        submit.call(this, form);
      });
    });
    scope.querySelectorAll("[data-to]").forEach((b) => b.addEventListener("click", () => this.showForm(b.dataset.to, true)));
  },

  /** Shows one of the forms (nick, login, register, forgot, resend, composer) or none. */
  showForm(name, focus) {
    const mode = name === "forgot" || name === "resend" ? name : null;
    const form = mode ? "mail" : name;
    // An account form: none until the on-demand part is here.
    if (form && !this.forms[form]) {
      this.showForm(null);
      return this.later(() => this.showForm(name, focus));
    }
    this.formName = form;
    Object.entries(this.forms).forEach(([n, f]) => (f.hidden = n !== form));
    if (mode) this.mailMode(mode);
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
      this.later(() => this.showNotice(this.sentence("verification_required", {})));
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
