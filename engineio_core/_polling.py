"""Long-polling: a GET parked until its session has output, a POST whose body feeds the session.

As Node's ``engine.io`` (``lib/transports/polling.ts``): one GET at a time is parked per session
and answered with everything queued (or ``"6"``, a noop, when the session moves on to WebSocket
or closes); a POST is answered ``ok`` once the handlers of what it carried have run. The parked
GET is answered as soon as the session has output, by the task that produced it (Node's
``flush`` writes it there too), through ``Request.respond_nowait``; the GET's own task answers
when that cannot be done (not our HTTP server's lean request, say).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import trio

from transports import BodyTooLarge, HeaderList, HTTPError, Request

from . import protocol as eio
from ._replies import poll_headers, refuse
from ._session import Session
from .cors import CorsPolicy
from .http_policy import choose_encoding, compress_body

log = logging.getLogger("engineio_core")

__all__ = ["answer_poll", "post", "wake_if_sooner"]


async def _fire_due(session: Session, now: float) -> float | None:
    """Fire the session's deadlines already due at ``now`` before acting on a request: as in
    Node, whose timers run before the I/O that arrived meanwhile, a poll that comes once the
    ping timeout has passed finds the session closed. Returns the core's next deadline then."""
    core = session.core
    due = core.next_deadline()
    if due is not None and due <= now and not session.closed.is_set():
        await session.deliver(core.handle_timeout(now=now))
        return core.next_deadline()
    return due


def wake_if_sooner(session: Session, before: float | None) -> None:
    """Have the driver run by the core's next deadline when it moved earlier than ``before``
    (the one filed for the driver, or earlier)."""
    after = session.core.next_deadline()
    if after is not None and (before is None or after < before):
        session.wake_by(after)


async def answer_poll(
    request: Request, session: Session, cors: CorsPolicy, compression: bool,
    extra: Sequence[tuple[str, str]] = (),
) -> None:
    """Serve a polling GET (the handshake's too): parked until the session has output, then
    answered with it (compressed from 1 KiB when ``compression``), with the ``extra`` headers
    (the session cookie, the header hooks')."""
    core = session.core
    now = trio.current_time()
    before = await _fire_due(session, now)
    try:
        events = core.start_poll(now=now)
    except eio.ProtocolError as error:
        await session.deliver(core.events_after_error())
        await refuse(request, error, cors)
        return
    if events:  # deliver() wakes everyone for no events at all; that is the line below's call
        await session.deliver(events)
    wake_if_sooner(session, before)

    def answer() -> tuple[HeaderList, bytes]:
        return _answer(request, session, cors, compression, extra)

    if not core.poll_ready():
        await _park_poll(request, session, answer)
        if request.responded:  # by whoever produced the output, at once
            return
    headers, body = answer()
    session.changed.notify()  # the buffer emptied: a producer waiting for drain goes on
    await request.respond(200, headers, body)


def _answer(request: Request, session: Session, cors: CorsPolicy, compression: bool,
            extra: Sequence[tuple[str, str]]) -> tuple[HeaderList, bytes]:
    """Take the parked GET's answer from the core: its headers and body."""
    core = session.core
    before = core.next_deadline()
    body = core.take_poll_payload()
    session.polls_answered += 1
    wake_if_sooner(session, before)
    headers = poll_headers(
        request, cors, ("Content-Type", "text/plain; charset=UTF-8"), *extra)
    if compression and len(body) >= 1024:
        encoding = choose_encoding(request.header("accept-encoding"))
        if encoding is not None:
            body = compress_body(body, encoding)
            headers.append(("Content-Encoding", encoding))
    return headers, body


