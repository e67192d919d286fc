// The chat page, on the official browser client (served by our server at /socket.io/).
// Query options: ?name=ada logs in at once; ?transports=polling or ?transports=websocket
// forces one transport.
"use strict";

const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);

const state = {
  me: null,               // {id, name}
  current: "#lobby",      // "#room" or "@userId"
  conversations: new Map(), // key -> {title, items: [], unread: 0, users: []}
  joined: new Set(),      // rooms to rejoin after a reconnection
  everConnected: false,
};

function conversation(key, title) {
  if (!state.conversations.has(key)) {
    state.conversations.set(key, { title: title || key, items: [], unread: 0, users: [] });
  }
  return state.conversations.get(key);
}

function clock(at) {
  return new Date(at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

function add(key, item) {
  const conv = conversation(key);
  conv.items.push(item);
  if (key !== state.current) conv.unread += 1;
  render();
}

function notice(key, text, at) {
  add(key, { kind: "notice", text, at: at || Date.now() });
}

function render() {
  const rooms = $("rooms");
  rooms.replaceChildren();
  for (const [key, conv] of state.conversations) {
    const li = document.createElement("li");
    li.textContent = conv.title;
    li.dataset.key = key;
    if (key === state.current) li.className = "current";
    if (conv.unread) {
      const badge = document.createElement("span");
      badge.className = "unread";
      badge.textContent = String(conv.unread);
      li.append(badge);
    }
    li.onclick = () => show(key);
    rooms.append(li);
  }
  const conv = conversation(state.current);
  $("title").textContent = conv.title;
  $("leave").hidden = !state.current.startsWith("#") || state.current === "#lobby";
  const list = $("messages");
  list.replaceChildren();
  for (const item of conv.items) {
    const li = document.createElement("li");
    li.className = item.kind;
    li.dataset.kind = item.kind;
    const time = document.createElement("span");
    time.className = "time";
    time.textContent = clock(item.at);
    li.append(time);
    if (item.from) {
      const who = document.createElement("b");
      who.textContent = item.from.name + ": ";
      li.append(who);
    }
    li.append(document.createTextNode(item.text));
    list.append(li);
  }
  list.scrollTop = list.scrollHeight;
  const users = $("users");
  users.replaceChildren();
  for (const user of conv.users) {
    const li = document.createElement("li");
    li.textContent = user.name + (state.me && user.id === state.me.id ? " (you)" : "");
    li.dataset.id = user.id;
    li.title = "send a private message";
    li.onclick = () => openPrivate(user);
    users.append(li);
  }
}

function show(key) {
  state.current = key;
  conversation(key).unread = 0;
  render();
  $("text").focus();
}

function openPrivate(user) {
  if (state.me && user.id === state.me.id) return;
  const conv = conversation("@" + user.id, "@" + user.name);
  conv.users = [state.me, user];
  show("@" + user.id);
}

function error(text) {
  $("error").textContent = text || "";
}

function setStatus(kind, text) {
  $("status").dataset.state = kind;
  $("status").textContent = text;
}

function start(name) {
  const options = { auth: { name } };
  const transports = params.get("transports");
  if (transports) options.transports = transports.split(",");
  const socket = io(options);
  window.chatSocket = socket;  // for the browser tests and the curious

  socket.on("connect", () => {
    setStatus("connected", "connected (" + socket.io.engine.transport.name + ")");
    socket.io.engine.on("upgrade", (t) => setStatus("connected", "connected (" + t.name + ")"));
    $("login").hidden = true;
    $("chat").hidden = false;
    if (state.everConnected) {
      for (const key of state.conversations.keys()) notice(key, "reconnected");
      for (const room of state.joined) socket.emit("join", room, () => {});
    }
    state.everConnected = true;
  });

  socket.on("connect_error", (err) => {
    if (!socket.active) {
      $("login").hidden = false;
      $("chat").hidden = true;
      $("login-error").textContent = err.message;
    }
  });

  socket.on("disconnect", (reason) => {
    setStatus(socket.active ? "reconnecting" : "offline", "disconnected: " + reason);
    for (const key of state.conversations.keys()) notice(key, "disconnected (" + reason + ")");
  });

  socket.io.on("reconnect_attempt", (attempt) => {
    setStatus("reconnecting", "reconnecting (attempt " + attempt + ")");
  });

  socket.on("welcome", ({ user }) => {
    state.me = user;
    $("me").textContent = "you are " + user.name;
  });

  socket.on("presence", ({ room, users }) => {
    conversation("#" + room).users = users;
    render();
  });

  socket.on("joined", ({ room, user, at }) => notice("#" + room, user.name + " joined", at));

  socket.on("left", ({ room, user, reason, at }) => {
    notice("#" + room, user.name + (reason === "left" ? " left" : " went away (" + reason + ")"), at);
  });

  socket.on("message", ({ room, from, text, at }) => add("#" + room, { kind: "message", from, text, at }));

  socket.on("private", ({ from, text, at }) => {
    const conv = conversation("@" + from.id, "@" + from.name);
    conv.users = [state.me, from];
    add("@" + from.id, { kind: "private", from, text, at });
  });

  $("send-form").onsubmit = (event) => {
    event.preventDefault();
    const text = $("text").value;
    if (!text.trim()) return;
    const key = state.current;
    const done = (answer) => {
      if (answer && answer.error) return error(answer.error);
      error();
      $("text").value = "";
      if (key.startsWith("@")) {
        add(key, { kind: "private", from: state.me, text, at: answer.at });
      }
    };
    if (key.startsWith("#")) socket.emit("message", key.slice(1), text, done);
    else socket.emit("private", key.slice(1), text, done);
  };

  $("join-form").onsubmit = (event) => {
    event.preventDefault();
    const room = $("join-room").value.trim();
    if (!room) return;
    socket.emit("join", room, (answer) => {
      if (answer.error) return error(answer.error);
      error();
      $("join-room").value = "";
      state.joined.add(room);
      conversation("#" + room).users = answer.users;
      show("#" + room);
    });
  };

  $("leave").onclick = () => {
    const room = state.current.slice(1);
    socket.emit("leave", room, (answer) => {
      if (answer.error) return error(answer.error);
      state.joined.delete(room);
      state.conversations.delete("#" + room);
      show("#lobby");
    });
  };
}

conversation("#lobby", "#lobby");
conversation("#lobby").title = "#lobby";

$("login").onsubmit = (event) => {
  event.preventDefault();
  const name = $("name").value.trim();
  if (!name) {
    $("login-error").textContent = "Type a nickname first (1 to 24 characters).";
    $("name").focus();
    return;
  }
  $("login-error").textContent = "";
  start(name);
};

if (params.get("name")) {
  $("name").value = params.get("name");
  start(params.get("name"));
}
