// The chat page: connect to hubd with a name, join "lobby", send and show
// "chat" messages. hubd's chat plugin stamps each message with the sender's
// name and time; the hub relays it to the room, the sender excluded, so the
// page shows its own messages itself.
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
  }

  function connect(name) {
    myName = name;
    $("join").hidden = true;
    $("send").hidden = false;
    status("connecting as " + name + "…");
    socket = io({ auth: { name: name } });
    socket.on("connect", function () {
      socket.emit("hub:join", ROOM, function (res) {
        if (res && res.ok) {
          status("connected as " + name + " in #" + ROOM, "online");
          $("send-button").disabled = false;
          document.body.dataset.ready = "1";
          $("text").focus();
        } else {
          status("could not join #" + ROOM + ": " + JSON.stringify(res), "error");
        }
      });
    });
    socket.on("connect_error", function (err) {
      status("connection refused: " + err.message, "error");
    });
    socket.on("disconnect", function (reason) {
      $("send-button").disabled = true;
      delete document.body.dataset.ready;
      status("disconnected (" + reason + "), reconnecting…", "error");
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
    socket.emit("chat", { text: text });
    // Our own copy: the hub does not echo it back to us.
    show({ name: myName, time: new Date().toISOString(), text: text.slice(0, 500) }, true);
    $("text").value = "";
  });

  var fromQuery = new URLSearchParams(location.search).get("name");
  if (fromQuery && fromQuery.trim()) {
    $("name").value = fromQuery.trim();
    connect(fromQuery.trim());
  }
})();
