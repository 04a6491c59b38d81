"""A/B of checkouts of the session server under the same Node load (issue 13's rooms of ten).

Each run starts one server, ``python -m session_server serve`` from one checkout (its tree first on
``PYTHONPATH``), pinned to core 1, and drives it with ``tools/node/loadgen.mjs`` on core 0 exactly as
``bench_session.py`` does (binary poses at 30 Hz, a move a second, binary tick frames); the checkouts take
turns (A B B A ...; with a third, A B C C B A ...), ``--pairs`` times.  Per run: the server's CPU over the
measured window (user + system, ``/proc/PID/stat`` through psutil), delivered updates/s, p99, the time the
server was runnable but waiting for a CPU (other load: such runs say little), the load average; at the end,
per checkout, the medians and each one's ratios to A (CPU, CPU per delivered update, p99) within each pair.  Usage::

    .venv/bin/python tests/benchmarks/bench_session_ab.py A_CHECKOUT [B_CHECKOUT ...] [--clients 800]
        [--room-size 10] [--seconds 10] [--pairs 3] [--histogram] [--wrap SCRIPT]

Either checkout may be the word ``colyseus``: the Colyseus server of ``tools/node`` instead (the reference).
``TREE@PYTHON`` runs checkout ``TREE`` under the interpreter ``PYTHON`` (a virtual environment's ``bin/python``
with the project installed; default: the one running this script), to compare interpreter builds.
``--histogram`` prints each run's latency percentiles and its histogram in 5 ms buckets.  ``--wrap SCRIPT``
starts ``python SCRIPT serve ...`` instead of ``python -m session_server serve ...`` (a script
that instruments the server, e.g. counts read sizes, then runs the module with ``runpy``).  ``--rss-every S``
samples the server's RSS every S seconds of each run and prints the series under its row (does memory under
load level off?); with B left out, only A runs, ``--pairs`` times (a long run of one checkout)::

    .venv/bin/python tests/benchmarks/bench_session_ab.py . --clients 1000 --pairs 1 --seconds 280 --rss-every 20
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_session as bs


def start_tree(tree: Path, label: str, wrap: str | None = None, python: str | None = None) -> bs.Server:
    """Start the session server of checkout ``tree`` as ``bench_session.start_server`` starts ours (under the
    interpreter ``python``, default this one)."""
    port = bs.free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(tree),
        "PHYGITAL_SESSION_TOKEN_SECRET": bs.SECRET,
        "PHYGITAL_SESSION_LIMITS__MESSAGES_PER_SECOND": "200",
        "PHYGITAL_SESSION_LIMITS__MESSAGE_BURST": "400",
        "PHYGITAL_SESSION_LIMITS__MAX_PARTICIPANTS_PER_ROOM": "250",
    }
    cmd = [
        python or sys.executable,
        *([wrap] if wrap else ["-m", "session_server"]),
        "serve",
        "--port",
        str(port),
        "--quiet",
    ]
    proc = subprocess.Popen(
        cmd,
        cwd=tree,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=bs.pinned(1),
        start_new_session=True,
    )
    ps = psutil.Process(proc.pid)
    deadline = time.monotonic() + 30
    while not any(c.laddr.port == port and c.status == psutil.CONN_LISTEN for c in ps.net_connections("tcp")):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{label} server did not start listening on port {port}")
        time.sleep(0.1)
    time.sleep(bs.REST_SETTLE_S)
    return bs.Server("ours", port, proc, ps, rest_rss=ps.memory_info().rss)


async def _sample_rss(ps: psutil.Process, every: float, into: list[float]) -> None:
    """Append the server's RSS in MiB to ``into`` every ``every`` seconds until cancelled."""
    while True:
        await asyncio.sleep(every)
        try:
            into.append(ps.memory_info().rss / 2**20)
        except psutil.Error:
            return


async def one_run(tree: tuple[Path, str | None], label: str, args: argparse.Namespace) -> tuple[bs.Result, list[float]]:
    """One server of checkout ``tree`` (with its interpreter) under the load; its RSS series in MiB (with
    ``--rss-every``)."""
    path, python = tree
    server = bs.start_server("colyseus") if str(path) == "colyseus" else start_tree(path, label, args.wrap, python)
    rss: list[float] = []
    sampler = asyncio.create_task(_sample_rss(server.ps, args.rss_every, rss)) if args.rss_every else None
    try:
        return await bs.run_load(server, args.clients, args.room_size, args.seconds), rss
    finally:
        if sampler is not None:
            sampler.cancel()
        server.stop()


