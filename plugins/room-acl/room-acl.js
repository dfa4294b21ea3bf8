// room-acl: a join hook that lets a socket join only rooms matching the
// patterns of config.allow, filled in from the claims the jwt plugin
// attached (socket.data.claims). See README.md.
//
//   {"allow": ["user:{sub}", "team:{team}:*", "lobby"]}
//
// {name} is replaced by the claim name (a dotted path such as {org.id}
// reads nested objects); a claim that is missing, empty, or not a string
// or a number makes the pattern match nothing. A "*" at the end of a
// pattern matches any suffix (also the empty one); anywhere else it is an
// ordinary character, and so is everything a claim brings in.

/** A pattern: literal and claim parts, and whether it ends with "*". */
function compile(pattern) {
  if (typeof pattern !== "string" || pattern === "") {
    throw new Error("room-acl: config.allow holds " + JSON.stringify(pattern) + ": want non-empty strings");
  }
  const prefix = pattern.endsWith("*");
  const body = prefix ? pattern.slice(0, -1) : pattern;
  const parts = [];
  const re = /\{([^{}]+)\}/g;
  let last = 0;
  let m;
  while ((m = re.exec(body)) !== null) {
    if (m.index > last) parts.push({ text: body.slice(last, m.index) });
    parts.push({ claim: m[1].split(".") });
    last = re.lastIndex;
  }
  if (last < body.length) parts.push({ text: body.slice(last) });
  return { parts, prefix };
}

const allow = hubd.config.allow;
if (!Array.isArray(allow)) {
  throw new Error('room-acl: config.allow must be an array of patterns, e.g. ["user:{sub}", "lobby"]');
}
const patterns = allow.map(compile);

/** The claim at path, as a string, or undefined. */
function claim(claims, path) {
  let v = claims;
  for (const key of path) {
    if (v === null || typeof v !== "object" || Array.isArray(v) || !Object.prototype.hasOwnProperty.call(v, key)) {
      return undefined;
    }
    v = v[key];
  }
  if (typeof v === "number" && Number.isFinite(v)) return String(v);
  if (typeof v === "string" && v !== "") return v;
  return undefined;
}

/** Whether room matches the pattern p for these claims. */
function matches(p, room, claims) {
  let s = "";
  for (const part of p.parts) {
    if (part.text !== undefined) {
      s += part.text;
      continue;
    }
    const v = claim(claims, part.claim);
    if (v === undefined) return false;
    s += v;
  }
  return p.prefix ? room.startsWith(s) : room === s;
}

hubd.on("join", (env) => {
  const data = env.socket.data;
  const claims = data && typeof data === "object" && data.claims && typeof data.claims === "object" ? data.claims : {};
  for (const room of env.rooms) {
    if (!patterns.some((p) => matches(p, room, claims))) {
      return { action: "deny", reason: "room not allowed", data: { room } };
    }
  }
});
