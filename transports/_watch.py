"""Waiting for sockets on an epoll of our own (Linux), watched by one system task per trio run.

A parked long-polling GET watches its connection and waits for its session's output at once.
trio's ``wait_readable`` ends early only by cancelling it, and a cancel (the scope's bookkeeping,
``Cancelled`` raised through every frame between) was most of what waking such a GET cost, once
per message. Here the socket is registered with the epoll (one-shot); the waiting task parks
itself, and whichever comes first, the socket or the wake-up, reschedules it
(``ReadableOrWoken``).

A WebSocket's reader waits for its socket after nearly every message. trio registers a socket
one-shot and so re-arms it (an ``epoll_ctl``) for each wait; here the socket is registered once,
edge-triggered, for as long as it is read (``Readable``), and a wait costs no system call.

A connection's wait for its next request goes through the same epoll, with its deadline kept by
the watch too (one cancel scope in the watch for every wait, rather than one per wait). Its
socket is registered at its first wait, edge-triggered, for as long as it is open: a
long-polling cycle (the GET parks, is woken, its connection waits for the next GET; a POST
answered, its connection waits for the next) costs no ``epoll_ctl`` at all, where trio's
``wait_readable`` costs one per wait. An edge that fires with nobody waiting is kept for the
socket's next wait, and the peer's end (or an error), reported once, for every later wait: the
read that takes the last bytes does not see the end that came with them. Edges ask one thing
of the readers: a read that filled its buffer may have left bytes behind, which no edge will
announce (``unread``).

A socket is armed for HTTP waits or watched by a WebSocket's reader, never both at once (the
other raises ``trio.BusyResourceError``). The upgrade hands one socket from the first to the
second: watching it drops what its HTTP waits registered. A number that a closed socket had,
taken by another socket, drops the closed one's waiter (its wait raises
``trio.ClosedResourceError``), so that no event of the new socket reaches it.

Elsewhere ``available()`` is false: callers cancel a scope, or wait with trio.
"""

from __future__ import annotations

import heapq
import itertools
import math
import select
import weakref
from collections.abc import Awaitable

import outcome
import trio

__all__ = ["Readable", "ReadableOrWoken", "available", "prepare", "unread"]

_EPOLL = hasattr(select, "epoll")
_EDGES = (select.EPOLLIN | select.EPOLLRDHUP | select.EPOLLET) if _EPOLL else 0
# The peer's end (or an error): reported with the last bytes' edge, no edge follows it.
_ENDED = (select.EPOLLRDHUP | select.EPOLLHUP | select.EPOLLERR) if _EPOLL else 0
# A Readable woken by the watch with fewer than _BUSY sockets ready waits with trio for the
# next _RESAMPLE waits (see Readable).
_BUSY = 4
_RESAMPLE = 16
# The timers' heap is rebuilt without its stale entries once they outnumber the live ones by
# this many (see _Watcher.forget).
_STALE_TIMERS = 512


def available() -> bool:
    """Whether ``ReadableOrWoken`` works here (Linux's epoll)."""
    return _EPOLL


