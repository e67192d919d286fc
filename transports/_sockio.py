"""Reads and writes on a plain ``trio.SocketStream`` with fewer layers than trio's own.

trio's socket methods wrap every call in an async context manager and yield after each one that
did not wait; on the hot paths that is a large share of the CPU per message. These helpers call
``os.read``/``os.write`` on the socket's descriptor and wait with trio's public
``wait_readable``/``wait_writable``, keeping trio's rules: a cancellation is seen first, a call
that did not wait still yields once (fairness; skipping that yield on writes measured no better,
and under fan-out seemed to cost more CPU per delivery), and socket errors become
``BrokenResourceError``/``ClosedResourceError`` as ``SocketStream`` makes them. Any other stream
(TLS, memory streams in tests) and non-POSIX systems keep the stream's own methods.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Awaitable, Callable

import trio

from . import _watch

__all__ = ["is_direct", "read_now", "receive_before", "receive_some", "receive_watched",
           "receive_when_readable", "send_all", "watchable", "write_now"]

_POSIX = os.name == "posix"  # os.read/os.write on a socket's descriptor work there


def is_direct(stream: trio.abc.Stream) -> bool:
    """Whether the helpers below take the direct path for ``stream``."""
    return _POSIX and type(stream) is trio.SocketStream


def _stream_error(exc: OSError) -> trio.BrokenResourceError | trio.ClosedResourceError:
    if exc.errno == errno.EBADF:
        return trio.ClosedResourceError("this socket was already closed")
    return trio.BrokenResourceError(f"socket connection broken: {exc}")


def _fd(sock: trio.socket.SocketType) -> int:
    # Looked up before each call: once the socket is closed its number may belong to another
    # connection.
    fd = sock.fileno()
    if fd < 0:
        raise trio.ClosedResourceError("socket was already closed")
    return fd


async def _wait(
    wait: Callable[[trio.socket.SocketType], Awaitable[None]], sock: trio.socket.SocketType
) -> None:
    try:
        await wait(sock)
    except OSError as exc:
        raise _stream_error(exc) from exc


async def send_all(stream: trio.abc.Stream, data: bytes,
                   sent: Callable[[int], None] | None = None) -> None:
    """``stream.send_all(data)``; ``sent(n)`` is called as the socket takes ``n`` more bytes
    (on a stream that is not direct, once, with them all)."""
    if not is_direct(stream):
        await stream.send_all(data)
        if sent is not None:
            sent(len(data))
        return
    assert isinstance(stream, trio.SocketStream)
    sock = stream.socket
    if sock.did_shutdown_SHUT_WR:
        raise trio.ClosedResourceError("can't send data after sending EOF")
    await trio.lowlevel.checkpoint_if_cancelled()
    waited = False
    with memoryview(data) as view:
        while view:
            try:
                took = os.write(_fd(sock), view)
            except BlockingIOError:
                waited = True
                await _wait(trio.lowlevel.wait_writable, sock)
                continue
            except OSError as exc:
                raise _stream_error(exc) from exc
            view = view[took:]
            if sent is not None:
                sent(took)
    if not waited:
        await trio.lowlevel.cancel_shielded_checkpoint()


async def receive_some(stream: trio.abc.Stream, max_bytes: int) -> bytes:
    """``stream.receive_some(max_bytes)``, as ``bytes``."""
    if not is_direct(stream):
        return bytes(await stream.receive_some(max_bytes))
    assert isinstance(stream, trio.SocketStream)
    sock = stream.socket
    await trio.lowlevel.checkpoint_if_cancelled()
    waited = False
    while True:
        try:
            data = os.read(_fd(sock), max_bytes)
        except BlockingIOError:
            waited = True
            await _wait(trio.lowlevel.wait_readable, sock)
            continue
        except OSError as exc:
            raise _stream_error(exc) from exc
        if not waited:
            await trio.lowlevel.cancel_shielded_checkpoint()
        return data


def watchable(stream: trio.abc.Stream) -> bool:
    """Whether ``receive_before`` works for ``stream``: a direct one, on Linux."""
    return is_direct(stream) and _watch.available()


async def receive_before(stream: trio.abc.Stream, waiter: _watch.ReadableOrWoken,
                         deadline: float, max_bytes: int) -> bytes | None:
    """``receive_when_readable`` for a ``watchable`` stream, through the epoll watch and its
    timers (``waiter``: one per connection, for each of its waits), with no cancel scope;
    ``None`` when ``deadline`` passes first."""
    assert isinstance(stream, trio.SocketStream)
    sock = stream.socket
    while True:
        try:
            if not await waiter.wait(sock, deadline):
                return None
            data = os.read(_fd(sock), max_bytes)
        except BlockingIOError:
            continue
        except OSError as exc:
            raise _stream_error(exc) from exc
        if len(data) == max_bytes:
            _watch.unread(sock)  # the edge that woke this wait will not come again
        return data


async def receive_when_readable(stream: trio.abc.Stream, max_bytes: int) -> bytes:
    """``receive_some`` for a caller that expects to wait: it waits for readability before the
    first read, skipping a read that would fail (an idle keep-alive connection, say)."""
    if not is_direct(stream):
        return bytes(await stream.receive_some(max_bytes))
    assert isinstance(stream, trio.SocketStream)
    sock = stream.socket
    while True:
        try:
            await trio.lowlevel.wait_readable(sock)
            return os.read(_fd(sock), max_bytes)
        except BlockingIOError:
            continue
        except OSError as exc:
            raise _stream_error(exc) from exc


async def receive_watched(stream: trio.SocketStream, readable: _watch.Readable, max_bytes: int,
                          *, wait_first: bool) -> bytes:
    """``receive_some`` on a direct ``stream`` whose socket ``readable`` watches: it waits with
    ``readable`` (first, if ``wait_first``: the last read emptied the socket).

    Raises:
        trio.ClosedResourceError: ``readable`` was closed, before or during the wait.
    """
    sock = stream.socket
    waited = wait_first
    if wait_first:
        await readable.wait()
    else:
        await trio.lowlevel.checkpoint_if_cancelled()
    while True:
        try:
            data = os.read(_fd(sock), max_bytes)
        except BlockingIOError:
            waited = True
            await readable.wait()
            continue
        except OSError as exc:
            raise _stream_error(exc) from exc
        if not waited:
            await trio.lowlevel.cancel_shielded_checkpoint()
        return data


def read_now(sock: trio.socket.SocketType, max_bytes: int) -> bytes | None:
    """What a direct stream's ``sock`` has to read now (``b""`` at its end), without waiting or
    yielding; ``None`` when nothing is there.

    Raises:
        trio.BrokenResourceError, trio.ClosedResourceError: as ``receive_some``.
    """
    try:
        return os.read(_fd(sock), max_bytes)
    except BlockingIOError:
        return None
    except OSError as exc:
        raise _stream_error(exc) from exc


def write_now(stream: trio.abc.Stream, data: bytes) -> int:
    """Write what the socket takes at once, without waiting or yielding; how many bytes went.

    0 when the stream is not direct, is shut for writing, or the write failed: the caller's
    ``send_all`` then writes the rest and raises the error it expects.
    """
    if not is_direct(stream):
        return 0
    assert isinstance(stream, trio.SocketStream)
    sock = stream.socket
    fd = sock.fileno()
    if fd < 0 or sock.did_shutdown_SHUT_WR:
        return 0
    try:
        return os.write(fd, data)
    except OSError:
        return 0
