// Type declarations for hubd JavaScript plugins (the goja runtime in
// host/js). They describe exactly what a plugin script sees: the `hubd`
// global, `console`, the envelope a handler gets and the decision it
// returns. Everything else a script uses is standard ECMAScript (ES2020+
// without modules): there is no require, no timers, no I/O. Built-ins that
// would make more than the plugin's max_memory_mib allows (a string, an
// array, a buffer, JSON) throw a RangeError instead; see README.md.
//
// Use from TypeScript:  /// <reference path="hubd.d.ts" />
// Use from JavaScript:  // @ts-check  with this file in the same project.

declare namespace hubd {
  /** The moments of a socket's life a plugin can handle. */
  type Hook = "connect" | "join" | "leave" | "event" | "disconnect";

  /** A value that has a JSON form. */
  type JSONValue = null | boolean | number | string | JSONValue[] | { [key: string]: JSONValue };

  /** The socket a call is about. */
  interface Socket {
    /** The socket's id: 20 characters of URL-safe base64. */
    id: string;
    /** The rooms the socket is in, without its own id room. */
    rooms: string[];
    /**
     * What the connect hook attached (a decision's `socket_data`), parsed
     * from JSON; absent when nothing was attached. This is where per-socket
     * state lives: plugins are stateless per call.
     */
    data?: any;
  }

  /** What the client sent when it connected (connect hook only). */
  interface Handshake {
    /** The client's `auth` payload (`{}` when it sent none). */
    auth: any;
    /** Query parameters, the first value of each. */
    query: Record<string, string>;
    /** Request headers, names in lower case, repeated values joined by ", ". */
    headers: Record<string, string>;
    /** The client's IP address, without the port (behind a proxy: the proxy's). */
    address: string;
  }

  /**
   * A binary argument in `args`: the Socket.IO placeholder object. Its bytes
   * are `env.attachments[num]`.
   */
  interface Placeholder {
    _placeholder: true;
    num: number;
  }

  /** Fields every envelope has. */
  interface BaseEnvelope {
    /** The version of the envelope and decision schema. */
    v: 1;
    hook: Hook;
    /** The namespace, e.g. "/" or "/chat". */
    ns: string;
    socket: Socket;
  }

  /** A client connects to a namespace. */
  interface ConnectEnvelope extends BaseEnvelope {
    hook: "connect";
    handshake: Handshake;
    /**
     * True when the socket is one its client got back after a
     * disconnection (connection state recovery, with its middlewares run);
     * absent otherwise. `socket.id` and `socket.data` are then the restored
     * ones (`socket_data` merges into that data); its rooms come back once
     * the connect is allowed, and a deny fails the recovery.
     */
    recovered?: true;
  }

  /** A socket is about to join rooms. */
  interface JoinEnvelope extends BaseEnvelope {
    hook: "join";
    /** The rooms being joined. */
    rooms: string[];
  }

  /** A socket is about to leave rooms (observe only). */
  interface LeaveEnvelope extends BaseEnvelope {
    hook: "leave";
    /** The rooms being left. */
    rooms: string[];
  }

  /** A client emitted an event. */
  interface EventEnvelope extends BaseEnvelope {
    hook: "event";
    /** The event name. */
    event: string;
    /**
     * The event's arguments, parsed from the packet's JSON. Binary values
     * are Placeholder objects; keep them as they are when you rewrite args.
     * Absent when the event has no arguments.
     */
    args?: any[];
    /** True when the client waits for an ack; absent otherwise. */
    ack?: true;
    /** The rooms the event goes to by default (the sender's rooms). */
    rooms?: string[];
    /** The bytes of the binary arguments (copies), by placeholder number. */
    attachments?: ArrayBuffer[];
  }

  /** A socket disconnected (observe only). */
  interface DisconnectEnvelope extends BaseEnvelope {
    hook: "disconnect";
    /** Why, e.g. "transport close", "client namespace disconnect". */
    reason: string;
  }

  type Envelope = ConnectEnvelope | JoinEnvelope | LeaveEnvelope | EventEnvelope | DisconnectEnvelope;

  /**
   * What a decision asks for. "allow" (or no action) lets the call go on
   * with the decision's changes; the others end the chain of plugins.
   */
  type Action = "allow" | "deny" | "drop" | "reply" | "disconnect";

