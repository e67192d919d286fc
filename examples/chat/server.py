"""The chat server: nicknames, a lobby and named rooms, private messages, who is online.

Events (client → server, each answered through its ack):

- ``join(room)`` → ``{"room", "users"}``; ``leave(room)`` → ``{"room"}``
- ``message(room, text)`` → ``{"at"}``; everyone in ``room`` (the sender too) gets ``message``
- ``private(to_id, text)`` → ``{"at"}`` or ``{"error"}``; the recipient gets ``private``
- ``users(room)`` → the list of ``{"id", "name"}`` in ``room``

Server → client: ``welcome``, ``joined``, ``left``, ``presence``, ``message``, ``private``.
Every notice carries ``at``, the server's time in milliseconds since the epoch. The nickname
comes with the connection (``io({auth: {name}})``), so a reconnecting page keeps it.

Rooms live under a ``room:`` prefix so that no one can join a room named after another user's
socket id and read their private messages.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from socketio_core import ConnectError, Server, Socket
from socketio_core.interfaces import FetchedSocket
from transports import Request

__all__ = ["LOBBY", "Chat", "build", "static_files"]

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
LOBBY = "lobby"
_NAME = re.compile(r"[^\x00-\x1f]{1,24}")
_ROOM = re.compile(r"[A-Za-z0-9_ -]{1,32}")
_MAX_TEXT = 2000


def _now_ms() -> int:
    return int(time.time() * 1000)


def _key(room: str) -> str:
    return "room:" + room


class Chat:
    """The chat's handlers on one ``Server`` (the main namespace)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        server.use(self._check_name)
        server.on("connection", self._connected)

    def _check_name(self, socket: Socket) -> None:
        name = socket.handshake.auth.get("name")
        if not isinstance(name, str) or not _NAME.fullmatch(name.strip()):
            raise ConnectError("choose a nickname of 1 to 24 characters")
        socket.data["name"] = name.strip()

    @staticmethod
    def user(socket: FetchedSocket) -> dict[str, str]:
        """How a user appears to others."""
        return {"id": socket.id, "name": str(socket.data["name"])}

    def users(self, room: str) -> list[dict[str, str]]:
        """Who is in ``room`` now, by name."""
        members = self.server.in_(_key(room)).sockets()
        return sorted((self.user(s) for s in members), key=lambda u: (u["name"], u["id"]))

    @staticmethod
    def rooms_of(socket: Socket) -> list[str]:
        """The chat rooms ``socket`` is in (not its own id room)."""
        return sorted(r.removeprefix("room:") for r in socket.rooms if r.startswith("room:"))

    async def _presence(self, room: str) -> None:
        await self.server.to(_key(room)).emit(
            "presence", {"room": room, "users": self.users(room), "at": _now_ms()})

    async def join(self, socket: Socket, room: str) -> dict[str, Any]:
        """Put ``socket`` in ``room``; the others there hear ``joined``."""
        socket.join(_key(room))
        await socket.to(_key(room)).emit(
            "joined", {"room": room, "user": self.user(socket), "at": _now_ms()})
        await self._presence(room)
        return {"room": room, "users": self.users(room)}

    async def leave(self, socket: Socket, room: str, reason: str = "left") -> None:
        """Take ``socket`` out of ``room``; the others there hear ``left``."""
        socket.leave(_key(room))
        await self._announce_left(self.user(socket), room, reason)

    async def _announce_left(self, user: dict[str, str], room: str, reason: str) -> None:
        await self.server.to(_key(room)).emit(
            "left", {"room": room, "user": user, "reason": reason, "at": _now_ms()})
        await self._presence(room)

    async def _connected(self, socket: Socket) -> None:
        @socket.on("join")
        async def on_join(room: Any) -> dict[str, Any]:
            if not isinstance(room, str) or not _ROOM.fullmatch(room):
                return {"error": "a room name is 1 to 32 letters, digits, spaces, - or _"}
            return await self.join(socket, room)

        @socket.on("leave")
        async def on_leave(room: Any) -> dict[str, Any]:
            if not isinstance(room, str) or room not in self.rooms_of(socket):
                return {"error": "you are not in that room"}
            if room == LOBBY:
                return {"error": "everyone stays in the lobby"}
            await self.leave(socket, room)
            return {"room": room}

        @socket.on("message")
        async def on_message(room: Any, text: Any) -> dict[str, Any]:
            if not isinstance(room, str) or room not in self.rooms_of(socket):
                return {"error": "join the room first"}
            if not isinstance(text, str) or not text.strip() or len(text) > _MAX_TEXT:
                return {"error": f"a message is 1 to {_MAX_TEXT} characters"}
            at = _now_ms()
            await self.server.to(_key(room)).emit(
                "message", {"room": room, "from": self.user(socket), "text": text, "at": at})
            return {"at": at}

        @socket.on("private")
        async def on_private(to: Any, text: Any) -> dict[str, Any]:
            recipient = self.server.sockets.get(to) if isinstance(to, str) else None
            if recipient is None:
                return {"error": "no such user online"}
            if not isinstance(text, str) or not text.strip() or len(text) > _MAX_TEXT:
                return {"error": f"a message is 1 to {_MAX_TEXT} characters"}
            at = _now_ms()
            await recipient.emit("private", {
                "from": self.user(socket), "to": self.user(recipient), "text": text, "at": at})
            return {"at": at, "to": self.user(recipient)}

        @socket.on("users")
        def on_users(room: Any) -> list[dict[str, str]]:
            return self.users(room) if isinstance(room, str) else []

        @socket.on("disconnecting")
        def on_disconnecting(reason: str) -> None:
            # The rooms are still known here; "disconnect" runs after the socket left them.
            socket.data["rooms"] = self.rooms_of(socket)

        @socket.on("disconnect")
        async def on_disconnect(reason: str) -> None:
            for room in socket.data.get("rooms", []):
                await self._announce_left(self.user(socket), room, reason)

        await socket.emit("welcome", {"user": self.user(socket), "at": _now_ms()})
        await self.join(socket, LOBBY)


_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8", ".ico": "image/x-icon"}


async def static_files(request: Request) -> None:
    """Serve the page (``/``, ``/chat.js``, ``/chat.css``, ``/favicon.ico``); anything else
    is 404."""
    name = "index.html" if request.path == "/" else request.path.lstrip("/")
    file = STATIC / name
    if "/" in name or file.suffix not in _TYPES or not file.is_file():
        await request.respond(404, [("Content-Type", "text/plain")], b"Not Found")
        return
    if request.method not in ("GET", "HEAD"):
        await request.respond(405, [("Allow", "GET, HEAD")], b"")
        return
    headers = [("Content-Type", _TYPES[file.suffix]), ("Cache-Control", "no-cache")]
    await request.respond(200, headers, file.read_bytes())


def build(**options: Any) -> Server:
    """A chat ``Server``; ``options`` go to ``Server`` (the browser client is served from
    ``examples/chat/node_modules``, installed with ``npm ci --prefix examples/chat``)."""
    options.setdefault("serve_client", HERE / "node_modules")
    server = Server(**options)
    Chat(server)
    return server
