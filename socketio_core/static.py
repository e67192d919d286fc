"""Serving the official browser client, as Node's ``serveClient`` does.

The bundle is not shipped with this package: it comes from an installed npm package
(``npm install socket.io-client@4.8``). ``ClientBundle`` finds its ``dist`` directory, reads the
files Node serves (``socket.io.js``, ``.min.js``, ``.esm.min.js``, ``.msgpack.min.js`` and their
``.map``), and answers ``GET <path>/socket.io*.js[.map]`` with an ETag of the client version,
``304`` on a matching ``If-None-Match``, and gzip when the browser accepts it.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from engineio_core.http_policy import choose_encoding, compress_body
from transports import Request

__all__ = ["ClientBundle", "ClientBundleNotFound", "find_client_dist"]

_PACKAGE = "socket.io-client"
_FILES = re.compile(r"socket\.io(\.msgpack|\.esm)?(\.min)?\.js(\.map)?")


class ClientBundleNotFound(FileNotFoundError):
    """No installed ``socket.io-client`` package was found where ``serve_client`` pointed."""


def find_client_dist(where: str | os.PathLike[str] | None = None) -> Path:
    """The ``dist`` directory of an installed ``socket.io-client`` package.

    Args:
        where: a ``node_modules`` directory, the package directory or its ``dist``; when
            ``None``, ``node_modules/socket.io-client`` is looked for in the current directory
            and each of its parents (as Node's ``require`` would).

    Raises:
        ClientBundleNotFound: nothing usable there, with the command that fixes it.
    """
    if where is None:
        start = Path.cwd().resolve()
        candidates = [d / "node_modules" / _PACKAGE for d in (start, *start.parents)]
    else:
        base = Path(where).expanduser().resolve()
        candidates = [base / _PACKAGE, base, base.parent]
    for candidate in candidates:
        dist = candidate if candidate.name == "dist" else candidate / "dist"
        if (dist / "socket.io.js").is_file() and (dist.parent / "package.json").is_file():
            return dist
    place = "the current directory or its parents" if where is None else f"{where}"
    raise ClientBundleNotFound(
        f"serve_client: no {_PACKAGE} package found in {place}; install the browser client "
        f"with `npm install {_PACKAGE}@4.8` (or pass serve_client=<its node_modules directory>)"
    )


class ClientBundle:
    """The files of one installed ``socket.io-client``, served under a Socket.IO path.

    Args:
        dist: the package's ``dist`` directory (see ``find_client_dist``).
        path: the Socket.IO path the files are served under (``/socket.io``).
    """

    def __init__(self, dist: Path, path: str = "/socket.io") -> None:
        package = json.loads((dist.parent / "package.json").read_text(encoding="utf-8"))
        self.version: str = str(package.get("version", "0"))
        self.prefix = "/" + path.strip("/") + "/"
        self.etag = f'"{self.version}"'
        self._files: dict[str, bytes] = {}
        for file in dist.iterdir():
            if _FILES.fullmatch(file.name) and file.is_file():
                self._files[file.name] = file.read_bytes()
        self._gzipped: dict[str, bytes] = {}

    @property
    def names(self) -> frozenset[str]:
        """The file names served, e.g. ``socket.io.min.js``."""
        return frozenset(self._files)

    def owns(self, request: Request) -> bool:
        """Whether ``request`` asks for one of the bundle's files."""
        if not request.path.startswith(self.prefix):
            return False
        return _FILES.fullmatch(request.path[len(self.prefix):]) is not None

    async def handle_request(self, request: Request) -> bool:
        """Answer a request for a bundle file; ``False`` (unanswered) when it is not one."""
        if not self.owns(request):
            return False
        name = request.path[len(self.prefix):]
        body = self._files.get(name)
        if body is None:
            await request.respond(404, [("Content-Type", "text/plain")], b"Not Found")
            return True
        if request.method not in ("GET", "HEAD"):
            await request.respond(405, [("Allow", "GET, HEAD")], b"")
            return True
        tags = [t.strip() for t in (request.header("if-none-match") or "").split(",")]
        if self.etag in tags or "W/" + self.etag in tags:
            await request.respond(304, [("ETag", self.etag)], b"")
            return True
        kind = "json" if name.endswith(".map") else "javascript"
        headers = [
            ("Content-Type", f"application/{kind}; charset=utf-8"),
            ("Cache-Control", "public, max-age=0"),
            ("ETag", self.etag),
            ("Vary", "Accept-Encoding"),
        ]
        if choose_encoding(request.header("accept-encoding")) == "gzip":
            if name not in self._gzipped:
                self._gzipped[name] = compress_body(body, "gzip")
            body = self._gzipped[name]
            headers.append(("Content-Encoding", "gzip"))
        await request.respond(200, headers, body)
        return True
