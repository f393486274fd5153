// A reference point for the load generator, not part of chatctl: the least a
// WebSocket chat server can do, on Node's `ws`, speaking just the part of
// chatctl's protocol (docs/PROTOCOL.md) that the load generator uses. No
// database, no presence, no rate limits, no moderation: a welcome carries the
// room's last 50 messages from memory, a send is broadcast to every other
// member and acknowledged. What chatctl does on top of this is its own cost.
//
//   npm install && node server.js 9001
//   cargo bench --bench loadgen -- bigroom-fanout --url ws://127.0.0.1:9001 \
//     --site any --origin http://any --server-pid "$(pgrep -f 'node server.js')"
'use strict';
const { WebSocketServer } = require('ws');

const port = Number(process.argv[2]) || 9001;
const PAGE = 50;
const wss = new WebSocketServer({
  host: '127.0.0.1', port, backlog: 4096, perMessageDeflate: false, maxPayload: 16 * 1024,
});
const rooms = new Map();
let guests = 0;

function room(name) {
  let r = rooms.get(name);
  if (!r) {
    r = { seq: 0, recent: [], members: new Set() };
    rooms.set(name, r);
  }
  return r;
}

wss.on('connection', (ws) => {
  let joined = null;
  ws.on('message', (data) => {
    let f;
    try { f = JSON.parse(data); } catch { return; }
    if (f.type === 'hello') {
      guests += 1;
      ws.send(JSON.stringify({ type: 'ready', guest_token: `g${guests}` }));
    } else if (f.type === 'join' && typeof f.room === 'string') {
      joined = room(f.room);
      joined.members.add(ws);
      const messages = joined.recent.filter((m) => f.since === undefined || m.seq > f.since);
      ws.send(JSON.stringify({
        type: 'welcome', room: f.room, seq: joined.seq, mode: 'latest', messages, online: [],
      }));
    } else if (f.type === 'send' && joined) {
      const seq = ++joined.seq;
      const message = { type: 'message', room: f.room, seq, cid: f.cid, text: String(f.text) };
      joined.recent.push(message);
      if (joined.recent.length > PAGE) joined.recent.shift();
      const frame = JSON.stringify(message);
      for (const member of joined.members) if (member !== ws) member.send(frame);
      ws.send(JSON.stringify({ type: 'ack', cid: f.cid, seq }));
    }
  });
  ws.on('close', () => joined && joined.members.delete(ws));
});
console.log(`node ws reference listening on 127.0.0.1:${port}`);
