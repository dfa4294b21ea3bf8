// The chat page: connect to hubd with a name, join "lobby", send and show
// "chat" messages. hubd's chat plugin stamps each message with the sender's
// name and time; the hub relays it to the room, the sender excluded, so the
// page shows its own messages itself, ticked once hubd has relayed them.
//
// hubd.json turns connection state recovery on: when the connection drops
// for a moment (a network change, a laptop lid), the client reconnects to
// the same socket, still in the room, and first gets the messages it
// missed. The page then has nothing to do again: socket.recovered tells it
// (and body[data-recovered] tells the browser test; body[data-transport]
// tells it the connection's transport, "polling" until the client has
// upgraded to "websocket").
//
// hubd.json also turns presence on: the room's other members get
// "hub:joined" and "hub:left" ({room, id, data}, data being what the
// plugin's connect hook set: the name), shown as notices. When the server
// goes away, the client retries on its own: the page says "reconnecting",
// not an error; only a refusal by the server is shown as one.
(function () {
  "use strict";
  var ROOM = "lobby";
  var $ = function (id) { return document.getElementById(id); };
  var socket = null;
  var myName = "";

  function status(text, cls) {
    $("status").textContent = text;
    $("status").className = cls || "";
  }

  function show(msg, mine) {
    var li = document.createElement("li");
    li.className = "message" + (mine ? " mine" : "");
    var name = document.createElement("span");
    name.className = "name";
    name.textContent = msg.name;
    var time = document.createElement("time");
    time.dateTime = msg.time;
    var d = new Date(msg.time);
    time.textContent = isNaN(d) ? String(msg.time) : d.toLocaleTimeString();
    var text = document.createElement("span");
    text.className = "text";
    text.textContent = msg.text;
    li.append(name, time, text);
    $("messages").appendChild(li);
    li.scrollIntoView({ block: "end" });
    return li;
  }

  function notice(text) {
    var li = document.createElement("li");
    li.className = "notice";
    li.textContent = text;
    $("messages").appendChild(li);
    li.scrollIntoView({ block: "end" });
  }

  function who(p) {
    return p && p.data && typeof p.data.name === "string" ? p.data.name : "someone";
  }

  function ready(text) {
    status(text, "online");
    $("send-button").disabled = false;
    document.body.dataset.ready = "1";
    $("text").focus();
  }

  function connect(name) {
    myName = name;
    $("join").hidden = true;
    $("send").hidden = false;
    status("connecting as " + name + "…");
    socket = io({ auth: { name: name } });
    socket.on("connect", function () {
      var engine = socket.io.engine;
      document.body.dataset.transport = engine.transport.name;
      engine.once("upgrade", function () {
        document.body.dataset.transport = engine.transport.name;
      });
      document.body.dataset.recovered = String(socket.recovered);
      if (socket.recovered) {
        // Same socket, still in the room; what it missed came first.
        ready("reconnected as " + name + " in #" + ROOM + ", nothing missed");
        return;
      }
      socket.emit("hub:join", ROOM, function (res) {
        if (res && res.ok) {
          ready("connected as " + name + " in #" + ROOM);
        } else {
          status("could not join #" + ROOM + ": " + JSON.stringify(res), "error");
        }
      });
    });
    socket.on("connect_error", function (err) {
      if (socket.active) {
        // The server is away or restarting: the client tries again.
        status("reconnecting…", "reconnecting");
      } else {
        // The server refused us (the plugin wants a name): no retry.
        status("connection refused: " + err.message, "error");
      }
    });
    socket.on("disconnect", function (reason) {
      $("send-button").disabled = true;
      delete document.body.dataset.ready;
      if (socket.active) {
        status("reconnecting…", "reconnecting");
      } else {
        status("disconnected (" + reason + ")", "error");
      }
    });
    socket.on("hub:joined", function (p) {
      if (p && p.room === ROOM) notice(who(p) + " joined");
    });
    socket.on("hub:left", function (p) {
      if (p && p.room === ROOM) notice(who(p) + " left");
    });
    socket.on("chat", function (msg) {
      if (msg && typeof msg === "object") show(msg, false);
    });
  }

  $("join").addEventListener("submit", function (e) {
    e.preventDefault();
    var name = $("name").value.trim();
    if (name) connect(name);
  });

  $("send").addEventListener("submit", function (e) {
    e.preventDefault();
    var text = $("text").value;
    if (!text.trim() || !socket || !socket.connected) return;
    // Our own copy: the hub does not echo it back to us. Its ack says the
    // room has it.
    var li = show({ name: myName, time: new Date().toISOString(), text: text.slice(0, 500) }, true);
    socket.emit("chat", { text: text }, function (res) {
      if (res && res.ok) li.classList.add("delivered");
    });
    $("text").value = "";
  });

  var fromQuery = new URLSearchParams(location.search).get("name");
  if (fromQuery && fromQuery.trim()) {
    $("name").value = fromQuery.trim();
    connect(fromQuery.trim());
  }
})();
