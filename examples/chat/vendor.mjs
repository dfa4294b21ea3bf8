// Copies the socket.io-client browser bundle from node_modules into
// public/vendor/, where hubd serves it. Run by `npm run vendor` and after
// `npm install` / `npm ci` (postinstall). The copy is not committed.
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const from = join(here, "node_modules", "socket.io-client", "dist", "socket.io.min.js");
const to = join(here, "public", "vendor", "socket.io.min.js");
mkdirSync(dirname(to), { recursive: true });
copyFileSync(from, to);
console.log("copied", from, "->", to);
