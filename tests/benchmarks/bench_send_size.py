"""What one WebSocket-sized send costs the sending process over TCP loopback, by size: does sending fewer bytes
per tick frame save the server CPU?  (Issue #13: our binary tick frames carry about 3x the bytes of
Colyseus's patches for the session benchmark's poses.)

The sender (this process, pinned to core 1 when there are two) accepts ``--sockets`` TCP connections from a
reader process (core 0) that reads everything with epoll, as the load generator does; then, per round, writes one
message of each size under test to every socket (``TCP_NODELAY``, as the servers send), a millisecond apart.
Measured: CPU time of the sender (``os.times``, user and system) per send, for each size, the sizes taking turns
within each repeat.  On loopback the receiving side's TCP work runs in the sender's system call, so this is
what a send costs the server whole.  Record ``/proc/loadavg`` with the figures.  Usage::

    .venv/bin/python tests/benchmarks/bench_send_size.py [--sizes 160,350,1400] [--sockets 200] [--rounds 300]
        [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import select
import socket
import statistics
import time
from pathlib import Path


def reader(port: int, count: int) -> None:
    """The reading side (a child process): ``count`` connections read until each is closed, then exit."""
    if len(os.sched_getaffinity(0)) > 1:
        os.sched_setaffinity(0, {0})
    conns = [socket.create_connection(("127.0.0.1", port)) for _ in range(count)]
    poller = select.epoll()
    by_fd = {}
    for conn in conns:
        conn.setblocking(False)
        poller.register(conn.fileno(), select.EPOLLIN)
        by_fd[conn.fileno()] = conn
    while by_fd:
        for fd, _ in poller.poll():
            conn = by_fd.get(fd)
            if conn is None:
                continue
            try:
                data = conn.recv(1 << 16)
            except BlockingIOError:
                continue
            if not data:
                poller.unregister(fd)
                del by_fd[fd]
    os._exit(0)


def cpu_us_per_send(socks: list[socket.socket], size: int, rounds: int) -> tuple[float, float]:
    """User and system CPU microseconds of this process per send of ``size`` bytes to every socket, ``rounds`` times."""
    data = b"x" * size
    before = os.times()
    for _ in range(rounds):
        for sock in socks:
            sock.send(data)
        time.sleep(0.001)
    after = os.times()
    sends = rounds * len(socks)
    return (after.user - before.user) / sends * 1e6, (after.system - before.system) / sends * 1e6


def main() -> None:
    """Connect, warm up, then measure each size in turn, ``--repeats`` times."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="160,350,1400", help="message sizes in bytes, comma-separated")
    parser.add_argument("--sockets", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(args.sockets)
    pid = os.fork()
    if pid == 0:
        reader(listener.getsockname()[1], args.sockets)
    if len(os.sched_getaffinity(0)) > 1:
        os.sched_setaffinity(0, {1})
    socks = [listener.accept()[0] for _ in range(args.sockets)]
    for sock in socks:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    cpu_us_per_send(socks, max(sizes), 20)  # warm up
    figures: dict[int, list[float]] = {size: [] for size in sizes}
    for _ in range(args.repeats):
        for size in sizes:
            user, system = cpu_us_per_send(socks, size, args.rounds)
            figures[size].append(user + system)
    for sock in socks:
        sock.close()
    os.waitpid(pid, 0)
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    for size in sizes:
        runs = ", ".join(f"{v:.2f}" for v in figures[size])
        print(f"{size} bytes: {statistics.median(figures[size]):.2f} us CPU per send (repeats {runs})")
    print(f"{args.sockets} sockets, {args.rounds} rounds x {args.repeats}; load {load}")


if __name__ == "__main__":
    main()
