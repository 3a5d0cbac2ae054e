"""Baton's asyncio NATS client, usable from blocking code: plain threads or Locust's greenlets.

nats-py is asyncio; Locust runs users as gevent greenlets with the standard library patched. So
the NATS connection lives on an asyncio loop in one native OS thread, and callers hand it
coroutines. A plain thread waits on the result's future. A greenlet must not block its hub, so
under gevent it waits on a hub `async_` watcher that the loop thread fires when the result is in
(the one cross-thread wake-up gevent documents as safe); other greenlets run meanwhile.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import sys
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import nats
from nats.aio.client import Client as NatsClient

from shared.contract.catalogue import Route
from shared.runtime.client import BatonClient, Credentials

T = TypeVar("T")
RequestT = TypeVar("RequestT")
ReplyT = TypeVar("ReplyT")


@functools.cache
def _gevent_patched() -> bool:
    """Asked on every wait; the answer is fixed once a connection exists (Locust patches at its
    import, before any user starts)."""
    if "gevent" not in sys.modules:
        return False
    from gevent import monkey

    return bool(monkey.is_module_patched("socket"))


def _start_native_thread(target: Callable[[], None]) -> None:
    if _gevent_patched():
        from gevent import monkey

        # threading.Thread is a greenlet once patched; the loop needs a real thread of its own.
        monkey.get_original("_thread", "start_new_thread")(target, ())
    else:
        threading.Thread(target=target, name="baton-nats-loop", daemon=True).start()


def _new_loop() -> asyncio.AbstractEventLoop:
    if _gevent_patched():
        from gevent import monkey

        # The unpatched selector: the loop thread blocks in the kernel, not in a gevent hub.
        selector = monkey.get_original("selectors", "DefaultSelector")()
        return asyncio.SelectorEventLoop(selector)
    return asyncio.new_event_loop()


def _wait(future: concurrent.futures.Future[T], timeout: float) -> T:
    if not _gevent_patched():
        return future.result(timeout)
    import gevent

    hub = gevent.get_hub()
    watcher = hub.loop.async_()
    future.add_done_callback(lambda _: watcher.send())
    try:
        with gevent.Timeout(timeout):
            while not future.done():
                hub.wait(watcher)
    finally:
        watcher.close()
    return future.result(0)


class BlockingNats:
    """One NATS connection on a background asyncio loop; `run` a coroutine there and wait.

    `call` sends as `credentials`; other callers share the connection through
    `client.acting_as(theirs)` and `run`."""

    def __init__(
        self, url: str, timeout: float = 30.0, credentials: Credentials | None = None
    ) -> None:
        self.timeout = timeout
        self._loop = _new_loop()
        self._started = concurrent.futures.Future[None]()
        self._finished = concurrent.futures.Future[None]()

        def serve() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.call_soon(self._started.set_result, None)
            try:
                self._loop.run_forever()
            finally:
                self._loop.close()
                self._finished.set_result(None)

        _start_native_thread(serve)
        _wait(self._started, 10)
        self.nc: NatsClient = self.run(nats.connect(url, name="baton-locust"))
        self.client = BatonClient(self.nc, timeout=timeout, credentials=credentials)

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return _wait(future, self.timeout + 5)

    def call(self, route: Route[RequestT, ReplyT], request: RequestT) -> ReplyT:
        """One typed request: its reply, or the BatonError it was refused with."""
        return self.run(self.client.call(route, request))

    def call_json(self, route: Route[Any, Any], **payload: Any) -> Any:
        """One request from keywords: its data as JSON values, or its BatonError."""
        return self.run(self.client.call_json(route, payload))

    def close(self) -> None:
        self.run(self.nc.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        _wait(self._finished, 10)
