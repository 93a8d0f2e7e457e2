"""Telling the application that the server has begun to stop.

uvicorn catches SIGTERM and SIGINT, stops accepting, and waits up to SHUTDOWN_TIMEOUT for the
requests in flight before it cancels them (a plain-text 500) and only then runs the lifespan's
shutdown: nothing tells the application in between. A long poll of the change feed would wait
out its `wait` there. So the lifespan hooks in ahead of uvicorn's handler, which still runs.
"""

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)  # the ones uvicorn handles


@contextlib.contextmanager
def on_stop_signal(callback: Callable[[], None]) -> Iterator[None]:
    """While the block runs, a stop signal first schedules `callback` on this event loop,
    then goes on to the handler that was installed before (uvicorn's)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread receives signals: nothing to hook
        return
    loop = asyncio.get_running_loop()
    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}

    def handle(signum: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(callback)
        handler = previous[signal.Signals(signum)]
        if callable(handler):
            handler(signum, frame)
        else:  # the default action (or none): put it back and let the signal take it
            signal.signal(signum, handler)
            signal.raise_signal(signum)

    for sig in STOP_SIGNALS:
        signal.signal(sig, handle)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
