// The widget's markup: static, no text in it. Every text is set later with textContent, from
// the data-t keys named here (lang/*.json). The data-chatctl names are for tests and host pages.
// Specs for build() (dom.js), one line per part (a form, the header...), so that they compress
// well; no HTML strings: pages that enforce Trusted Types refuse them. The account forms come
// with the on-demand part (accountmarkup.js).

const HEADER = ["header", {}, ["h2", { id: "title" }], ["button", { type: "button", class: "snd" }], ["button", { type: "button", class: "x" }, ["span", { "aria-hidden": "true" }, "×"]]];

const STATUS_BAR = ["div", { class: "bar" }, ["span", { class: "status", "data-chatctl": "status" }], ["button", { type: "button", class: "link who", "aria-expanded": "false", "aria-controls": "people", hidden: "" }], ["span", { class: "me" }], ["button", { type: "button", class: "link out", "data-t": "signOut", hidden: "" }]];

// A guest's nickname.
const NICK_FORM = ["form", { class: "nick", "data-chatctl": "nick", hidden: "" }, ["label", { for: "nick", "data-t": "pickNick" }], ["div", { class: "row" }, ["input", { id: "nick", name: "nick", maxlength: 32, autocomplete: "nickname", dir: "auto", required: "" }], ["button", { class: "go", "data-t": "join" }]], ["p", { class: "links" }, ["button", { type: "button", class: "link", "data-to": "login", "data-t": "signIn" }], ["button", { type: "button", class: "link", "data-to": "register", "data-t": "register" }]]];

// The composer takes the direction of what is typed in it (dir=auto), like each message.
const COMPOSER_FORM = ["form", { class: "composer", "data-chatctl": "composer", hidden: "" }, ["label", { for: "text", class: "sr", "data-t": "message" }], ["div", { class: "row" }, ["textarea", { id: "text", name: "text", rows: 1, dir: "auto" }], ["button", { class: "go", "data-t": "send" }]]];

export const MARKUP = ["div", { class: "root" },
["button", { type: "button", class: "launcher", "aria-expanded": "false", "aria-controls": "panel" }, ["span", { class: "lt" }], ["span", { class: "badge", hidden: "" }]],
["section", { class: "panel", id: "panel", "aria-labelledby": "title" },
HEADER,
STATUS_BAR,
["ul", { class: "people", id: "people", hidden: "" }],
["p", { class: "notice", "data-chatctl": "notice", role: "alert", hidden: "" }],
["button", { type: "button", class: "more", "data-t": "older", hidden: "" }],
["ol", { class: "messages", "data-chatctl": "messages", tabindex: 0 }],
["button", { type: "button", class: "jump", hidden: "" }],
["div", { class: "typing", "aria-hidden": "true" }],
["div", { class: "sr", "aria-live": "polite", "data-chatctl": "live" }],
NICK_FORM,
COMPOSER_FORM]];