class _Watcher:
    """The sockets parked tasks wait on, in one epoll watched by one system task."""

    __slots__ = ("_armed", "_ended", "_epoll", "_order", "_parked", "_ready", "_scope",
                 "_timed", "_timers", "_watched")

    def __init__(self) -> None:
        self._epoll = select.epoll()
        self._parked: dict[int, ReadableOrWoken] = {}
        # fd -> the socket registered for HTTP waits. A weak reference: a closed socket's fd may
        # come back as another socket's, unregistered.
        self._armed: dict[int, weakref.ref[trio.socket.SocketType]] = {}
        # Armed fds whose edge fired with nobody parked (or whose reader left bytes unread):
        # their next wait returns at once.
        self._ready: set[int] = set()
        # Armed fds whose peer ended (or that failed): every later wait returns at once, since
        # a read that took the last bytes before the end leaves it with no edge to come.
        self._ended: set[int] = set()
        self._watched: dict[int, Readable] = {}
        # (deadline, order): at most one live entry a waiter (its _entry, its _key the order),
        # put back with the waiter's later deadline when it comes due while the waiter waits
        # on. The waiters are in _timed by order, not in the entries: an entry holds only
        # numbers (which the garbage collector stops tracking), and a waiter whose connection
        # is done leaves at once (``forget``) rather than at its deadline, up to 30 s later.
        self._timers: list[tuple[float, int]] = []
        self._timed: dict[int, ReadableOrWoken] = {}
        self._order = itertools.count()
        self._scope: trio.CancelScope | None = None
        trio.lowlevel.spawn_system_task(self._run, name="transports readability watch")

    async def _run(self) -> None:
        try:
            while True:
                timers = self._timers
                with trio.CancelScope(deadline=timers[0][0] if timers else math.inf) as scope:
                    self._scope = scope
                    while True:
                        await trio.lowlevel.wait_readable(self._epoll.fileno())
                        ready = self._epoll.poll(0)
                        for fd, flags in ready:
                            if flags & _ENDED and fd in self._armed:
                                self._ended.add(fd)
                            parked = self._parked.pop(fd, None)
                            if parked is not None:
                                parked._resume(True)
                            elif (watched := self._watched.get(fd)) is not None:
                                watched._fire(len(ready), flags & _ENDED)
                            else:
                                self._ready.add(fd)
                self._scope = None
                self._expire(trio.current_time())
        finally:
            self._epoll.close()

    def schedule(self, waiter: ReadableOrWoken, deadline: float) -> None:
        waiter._deadline = deadline
        entry = waiter._entry
        if entry is not None and entry <= deadline:
            return  # due first: seen then, and put back for the rest of its wait
        self.forget(waiter)  # a later entry of its own: replaced
        self._push(waiter, deadline)
        scope = self._scope
        if scope is not None and deadline < scope.deadline:
            scope.deadline = deadline

    def _push(self, waiter: ReadableOrWoken, deadline: float) -> None:
        order = next(self._order)
        waiter._entry = deadline
        waiter._key = order
        self._timed[order] = waiter
        heapq.heappush(self._timers, (deadline, order))

    def forget(self, waiter: ReadableOrWoken) -> None:
        """Drop ``waiter``'s timer entry (its wait is over: it has no deadline until the next
        one)."""
        if waiter._entry is not None:
            self._timed.pop(waiter._key, None)
            waiter._entry = None
            # Its entry stays in the heap until its deadline (up to 30 s): under churn, tens of
            # thousands of them, short-lived small objects among long-lived ones, which leave
            # the allocator's arenas fragmented (RSS grew 12 % over 10,000 connect/disconnect
            # cycles). Rebuilt as trio's own deadlines are, at O(1) amortized a forget.
            if len(self._timers) > 2 * len(self._timed) + _STALE_TIMERS:
                timed = self._timed
                timers = self._timers
                timers[:] = [entry for entry in timers if entry[1] in timed]
                heapq.heapify(timers)

    def _expire(self, now: float) -> None:
        timers = self._timers
        while timers and timers[0][0] <= now:
            _, order = heapq.heappop(timers)
            waiter = self._timed.pop(order, None)
            if waiter is None:
                continue  # replaced by an earlier entry, or forgotten
            waiter._entry = None
            if waiter._task is None or waiter._deadline == math.inf:
                continue  # its wait ended (its next one queues it again)
            if waiter._deadline <= now:
                self.disarm(waiter._fd, waiter)
                waiter._resume(False)
            else:
                self._push(waiter, waiter._deadline)

    def arm(self, sock: trio.socket.SocketType, fd: int, parked: ReadableOrWoken) -> bool:
        """Park ``parked`` on ``sock``; ``False`` instead when ``sock`` may be readable already
        (an edge seen with nobody parked, or bytes left unread)."""
        watched = self._watched.get(fd)
        if watched is not None:
            if watched._sock is sock:
                raise trio.BusyResourceError("socket is watched for its reader, not armed")
            self._watched.pop(fd)._lose()  # its socket closed under it: the number is reused
        armed = self._armed.get(fd)
        if armed is not None and armed() is sock:
            if fd in self._ready or fd in self._ended:
                self._ready.discard(fd)
                return False
            if self._parked.setdefault(fd, parked) is not parked:
                raise trio.BusyResourceError("another task is already waiting for this socket")
            return True  # registered by an earlier wait
        if (stale := self._parked.pop(fd, None)) is not None:
            stale._lose()  # its socket closed while it waited: the number is reused
        self._ready.discard(fd)  # an edge of the socket that had the number before
        self._ended.discard(fd)
        self._parked[fd] = parked
        try:
            # Registering reports what is there already: no edge is missed.
            self._epoll.register(fd, _EDGES)
        except FileExistsError:  # the number's earlier socket is still open somewhere
            self._epoll.modify(fd, _EDGES)
        self._armed[fd] = weakref.ref(sock)
        return True

    def unread(self, sock: trio.socket.SocketType, fd: int) -> None:
        armed = self._armed.get(fd)
        if armed is not None and armed() is sock:
            self._ready.add(fd)

    def disarm(self, fd: int, parked: ReadableOrWoken) -> None:
        # The registration stays for the socket's next wait; should it fire before, the loop
        # above finds nobody parked and keeps the edge for that wait.
        if self._parked.get(fd) is parked:
            del self._parked[fd]

    def watch(self, fd: int, readable: Readable) -> None:
        # An fd is armed one-shot for HTTP waits or watched edge-triggered for a WebSocket's
        # reader, never both: the upgrade hands the same socket from the one to the other.
        sock = readable._sock
        if (armed := self._armed.pop(fd, None)) is not None and armed() is sock:
            if fd in self._parked:
                self._armed[fd] = armed
                raise trio.BusyResourceError("socket is armed for a wait, not watched")
        elif (stale := self._parked.pop(fd, None)) is not None:
            stale._lose()  # its socket closed while it waited: the number is reused
        if (watched := self._watched.get(fd)) is not None and watched is not readable:
            if watched._sock is sock:
                raise trio.BusyResourceError("socket is already watched for another reader")
            watched._lose()  # its socket closed under it: the number is reused
        self._ready.discard(fd)  # the registration below reports what is there
        self._ended.discard(fd)
        self._watched[fd] = readable
        try:
            self._epoll.register(fd, _EDGES)
        except FileExistsError:  # left by a one-shot wait (the HTTP request before)
            self._epoll.modify(fd, _EDGES)

    def unwatch(self, fd: int, readable: Readable) -> None:
        # Not if the number went to another socket since (this one closed under its reader).
        if self._watched.get(fd) is readable:
            del self._watched[fd]
            try:
                self._epoll.unregister(fd)
            except OSError:  # closed meanwhile: the kernel dropped it already
                pass


