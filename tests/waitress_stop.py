"""Stop a waitress server started in a test thread without racing its select loop."""

from __future__ import annotations

import threading
from typing import Any


def stop_waitress(server: Any, thread: threading.Thread, timeout: float = 5.0) -> None:
    """Close every channel from inside the server's own loop (its trigger runs callbacks there).

    Closing the listening socket from the test thread instead leaves the loop in `select()` on a closed
    descriptor: an EBADF traceback in the server thread at teardown.
    """

    def close_all() -> None:
        for channel in list(server._map.values()):
            channel.close()

    server.trigger.pull_trigger(close_all)
    thread.join(timeout)
    server.task_dispatcher.shutdown()
