// The tables that name texts: every key they name exists in the English pack (and so in every
// pack: src/http/bundle.rs checks that all packs have the same keys).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import { SEND_WAITS, STOPS, REFUSALS } from "../src/codes.js";
import { ACCOUNT_ERRORS } from "../src/accounts.js";
import { HTML as CORE } from "../src/markup.js";
import { ACCOUNT_FORMS } from "../src/accountmarkup.js";

// The texts of both parts: the core's, and the on-demand part's (its "extra" object).
const pack = JSON.parse(readFileSync(new URL("../lang/en.json", import.meta.url), "utf8"));
const english = { ...pack, ...pack.extra };
// The panel's markup once the on-demand part has added the account forms.
const HTML = CORE + ACCOUNT_FORMS;

test("every text key in the code tables is in en.json", () => {
  for (const key of [...Object.values(ACCOUNT_ERRORS), ...Object.values(SEND_WAITS)]) {
    assert.ok(key in english, key);
  }
});

test("the core's markup names only the core's texts", () => {
  for (const m of CORE.matchAll(/data-t="([^"]+)"/g)) assert.ok(m[1] in pack && m[1] !== "extra", m[1]);
});

test("every data-t key in the markup is in en.json", () => {
  const keys = [...HTML.matchAll(/data-t="([^"]+)"/g)].map((m) => m[1]);
  assert.ok(keys.length > 20, "the markup names its texts");
  for (const key of keys) assert.ok(key in english, key);
});

test("the markup has each form once, hidden, and every link names a form", () => {
  for (const name of ["nick", "login", "register", "mail", "composer"]) {
    assert.equal(HTML.split(`<form class="${name}" data-chatctl="${name}" hidden>`).length, 2, name);
  }
  const targets = [...HTML.matchAll(/data-to="([^"]+)"/g)].map((m) => m[1]);
  for (const to of targets) assert.ok(["nick", "login", "register", "forgot", "resend"].includes(to), to);
  const ids = [...HTML.matchAll(/ id="([^"]+)"/g)].map((m) => m[1]);
  assert.equal(new Set(ids).size, ids.length, "ids are unique");
  for (const m of HTML.matchAll(/ for="([^"]+)"/g)) assert.ok(ids.includes(m[1]), `label for ${m[1]}`);
});

test("the widget stops after the close codes PROTOCOL.md says not to reconnect after", () => {
  const protocol = readFileSync(new URL("../../docs/PROTOCOL.md", import.meta.url), "utf8");
  const table = protocol.slice(protocol.indexOf("### Close codes"));
  const rows = [...table.matchAll(/^\| (\d{4}) \| `(\w+)` \| [^|]+ \| ([^|]+) \|$/gm)];
  assert.ok(rows.length >= 6, "the close code table is where it was");
  const stops = rows.filter((r) => /not reconnect/i.test(r[3].replaceAll("*", "")));
  assert.deepEqual(Object.fromEntries(stops.map((r) => [r[1], r[2]])), STOPS);
});

test("a stop's notice code is never an upgrade refusal that retries", () => {
  // Banned and disabled sites stop both when the upgrade is refused and when the socket closes.
  assert.ok(REFUSALS.includes(STOPS[4003]) && REFUSALS.includes(STOPS[4004]));
});