_WATCHER: trio.lowlevel.RunVar[_Watcher] = trio.lowlevel.RunVar("transports_watcher")


def prepare() -> None:
    """Make this run's watch (and its system task) now rather than at its first use."""
    if _EPOLL:
        _watcher()


def _watcher() -> _Watcher:
    try:
        return _WATCHER.get()
    except LookupError:
        watcher = _Watcher()
        _WATCHER.set(watcher)
        return watcher


def unread(sock: trio.socket.SocketType) -> None:
    """Say that a read of ``sock`` (armed for ``ReadableOrWoken`` waits) may have left bytes
    behind (it filled its buffer): its next wait returns at once."""
    fd = sock.fileno()
    if _EPOLL and fd >= 0:
        _watcher().unread(sock, fd)


class ReadableOrWoken:
    """For one task: ``wait(sock)`` returns ``True`` once ``sock`` may be readable, ``False``
    once ``wake()`` was called (then at once for every later wait) or its deadline passed.
    ``wake()`` may come from any task, before or during a wait, any number of times. One object
    may serve many waits (a connection's, for each next request).

    The socket's registration is edge-triggered: a wait returns for bytes that arrived since the
    socket's previous wait returned (or that were there at its first), so a caller reads until
    a read returns less than it asked for, or calls ``unread`` (as ``Readable``'s callers); a
    wait may also return when nothing is there after all (the caller's read then fails with
    ``BlockingIOError`` and it waits again)."""

    __slots__ = ("_deadline", "_entry", "_fd", "_key", "_task", "woken")

    def __init__(self) -> None:
        self._task: trio.lowlevel.Task | None = None
        self._fd = -1
        self._deadline = math.inf
        self._entry: float | None = None  # the deadline of its entry in the watch's timers
        self._key = -1  # that entry's order
        self.woken = False

    @property
    def waiting(self) -> bool:
        """Whether a task waits here now (not yet woken, nor rescheduled)."""
        return self._task is not None

    def reset(self) -> None:
        """Forget an earlier ``wake()``: the next wait waits again (between waits only)."""
        if self._task is not None:
            raise trio.BusyResourceError("a task is waiting here")
        self.woken = False

    def expire_at(self, deadline: float) -> None:
        """End the current wait (one on a socket) with ``False`` at ``deadline`` (trio's clock)
        if nothing ends it before."""
        if self._task is not None and self._fd >= 0:
            _watcher().schedule(self, deadline)

    def done(self) -> None:
        """No more waits (its connection is closed or handed over): drop its timer entry
        now rather than at its deadline. Not during a wait."""
        if self._entry is not None:
            _watcher().forget(self)

    def wake(self) -> None:
        """End the current wait (and every later one) with ``False``."""
        self.woken = True
        if self._task is not None:
            _watcher().disarm(self._fd, self)
            self._resume(False)

    def _resume(self, readable: bool) -> None:
        task = self._task
        if task is not None:
            self._task = None
            trio.lowlevel.reschedule(task, outcome.Value(readable))

    async def wait(self, sock: trio.socket.SocketType | None,
                   deadline: float = math.inf) -> bool:
        """Park until ``sock`` is readable (``None``: only until the wake-up), or ``deadline``
        (trio's clock) passes: then ``False``, as when woken."""
        if self.woken:
            await trio.lowlevel.checkpoint()
            return False
        if self._task is not None:
            raise trio.BusyResourceError("another task is already waiting here")
        if sock is not None:
            fd = sock.fileno()
            if fd < 0:
                raise trio.ClosedResourceError("socket was already closed")
            self._fd = fd
            watcher = _watcher()
            if not watcher.arm(sock, fd, self):
                await trio.lowlevel.checkpoint()
                return True
            if deadline != math.inf:
                watcher.schedule(self, deadline)
            else:
                self._deadline = deadline
        else:
            self._fd = -1
            if deadline != math.inf:
                raise ValueError("a deadline needs a socket")
        self._task = trio.lowlevel.current_task()
        readable: bool = await trio.lowlevel.wait_task_rescheduled(self._abort)
        return readable

    def _abort(self, _: object) -> trio.lowlevel.Abort:
        self._task = None
        _watcher().disarm(self._fd, self)
        return trio.lowlevel.Abort.SUCCEEDED

    def _lose(self) -> None:
        # Its socket was closed while it waited (the watch dropped it): as trio's waits then.
        task, self._task = self._task, None
        if task is not None:
            trio.lowlevel.reschedule(
                task, outcome.Error(trio.ClosedResourceError("socket was closed")))


