"""Serving the LRS from several processes, each on its own listening socket (SO_REUSEPORT).

uvicorn's worker processes share one listening socket, and the process that wakes first accepts every
connection waiting: 32 keep-alive clients connecting at once landed 31 on one process and 1 on the other
(measured with `ss`), so one process did all the work while the other idled. With one socket per process, all
bound to the same address with SO_REUSEPORT, the kernel spreads new connections over the sockets by a hash of
their addresses. uvicorn's supervisor still starts, watches and restarts the processes; a replacement takes over
the socket of the process it replaces (the socket stays open in the supervisor, so connections waiting in its
queue are not lost while it restarts).
"""

from __future__ import annotations

import socket
from typing import Any

import uvicorn
from uvicorn.supervisors import multiprocess


class SocketSlots:
    """The supervisor's listening sockets and which worker process serves each."""

    def __init__(self, sockets: list[socket.socket]) -> None:
        self.sockets = sockets
        self.holders: dict[int, Any] = {}

    def take(self, process: Any) -> list[socket.socket]:
        """The sockets ``process`` serves: the first one no running process holds."""
        for index, sock in enumerate(self.sockets):
            holder = self.holders.get(index)
            if holder is None or holder.process.exitcode is not None:
                self.holders[index] = process
                return [sock]
        # A replacement started while the process it replaces still runs (SIGHUP restarts): it serves them all.
        return list(self.sockets)


class SlotProcess(multiprocess.Process):
    """uvicorn's worker process, given one socket of :attr:`slots` instead of the shared one."""

    slots: SocketSlots | None = None  # set by :func:`run_spread` in the supervisor, never pickled

    def __init__(self, config: uvicorn.Config, sockets: list[socket.socket]) -> None:
        super().__init__(config, self.slots.take(self) if self.slots is not None else sockets)


def listening_socket(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """A socket bound to ``host:port`` with SO_REUSEPORT (others may bind the same address), listening."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


def run_spread(config: uvicorn.Config) -> None:
    """Run ``config.workers`` processes under uvicorn's supervisor, each accepting on its own socket."""
    slots = SocketSlots([listening_socket(config.host, config.port, config.backlog) for _ in range(config.workers)])
    SlotProcess.slots = slots
    # The supervisor makes its processes with the module's ``Process`` (this process only: it is the supervisor).
    multiprocess.Process = SlotProcess  # type: ignore[misc]
    multiprocess.Multiprocess(config, sockets=slots.sockets).run()


def can_spread() -> bool:
    """Whether this platform has SO_REUSEPORT (Linux, the BSDs, macOS)."""
    return hasattr(socket, "SO_REUSEPORT")
