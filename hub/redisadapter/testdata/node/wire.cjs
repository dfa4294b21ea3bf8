// The JSON form in which the Node peers (peer.cjs, streams_peer.cjs) and
// the Go tests exchange values: binary as {"$bin": base64}.
"use strict";

const toWire = (v) => {
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return { $bin: Buffer.from(v).toString("base64") };
  if (Array.isArray(v)) return v.map(toWire);
  if (v && typeof v === "object") {
    const out = {};
    for (const [k, x] of Object.entries(v)) out[k] = toWire(x);
    return out;
  }
  return v;
};

const fromWire = (v) => {
  if (Array.isArray(v)) return v.map(fromWire);
  if (v && typeof v === "object") {
    if (typeof v.$bin === "string") return Buffer.from(v.$bin, "base64");
    const out = {};
    for (const [k, x] of Object.entries(v)) out[k] = fromWire(x);
    return out;
  }
  return v;
};

// say prints one JSON line for the Go side.
const say = (o) => process.stdout.write(JSON.stringify(o) + "\n");

module.exports = { toWire, fromWire, say };