  /**
   * A handler's answer. Every field is optional; absent (or undefined, or
   * null) means unchanged. Other fields are ignored. Values are read as
   * JSON.stringify would write them; binary values (ArrayBuffer, typed
   * arrays) and BigInts are refused. The decision's JSON form is capped
   * (1 MiB by default).
   */
  interface Decision {
    action?: Action;
    /** Why (deny, drop, disconnect): at most 256 bytes. A denied connect gets it as connect_error's message. */
    reason?: string;
    /** Sent with a deny: connect_error's `data`, or in the deny ack. */
    data?: any;
    /** event hook: rename the event. */
    event?: string;
    /** event hook: replace the arguments (a full array). */
    args?: any[];
    /**
     * join hook: replace the rooms being joined. event hook: route the
     * event to these rooms. A single name stands for a one-element list; at
     * most 256 non-empty names.
     */
    rooms?: string | string[];
    /** event hook: rooms or socket ids the event must not reach. */
    except?: string | string[];
    /** event hook: whether the sender gets its own event back. */
    to_sender?: boolean;
    /**
     * event hook: answer the client's ack with these arguments. With
     * action "reply" the event then stops; with allow it also goes on.
     * Placeholders from `args` stand for the event's binary values, which
     * the client gets back as binary.
     */
    reply?: any[];
    /**
     * connect hook: attach this to the socket, merged key by key into the
     * data it has (a recovered socket's); every later call sees it as
     * `socket.data`.
     */
    socket_data?: any;
    /** connect hook: rooms the socket joins at once. */
    join?: string | string[];
  }

  /**
   * What a handler may return: a decision or nothing (allow unchanged). An
   * async handler is fine if its promise has settled when the handler
   * returns; a promise still pending is an error (there is nothing to wait
   * for: no timers, no I/O).
   */
  type Result = Decision | void | null | undefined | Promise<Decision | void | null | undefined>;

  type Handler<E extends Envelope = Envelope> = (env: E) => Result;

  /**
   * Registers the handler of a hook, once per hook, while the script loads
   * (at its top level). Defining a top-level function onConnect, onJoin,
   * onLeave, onEvent or onDisconnect does the same.
   */
  function on(hook: "connect", handler: Handler<ConnectEnvelope>): void;
  function on(hook: "join", handler: Handler<JoinEnvelope>): void;
  function on(hook: "leave", handler: Handler<LeaveEnvelope>): void;
  function on(hook: "event", handler: Handler<EventEnvelope>): void;
  function on(hook: "disconnect", handler: Handler<DisconnectEnvelope>): void;

  /** The manifest's `config`, deep-frozen; `{}` when the manifest has none. */
  const config: { readonly [key: string]: any };

  /**
   * Writes a line to the plugin's log at a level: strings as they are,
   * other values as JSON. Output per call is capped (16 KiB by default);
   * lines past the cap are dropped and counted.
   */
  function log(level: "debug" | "info" | "warn" | "error", ...values: unknown[]): void;

  /** What a revocation names: the sockets that match every selector given. */
  interface Revocation {
    /** The sockets' namespace ("/" when left out). */
    namespace?: string;
    /** The sockets in any of these rooms (at most 256). */
    rooms?: string[];
    /** The sockets with these ids (at most 1,024). */
    sockets?: string[];
    /** The sockets whose data holds `equals` at the dot-separated `path`. */
    data?: { path: string; equals: JSONValue };
    /** The hook to re-run: "join" (the default) or "connect". */
    recheck?: "join" | "connect";
  }

  /**
   * Queues a revocation: the host puts the grants of the sockets it names
   * back to the plugins, later, on every node (see the SDK README, "Grant
   * revocation"). Needs the "revoke" capability in the manifest and a
   * handler to call it from; throws when the host refuses the revocation
   * (a bad selector, the plugin's rate, a full queue).
   */
  function revoke(revocation: Revocation): void;
}

/** console.* writes to the plugin's log, like hubd.log (log and info at info level). */
declare const console: {
  log(...values: unknown[]): void;
  info(...values: unknown[]): void;
  debug(...values: unknown[]): void;
  warn(...values: unknown[]): void;
  error(...values: unknown[]): void;
};
