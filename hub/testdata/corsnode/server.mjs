// server.mjs: Node's socket.io server with the cors option described by
// the JSON in argv[2], for TestCORSAsNode:
//
//   {"origins": [...], "patterns": [...], "allow": [...], "credentials": bool,
//    "exposedHeaders": "...", "any": bool}
//
// origins are strings, patterns RegExp sources, allow the origins a
// function allows (Node's origin callback); any gives origin "*". It
// prints the port it listens on, then serves until stdin closes.
import { createServer } from "node:http";
import { Server } from "socket.io";

const c = JSON.parse(process.argv[2] || "{}");
let origin;
if (c.any) {
  origin = "*";
} else if (c.allow) {
  origin = (o, cb) => cb(null, c.allow.includes(o));
} else if (c.origins || c.patterns) {
  origin = [...(c.origins || []), ...(c.patterns || []).map((p) => new RegExp(p))];
}
const cors = { credentials: !!c.credentials };
if (origin !== undefined) cors.origin = origin;
if (c.exposedHeaders) cors.exposedHeaders = c.exposedHeaders;

const http = createServer();
new Server(http, { cors });
http.listen(0, "127.0.0.1", () => console.log(http.address().port));
process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
