// The tables that name texts: every key they name exists in the English pack (and so in every
// pack: src/http/bundle.rs checks that all packs have the same keys).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";

import { SEND_WAITS, STOPS, REFUSALS } from "../src/codes.js";
import { ACCOUNT_ERRORS } from "../src/accounts.js";
import { MARKUP } from "../src/markup.js";
import { ACCOUNT_FORMS } from "../src/accountmarkup.js";

// The texts of both parts: the core's, and the on-demand part's (its "extra" object).
const pack = JSON.parse(readFileSync(new URL("../lang/en.json", import.meta.url), "utf8"));
const english = { ...pack, ...pack.extra };
/** Every element of a markup spec (build() in dom.js), as [tag, attributes]. */
const elements = ([tag, attrs, ...kids]) => [[tag, attrs], ...kids.filter(Array.isArray).flatMap(elements)];
const CORE = elements(MARKUP);
// The panel's markup once the on-demand part has added the account forms.
const ALL = [...CORE, ...ACCOUNT_FORMS.flatMap(elements)];
const values = (els, attr) => els.map((e) => e[1][attr]).filter((v) => v != null).map(String);

test("every text key in the code tables is in en.json", () => {
  for (const key of [...Object.values(ACCOUNT_ERRORS), ...Object.values(SEND_WAITS)]) {
    assert.ok(key in english, key);
  }
});

// Once the on-demand part loads, its texts join the core's in one table: a key in both would
// silently replace the core's text with another one.
test("no text key is both the core's and the on-demand part's", () => {
  const dir = new URL("../lang/", import.meta.url);
  for (const file of readdirSync(dir)) {
    const texts = JSON.parse(readFileSync(new URL(file, dir), "utf8"));
    const shared = Object.keys(texts.extra).filter((key) => key in texts);
    assert.deepEqual(shared, [], file);
  }
});

test("the core's markup names only the core's texts", () => {
  for (const key of values(CORE, "data-t")) assert.ok(key in pack && key !== "extra", key);
});

test("every data-t key in the markup is in en.json", () => {
  const keys = values(ALL, "data-t");
  assert.ok(keys.length > 20, "the markup names its texts");
  for (const key of keys) assert.ok(key in english, key);
});

test("the markup has each form once, hidden, and every link names a form", () => {
  for (const name of ["nick", "login", "register", "mail", "composer"]) {
    const forms = ALL.filter(([tag, a]) => tag === "form" && a.class === name && a["data-chatctl"] === name && a.hidden === "");
    assert.equal(forms.length, 1, name);
  }
  for (const to of values(ALL, "data-to")) assert.ok(["nick", "login", "register", "forgot", "resend"].includes(to), to);
  const ids = values(ALL, "id");
  assert.equal(new Set(ids).size, ids.length, "ids are unique");
  for (const id of values(ALL, "for")) assert.ok(ids.includes(id), `label for ${id}`);
});

test("what people type takes its own direction", () => {
  for (const id of ["nick", "text", "rn"]) assert.equal(ALL.find((e) => e[1].id === id)[1].dir, "auto", id);
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
