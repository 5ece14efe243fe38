"""`opsview web` and `opsview exporter` listen on a port: a port they cannot have is one line, exit 2.

Both servers bind when they start (waitress's `create_server`, or werkzeug under `web --dev`, which prints
its own advice and exits 1). `probe` tries the same bind first, before the app is built, so a busy port
fails fast; `bind_error` words the `OSError` of either bind the same way.
"""

from __future__ import annotations

import errno
import socket

from opsview.formatting import quoted


def bind_error(exc: OSError, host: str, port: int) -> str:
    """What went wrong binding `host:port`, and what to do, on one line (no `opsview:` prefix)."""
    if isinstance(exc, socket.gaierror):
        return f"cannot listen on {quoted(host)}: no such host ({exc.strerror or exc}); pass --host with an address"
    if exc.errno == errno.EADDRINUSE:
        return f"port {port} is in use (on {host}): stop what holds it, or pick another with --port"
    if exc.errno == errno.EADDRNOTAVAIL:
        return (f"cannot listen on {host}: not an address of this machine; pass --host with one of its "
                "addresses (127.0.0.1, or 0.0.0.0 for all)")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return (f"cannot listen on port {port}: permission denied (ports below 1024 need root or "
                "CAP_NET_BIND_SERVICE); pick another with --port")
    return f"cannot listen on {host}:{port}: {exc.strerror or exc}"


def probe(host: str, port: int) -> str | None:
    """Why the server could not bind `host:port` (see `bind_error`), or None when it can.

    Binds every address `host` resolves to, as waitress does, with SO_REUSEADDR as both servers set it (a port
    whose last connections linger in TIME_WAIT is free to them), and lets go at once. A program that takes the
    port between this probe and the server's own bind still gets the same line, from the server's bind.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as exc:
        return bind_error(exc, host, port)
    for family, kind, proto, _, address in infos:
        try:
            with socket.socket(family, kind, proto) as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(address)
        except OSError as exc:
            return bind_error(exc, host, port)
    return None
