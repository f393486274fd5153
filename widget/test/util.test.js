import { test } from "node:test";
import assert from "node:assert/strict";
import { webcrypto } from "node:crypto";

import { backoff, chars, format, hash, hue, http, initials, kind, links, newCid, roomFor, textOn, tooLong, twins } from "../src/util.js";

test("chars counts code points, as the server does", () => {
  assert.equal(chars("abc"), 3);
  assert.equal(chars("é👍🏽"), 3);
  assert.equal(chars(""), 0);
});

// Browsers have `crypto`; Node has it as a global from version 19 (Debian 12 ships 18).
globalThis.crypto ??= webcrypto;

test("newCid makes distinct ids", () => {
  const ids = new Set(Array.from({ length: 100 }, newCid));
  assert.equal(ids.size, 100);
  for (const id of ids) assert.match(id, /^[0-9a-f-]{32,36}$/);
});

test("backoff doubles from 1 s to 30 s, each between half and one and a half times that", () => {
  for (const [n, base] of [[0, 1000], [1, 2000], [3, 8000], [5, 30000], [20, 30000]]) {
    for (let i = 0; i < 50; i++) {
      const ms = backoff(n);
      assert.ok(ms >= base * 0.5 && ms <= base * 1.5, `backoff(${n}) = ${ms}`);
    }
  }
});

test("backoff spreads a room that reconnects together over the whole first second", () => {
  // 10,000 widgets of one room after a server restart: no 100 ms slice of their first
  // attempts gets more than twice its share.
  const slices = new Array(10).fill(0);
  for (let i = 0; i < 10000; i++) slices[Math.min(9, Math.floor((backoff(0) - 500) / 100))]++;
  for (const [k, count] of slices.entries()) assert.ok(count > 500 && count < 2000, `slice ${k}: ${count}`);
});

test("hue: any eight participants in a row get clearly different avatar colours", () => {
  const apart = (a, b) => Math.min(Math.abs(a - b), 360 - Math.abs(a - b));
  for (const start of [1, 2, 977, 123456]) {
    for (let i = 0; i < 8; i++) {
      assert.ok(hue(start + i) >= 0 && hue(start + i) < 360);
      for (let j = i + 1; j < 8; j++) assert.ok(apart(hue(start + i), hue(start + j)) >= 30, `${start + i} and ${start + j}`);
    }
  }
  // Participants 1 and 3 were both navy (hues 246 and 248) with the old FNV-1a of "guest:<id>".
  assert.ok(apart(hue(1), hue(3)) >= 30);
});

test("hash is FNV-1a, 32 bits", () => {
  assert.equal(hash(""), 2166136261);
  assert.equal(hash("a"), 0xe40c292c);
  assert.equal(hash("foobar"), 0xbf9cf968);
});

test("http keeps http(s) URLs only", () => {
  assert.equal(http("https://example.com/a?b=1"), "https://example.com/a?b=1");
  assert.equal(http("http://EXAMPLE.com"), "http://example.com/");
  assert.equal(http("javascript:alert(1)"), null);
  assert.equal(http("data:image/png;base64,AAAA"), null);
  assert.equal(http("not a url"), null);
});

test("format fills placeholders and leaves unknown ones", () => {
  assert.equal(format("{a} and {b}", { a: "x", b: 0 }), "x and 0");
  assert.equal(format("{a} and {c}", { a: "x" }), "x and {c}");
  assert.equal(format("no vars {a}"), "no vars {a}");
  assert.equal(format("{a}", { a: "$&{a}" }), "$&{a}");
});

test("roomFor makes a valid room name from a page path", () => {
  assert.equal(roomFor("/"), "lobby");
  assert.equal(roomFor(""), "lobby");
  assert.equal(roomFor("/blog/post-1/"), "/blog/post-1");
  assert.equal(roomFor("/a b/ü?"), "/a-b/--");
  const long = "/" + "x".repeat(100);
  const room = roomFor(long);
  assert.ok(room.length <= 64, room);
  assert.ok(room.startsWith(long.slice(0, 56) + "-"));
  assert.equal(roomFor(long), room, "stable");
  assert.notEqual(roomFor(long + "y"), room, "distinct");
});

