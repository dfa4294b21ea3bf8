// payload-limit: an event hook that refuses events whose arguments are too
// large or too deeply nested, or whose name is not on an allow list. See
// README.md.
//
//   {"max_bytes": 65536, "max_depth": 16, "events": ["chat", "game:*"]}
//
// max_bytes bounds the UTF-8 size of JSON.stringify(env.args); max_depth
// the nesting of env.args (the args array itself is depth 1); events, when
// present, lists the event names allowed, a "*" at the end of a name
// matching any suffix. Every key is optional.

/** A positive integer from config[key], or undefined when absent. */
function limit(key) {
  const v = hubd.config[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) {
    throw new Error("payload-limit: config." + key + " is " + JSON.stringify(v) + ": want a positive integer");
  }
  return v;
}

const maxBytes = limit("max_bytes");
const maxDepth = limit("max_depth");

/** The allow list as {name, prefix} entries, or undefined. */
const allowed = (() => {
  const list = hubd.config.events;
  if (list === undefined || list === null) return undefined;
  if (!Array.isArray(list)) {
    throw new Error('payload-limit: config.events must be an array of names, e.g. ["chat", "game:*"]');
  }
  return list.map((name) => {
    if (typeof name !== "string" || name === "") {
      throw new Error("payload-limit: config.events holds " + JSON.stringify(name) + ": want non-empty strings");
    }
    return name.endsWith("*") ? { name: name.slice(0, -1), prefix: true } : { name, prefix: false };
  });
})();

/** The UTF-8 length of s (lone surrogates count 3, as U+FFFD). */
function utf8Length(s) {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

/** Whether the JSON text of args is longer than max bytes. */
function tooLarge(args, max) {
  const s = JSON.stringify(args === undefined ? [] : args);
  if (s.length > max) return true; // every UTF-16 unit is at least one byte
  if (s.length * 3 <= max) return false; // and at most three
  return utf8Length(s) > max;
}

/** Whether v nests deeper than max: a scalar is 0, an array or object 1 + its deepest member. */
function tooDeep(v, max) {
  const stack = [[v, 1]];
  while (stack.length > 0) {
    const [x, d] = stack.pop();
    if (x === null || typeof x !== "object") continue;
    if (d > max) return true;
    const members = Array.isArray(x) ? x : Object.values(x);
    for (const m of members) {
      if (m !== null && typeof m === "object") stack.push([m, d + 1]);
    }
  }
  return false;
}

hubd.on("event", (env) => {
  if (allowed !== undefined) {
    const name = env.event;
    if (!allowed.some((a) => (a.prefix ? name.startsWith(a.name) : name === a.name))) {
      return { action: "deny", reason: "event not allowed", data: { event: name } };
    }
  }
  if (maxDepth !== undefined && tooDeep(env.args, maxDepth)) {
    return { action: "deny", reason: "payload too deep", data: { limit: maxDepth } };
  }
  if (maxBytes !== undefined && tooLarge(env.args, maxBytes)) {
    return { action: "deny", reason: "payload too large", data: { limit: maxBytes } };
  }
});