class Readable:
    """One task's waits for ``sock`` to become readable.

    On a busy server, the socket stays registered with the watch, edge-triggered, and a wait
    costs no system call; but each wake-up of the watch's task costs about as much as several
    of trio's waits (re-arming the watch's own descriptor, the poll, the task's step and one
    scheduler pass more before the reader runs), so this pays only when it finds several
    sockets ready at once. A reader woken in a smaller batch than ``_BUSY`` waits with trio
    from its next wait on (one ``epoll_ctl`` per wait), and tries the watch again every
    ``_RESAMPLE`` waits.

    ``wait()`` returns once data or an end of stream may have arrived since the previous
    ``wait()`` returned, so it is only correct after a read found the socket empty (it failed
    with ``BlockingIOError``, or returned less than it asked for); it may return when nothing
    is there after all (the caller's read then fails and it waits again).
    """

    __slots__ = ("_busy", "_countdown", "_ended", "_fd", "_ready", "_sock", "_task", "_watched",
                 "_watcher")

    def __init__(self, sock: trio.socket.SocketType) -> None:
        fd = sock.fileno()
        if fd < 0:
            raise trio.ClosedResourceError("socket was already closed")
        self._fd = fd
        self._sock = sock
        self._task: trio.lowlevel.Task | None = None
        self._ready = False
        # The peer's end was reported (with the edge of the last bytes, perhaps): no edge comes
        # for it again, so every later wait returns at once and the read finds it.
        self._ended = False
        self._watched = False  # registered with the watch
        self._busy = False  # wait on the watch
        self._countdown = 0  # waits with trio until the watch is tried again
        self._watcher = _watcher()

    def _fire(self, batch: int, ended: int) -> None:
        if ended:
            self._ended = True
        task = self._task
        if task is None:
            self._ready = True
        else:
            self._task = None
            self._busy = batch >= _BUSY
            trio.lowlevel.reschedule(task)

    def wait(self) -> Awaitable[None]:
        """Park until the socket may have become readable (a checkpoint either way): returns
        the wait, trio's own, to be awaited at once by the task that called (no coroutine of
        this method stays beneath every idle reader for as long as it waits).

        Raises:
            trio.ClosedResourceError: ``close()`` was called, before or during the wait.
            trio.BusyResourceError: another task is already waiting here.
        """
        if self._ready or self._ended:
            self._ready = False
            return trio.lowlevel.checkpoint()
        fd = self._fd
        if fd < 0:
            raise trio.ClosedResourceError("socket was already closed")
        if self._task is not None:
            raise trio.BusyResourceError("another task is already waiting here")
        if not self._busy:
            self._countdown -= 1
        if self._busy or self._countdown < 0:
            self._countdown = _RESAMPLE
            if not self._watched:
                # Data already there is reported at once: no edge is missed.
                self._watcher.watch(fd, self)
                self._watched = True
            self._task = trio.lowlevel.current_task()
            waited: Awaitable[None] = trio.lowlevel.wait_task_rescheduled(self._abort)
            return waited
        if self._watched:
            # trio's wait sees what is there (level-triggered), whatever edges were seen.
            self._watched = False
            self._watcher.unwatch(fd, self)
        return trio.lowlevel.wait_readable(self._sock)

    def _abort(self, _: object) -> trio.lowlevel.Abort:
        self._task = None
        return trio.lowlevel.Abort.SUCCEEDED

    def _lose(self) -> None:
        # Its socket was closed under it, not through close(), and the watch dropped it (the
        # number went to another socket): its waits end as after close().
        self._fd = -1
        self._watched = False
        task, self._task = self._task, None
        if task is not None:
            trio.lowlevel.reschedule(
                task, outcome.Error(trio.ClosedResourceError("socket was closed")))

    def close(self) -> None:
        """Drop the registration (before the socket is closed); a task waiting gets
        ``trio.ClosedResourceError``. Idempotent."""
        fd, self._fd = self._fd, -1
        if fd < 0:
            return
        if self._watched:
            self._watched = False
            self._watcher.unwatch(fd, self)
        else:
            trio.lowlevel.notify_closing(self._sock)  # a wait with trio
        task, self._task = self._task, None
        if task is not None:
            trio.lowlevel.reschedule(
                task, outcome.Error(trio.ClosedResourceError("socket was closed")))