test("links finds http(s) URLs without trailing punctuation", () => {
  assert.deepEqual(links("see https://a.example/x). ok"), [
    "see ",
    { text: "https://a.example/x", href: "https://a.example/x" },
    "). ok",
  ]);
  assert.deepEqual(links("plain text"), ["plain text"]);
  assert.deepEqual(links("javascript:alert(1) <https://b.example>"), [
    "javascript:alert(1) <",
    { text: "https://b.example", href: "https://b.example/" },
    ">",
  ]);
  const two = links("http://a.example and HTTPS://b.example/p?q=1!");
  assert.deepEqual(two.filter((p) => typeof p !== "string").map((p) => p.text), ["http://a.example", "HTTPS://b.example/p?q=1"]);
});

test("initials: up to two, from words", () => {
  assert.equal(initials("ann lee smith"), "AL");
  assert.equal(initials("  bob  "), "B");
  assert.equal(initials("élodie"), "É");
  assert.equal(initials("👍🏽 x"), "👍X");
  assert.equal(initials(""), "?");
  assert.equal(initials(undefined), "?");
});

test("textOn picks the more readable of white and near-black", () => {
  assert.equal(textOn([37, 99, 235]), "#fff"); // the default blue
  assert.equal(textOn([0, 0, 0]), "#fff");
  assert.equal(textOn([255, 255, 255]), "#111");
  assert.equal(textOn([255, 221, 0]), "#111"); // yellow
});

test("tooLong checks characters and the frame's size in bytes", () => {
  const limits = { max_message_chars: 5, max_frame_bytes: 60 };
  const frame = (text) => ({ type: "send", room: "lobby", cid: "c1", text });
  assert.equal(tooLong(frame("hello"), limits), false);
  assert.equal(tooLong(frame("hello!"), limits), true);
  // Five characters, but escaped quotes make the frame too large.
  assert.equal(tooLong(frame('"""""'), { max_message_chars: 5, max_frame_bytes: 55 }), true);
  assert.equal(tooLong(frame("x".repeat(1000)), null), false, "no limits before ready");
});

test("kind marks verified users and members, and anything else as a guest", () => {
  assert.equal(kind({ kind: "verified" }), "verified");
  assert.equal(kind({ kind: "member" }), "member");
  assert.equal(kind({ kind: "guest" }), "guest");
  assert.equal(kind({ kind: "system" }), "system");
  for (const k of ["admin", "owner", "", undefined, "VERIFIED"]) assert.equal(kind({ kind: k }), "guest");
});

test("twins: the people present whose names look alike, by the server's key, else the name in lower case", () => {
  const ids = (people) => [...twins(people)].sort((a, b) => a - b);
  // "Alice" and "Аlice" (Cyrillic А): one key from the server.
  assert.deepEqual(ids([{ id: 1, nick: "Alice", look: "k1" }, { id: 2, nick: "Bob", look: "k2" }, { id: 3, nick: "\u0410lice", look: "k1" }]), [1, 3]);
  // Three of a kind are all marked; different keys never are, whatever the names.
  assert.deepEqual(ids([{ id: 4, nick: "a", look: "x" }, { id: 5, nick: "a", look: "x" }, { id: 6, nick: "a", look: "x" }]), [4, 5, 6]);
  assert.deepEqual(ids([{ id: 1, nick: "Sam", look: "s1" }, { id: 2, nick: "Sam", look: "s2" }]), []);
  // Without keys (an older server): case alone is folded.
  assert.deepEqual(ids([{ id: 7, nick: "Sam" }, { id: 8, nick: "sam" }, { id: 9, nick: "Sam the guest" }]), [7, 8]);
  // Alone, or the same person listed twice: nothing to tell apart.
  assert.deepEqual(ids([{ id: 1, nick: "Alice", look: "k1" }]), []);
  assert.deepEqual(ids([{ id: 1, nick: "Alice", look: "k1" }, { id: 1, nick: "Alice", look: "k1" }]), []);
  assert.deepEqual(ids(new Map([[1, { id: 1, nick: "Al", look: "k" }], [2, { id: 2, nick: "AL", look: "k" }]]).values()), [1, 2]);
});
