// What a refused visitor reads and when the widget looks again (src/refusals.js).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import { REFUSAL_TEXTS, SEND_TEXTS, WAITS, refusalText, recheckIn } from "../src/refusals.js";
import { STOPS, REFUSALS } from "../src/codes.js";

const pack = JSON.parse(readFileSync(new URL("../lang/en.json", import.meta.url), "utf8"));
const english = { ...pack, ...pack.extra };

test("every refusal the widget can meet has a sentence in every language's table", () => {
  for (const code of [...Object.values(STOPS), ...REFUSALS]) assert.ok(code in REFUSAL_TEXTS, code);
  for (const key of [...Object.values(REFUSAL_TEXTS), ...Object.values(SEND_TEXTS), "oops", "sendOops", "hostSignIn", "bannedUntil", "reasonIs"]) {
    assert.ok(key in english, key);
  }
  // Only what a page's own change or time can end is looked at again.
  assert.deepEqual(WAITS.filter((c) => !Object.values(STOPS).includes(c)), []);
});

test("no sentence a visitor reads is developer talk", () => {
  for (const key of new Set([...Object.values(REFUSAL_TEXTS), ...Object.values(SEND_TEXTS), "oops", "sendOops", "hostSignIn"])) {
    assert.doesNotMatch(english[key], /token|signature|origin|websocket|HS256|\{why\}|error code/i, key);
  }
});

test("a ban says until when and why, a permanent one what to do", () => {
  const until = Date.UTC(2030, 0, 2, 15, 30);
  const timed = refusalText("banned", { until, reason: "Flooding", message: "banned: Flooding" }, "en");
  assert.equal(timed[0][0], "bannedUntil");
  assert.match(timed[0][1].time, /2030/);
  assert.deepEqual(timed[1], ["reasonIs", { reason: "Flooding" }]);
  assert.deepEqual(refusalText("banned", { until: null }, "en"), [["banned"]]);
});

test("a host's bad token is not a guest's, and unknown codes still say something", () => {
  assert.deepEqual(refusalText("invalid_token", {}, "en", true), [["hostSignIn"]]);
  assert.equal(refusalText("invalid_token", {}, "en", false)[0][0], "badGuestToken");
  assert.equal(refusalText("whatever_new", {}, "en")[0][0], "oops");
  assert.deepEqual(refusalText("rate_limited", { retry_after_ms: 2100, nick: "ann" }, "en")[0], ["busyWait", { name: "ann", s: 3 }]);
  assert.deepEqual(refusalText("nick_in_use", { nick: "ann" }, "en")[0], ["nickInUse", { name: "ann", s: 1 }]);
});

test("looking again: 15 s doubling to 10 minutes, or when a shorter ban ends", () => {
  const now = 1e12;
  for (const [n, low] of [[0, 15e3], [1, 30e3], [3, 120e3], [9, 6e5], [40, 6e5]]) {
    const ms = recheckIn(n, null, now);
    assert.ok(ms >= low && ms <= low * 1.3, `${n}: ${ms}`);
  }
  assert.equal(recheckIn(5, now + 4000, now), 5000);
  assert.equal(recheckIn(0, now - 1, now), 1000, "an ended ban: at once, nearly");
  // A ban of ten years is looked at like a permanent one (and setTimeout takes no such delay).
  assert.ok(recheckIn(2, now + 3.2e11, now) <= 6e5 * 1.3);
});