def _tree(arg: str) -> tuple[Path, str | None]:
    """A checkout's resolved path, or ``colyseus`` (the Colyseus server of tools/node) as it is; with the
    interpreter after an ``@`` (``TREE@PYTHON``), else None (this one)."""
    if arg == "colyseus":
        return Path(arg), None
    path, _, python = arg.partition("@")
    if python and not Path(python).is_file():
        sys.exit(f"{arg}: no interpreter at {python}")
    return Path(path).resolve(), python or None


async def main(args: argparse.Namespace) -> None:
    """Alternate the checkouts (A B B A ..., or A B C C B A ...) and print one row per run, then medians and
    each one's ratios to A."""
    trees = {chr(ord("A") + i): _tree(arg) for i, arg in enumerate(args.trees)}
    rows: dict[str, list[bs.Result]] = {label: [] for label in trees}
    print(
        "\n".join(
            f"{label} = {tree}" + (f" under {python}" if python else "") for label, (tree, python) in trees.items()
        )
        + f"\n{args.clients} clients in rooms of {args.room_size}, {args.seconds} s windows, "
        + f"generator in {args.generator_processes} process(es)\n"
    )
    print("| run | tree | updates/s | p99 ms | server CPU | CPU per 1k updates/s | server waiting | load |")
    print("|---|---|---|---|---|---|---|---|")
    n = 0
    for pair in range(args.pairs):
        for label in list(trees) if pair % 2 == 0 else reversed(list(trees)):
            n += 1
            r, rss = await one_run(trees[label], label, args)
            rows[label].append(r)
            wait = next((x for x in r.extra["notes"] if x.startswith("CPU contention")), "")
            print(
                f"| {n} | {label} | {r.updates_per_s:,.0f} | {r.p99:.1f} | {r.cpu:.1f} % | "
                f"{r.cpu / r.updates_per_s * 1000:.3f} | {wait.split('CPU ')[-1] if wait else '-'} | "
                f"{r.extra['load']:.1f} |",
                flush=True,
            )
            lat = r.extra.get("latency", {})
            if args.histogram and "histogram_5ms" in lat:
                print(
                    f"  latency p50 {lat['p50']:.1f}, p90 {lat['p90']:.1f}, p99 {lat['p99']:.1f}, p99.9 "
                    f"{lat['p999']:.1f} ms; per 5 ms from 0: {', '.join(map(str, lat['histogram_5ms']))}",
                    flush=True,
                )
            if rss:
                print(f"  RSS MiB every {args.rss_every:g} s: {', '.join(f'{v:.0f}' for v in rss)}", flush=True)
    print("\n| tree | updates/s | p99 ms | server CPU |\n|---|---|---|---|")
    for label, rs in rows.items():
        print(
            f"| {label} | {bs._median([r.updates_per_s for r in rs]):,.0f} | {bs._median([r.p99 for r in rs]):.1f} | "
            f"{bs._median([r.cpu for r in rs]):.1f} % |"
        )
    a = rows["A"]
    for label, b in rows.items():
        if label == "A":
            continue
        cpu = [y.cpu / x.cpu for x, y in zip(a, b, strict=True)]
        per = [(y.cpu / y.updates_per_s) / (x.cpu / x.updates_per_s) for x, y in zip(a, b, strict=True)]
        p99 = [y.p99 / x.p99 for x, y in zip(a, b, strict=True)]
        print(
            f"\n{label}/A per pair: CPU {', '.join(f'{v:.3f}' for v in cpu)} (median {bs._median(cpu):.3f}); "
            f"CPU per update {', '.join(f'{v:.3f}' for v in per)} (median {bs._median(per):.3f}); "
            f"p99 {', '.join(f'{v:.2f}' for v in p99)} (median {bs._median(p99):.2f})"
        )


def cli() -> None:
    """Parse the arguments and run the A/B."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "trees",
        nargs="+",
        metavar="CHECKOUT",
        help="checkout A (the baseline), then B, C ... (or the word colyseus; TREE@PYTHON: under that interpreter)",
    )
    parser.add_argument("--clients", type=int, default=800)
    parser.add_argument("--room-size", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--rss-every", type=float, default=0.0, help="sample the server's RSS every this many s")
    parser.add_argument("--histogram", action="store_true", help="print each run's latency percentiles and histogram")
    parser.add_argument(
        "--generator-processes", type=int, default=1, help="Node generator processes (clients dealt out to them)"
    )
    parser.add_argument("--wrap", help="a script run instead of -m session_server (it runs the module itself)")
    args = parser.parse_args()
    if why := bs.node_ready():
        sys.exit(why)
    bs.GENERATOR_PROCESSES = args.generator_processes
    asyncio.run(main(args))


if __name__ == "__main__":
    cli()