async def _park_poll(request: Request, session: Session,
                     answer: Callable[[], tuple[HeaderList, bytes]]) -> None:
    """Wait until the parked GET has an answer, watching its connection meanwhile; or until it
    was answered.

    One task does both: it watches the socket (``wait_disconnected``) until the session's
    next change, instead of a nursery and a watcher task per GET. That change answers it at
    once when it can (``respond_nowait``, from the task that produced the output, as Node
    writes it): the parked task then goes on to the connection's next request, and is not
    woken for the answer. Otherwise it wakes the task, which answers.
    """
    core = session.core
    watched = True

    def on_change(wake: Callable[[], None]) -> Callable[[], None]:
        def changed() -> None:
            # Run by the producer (any task, a broadcast's say): a failure here is the GET's.
            try:
                if core.poll_ready() and request.respond_nowait(200, answer):
                    return
            except Exception:
                log.exception("answering the poll of session %s failed", core.sid)
            wake()
        return changed

    def register(wake: Callable[[], None]) -> None:
        session.changed.call_on_notify(on_change(wake))

    while not core.poll_ready():
        if not watched:
            await session.changed.wait()
            continue
        try:
            disconnected = await request.wait_disconnected(register)
        except RuntimeError:  # a GET with an unread body: not watched
            watched = False
            continue
        if request.responded:
            return
        if not disconnected:
            continue
        # As Node ("poll connection closed prematurely"): a transport error. The answer then
        # written to the gone client fails quietly.
        await session.deliver(session.core.transport_closed(
            reason="transport error", now=trio.current_time()))
        watched = False


async def post(
    request: Request, session: Session, cors: CorsPolicy, max_payload: int,
    extra: Sequence[tuple[str, str]] = (),
) -> None:
    """Serve a polling POST (a body of at most ``max_payload`` bytes): it goes through the
    core, the handlers of what it carried run, then it is answered ``ok`` (with the ``extra``
    headers)."""
    core = session.core
    if request.header("content-type") == "application/octet-stream":
        # As Node (polling.ts onDataRequest): EIO=4 payloads are text; this exact type is
        # refused unread, with an empty 400, and the session closes ("invalid content").
        await session.deliver(core.transport_closed(
            reason="transport error", now=trio.current_time()))
        await request.respond(400, cors.response_headers(request.header("origin")), b"")
        return
    try:
        body = await request.read_body(max_payload)
    except BodyTooLarge:
        await session.deliver(core.transport_closed(
            reason="transport error", now=trio.current_time()))
        await request.respond(413, cors.response_headers(request.header("origin")),
                              b"")
        return
    except HTTPError:
        # Cut short or stalled: as Node ("data request connection closed prematurely").
        await session.deliver(core.transport_closed(
            reason="transport error", now=trio.current_time()))
        raise
    # The body was often in the same read as the headers. A GET and a POST sent at once
    # on two connections wake in one scheduler batch, in random order; Node reads a body
    # in a later tick, so its GET is parked first and a POSTed "1" answers it with "6".
    # One checkpoint gives the same order here; with a GET parked already, it has it. Messages
    # and pongs (nearly every POST) do the same either way: their output waits for the GET.
    if not core.poll_parked and not eio.only_messages_and_pongs(body):
        await trio.lowlevel.checkpoint()
    now = trio.current_time()
    before = await _fire_due(session, now)
    try:
        events = core.receive_poll_body(body, now=now)
    except eio.ProtocolError as error:
        await session.deliver(core.events_after_error())
        await refuse(request, error, cors)
        return
    if events:
        await session.deliver(events)
    # A pong only moves the deadline later, a message not at all: the one filed stands.
    wake_if_sooner(session, before)
    # Node runs the handlers before it answers "ok", so a poll sent after "ok" finds their
    # replies. A receiver ran in deliver() already; an application iterating the socket
    # takes a message per scheduler pass: give it that many.
    if session._inbox is not None:
        inbox = session._inbox[1]
        for _ in range(len(events)):
            if not inbox.statistics().current_buffer_used:
                break
            await trio.lowlevel.checkpoint()
    headers = poll_headers(request, cors, ("Content-Type", "text/html"), *extra)
    await request.respond(200, headers, b"ok")
