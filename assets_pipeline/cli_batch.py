"""Batch commands of the ``assets_pipeline`` CLI: ``batch MANIFEST``, ``batch status``, ``batch dead`` and
``worker``.

With ``PHYGITAL_ASSETS_BATCH_BROKER_URL`` set, ``batch`` enqueues one job per manifest row for the workers; without
it, the jobs run in local worker processes (one per core). Bad input ends with one stderr line per problem and exit
code 2; a batch with failed jobs exits 1.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from . import clikit
from .errors import AssetError

if TYPE_CHECKING:
    from .batch.state import BatchStatus


class _SubmitByDefault(TyperGroup):
    """``batch MANIFEST`` means ``batch submit MANIFEST``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """Insert ``submit`` when the first argument is not a subcommand."""
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["submit", *args]
        return super().parse_args(ctx, args)


app = clikit.App(add_completion=False, pretty_exceptions_enable=False)
batch_app = clikit.App(
    cls=_SubmitByDefault, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    help="Publish a whole catalog from a manifest (CSV or JSON lines): 'batch MANIFEST', 'batch status [BATCH]'.")
app.add_typer(batch_app, name="batch")


def _cli() -> Any:
    from .cli import common

    return common


def _fail(exc: AssetError) -> None:
    from .batch.manifest import ManifestError

    common = _cli()
    if isinstance(exc, ManifestError):
        for line in exc.lines():
            common.fail(line)
        common.err.print(f"{len({p.line for p in exc.problems})} bad row(s); nothing was enqueued "
                         "(--skip-bad runs the good rows)", highlight=False)
        raise typer.Exit(2)
    raise common.fail(exc)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = round(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s" if m else f"{s}s"


def _counts_text(st: BatchStatus) -> str:
    order = ("published", "unchanged", "failed", "skipped", "running", "retrying", "queued")
    return ", ".join(f"{st.counts[k]} {k}" for k in order if st.counts.get(k))


def _print_status(st: BatchStatus, json_out: bool) -> None:
    out, err = _cli().out, _cli().err
    if json_out:
        sys.stdout.write(json.dumps(st.to_dict()) + "\n")
        return
    rate = st.per_minute
    out.print(f"batch {st.batch_id} ({st.mode}, {Path(st.manifest).name}): {st.finished}/{st.total} finished - "
              f"{_counts_text(st)}", highlight=False)
    out.print(f"throughput: {'-' if rate is None else f'{rate:.1f} models/min'}   "
              f"time left: {'done' if st.done else _duration(st.eta_seconds)}", highlight=False)
    for f in st.failures:
        err.print(f"[red]{f.state}:[/] line {f.line} {f.sku}: {f.reason}", highlight=False, soft_wrap=True)


def _progress(console: Any) -> Any:
    """The batch's progress bar on stderr: counts, elapsed time, states and rate; hidden when stderr is not a
    terminal (where rich leaves an empty line)."""
    from rich.progress import MofNCompleteColumn, TextColumn

    from . import clikit

    return clikit.progress_bar(MofNCompleteColumn(), TextColumn("{task.fields[info]}"), width=0, console=console)


def _follow(state: Any, batch_id: str, quiet: bool, poll_s: float = 1.0) -> BatchStatus:
    """Show a progress bar until every job of the batch is final."""
    st = state.status(batch_id)
    if quiet:
        while not st.done:
            time.sleep(poll_s)
            st = state.status(batch_id)
        return st
    with _progress(_cli().err) as bar:
        task = bar.add_task(f"batch {batch_id}", total=st.total, info="")
        while True:
            rate = st.per_minute
            info = f"{_counts_text(st)}" + (f"  {rate:.1f}/min, {_duration(st.eta_seconds)} left" if rate else "")
            bar.update(task, completed=st.finished, info=info)
            if st.done:
                return st
            time.sleep(poll_s)
            st = state.status(batch_id)


@batch_app.command("submit")
def submit(
    manifest: Annotated[Path, typer.Argument(help="CSV (with a header row) or JSON-lines manifest.")],
    skip_bad: Annotated[bool, typer.Option("--skip-bad", help="Run the good rows even if some are bad "
                                                              "(the bad ones are listed and skipped).")] = False,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the batch with a progress bar (the local mode "
                                                      "always waits).")] = False,
    processes: Annotated[int | None, typer.Option(min=1, max=256, help="Local mode: worker processes "
                                                                       "(default: one per core).")] = None,
    check_only: Annotated[bool, typer.Option("--check", help="Only check the manifest.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the final status as JSON.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Check a manifest, then publish every row (one job per row; unchanged rows publish nothing)."""
    from .batch.state import BatchState
    from .batch.submit import check_manifest
    from .batch.submit import submit as do_submit
    cli = _cli()
    service = cli.open_service()
    try:
        checked = check_manifest(manifest, service)
        if check_only:
            if checked.problems:
                from .batch.manifest import ManifestError

                raise ManifestError(checked.path, checked.problems)
            cli.out.print(f"{manifest.name}: {len(checked.rows)} row(s), no problems", highlight=False)
            return
        for p in checked.problems if skip_bad else ():
            cli.err.print(f"[yellow]skipped:[/] {p.render(manifest.name)}", highlight=False, soft_wrap=True)
        state = BatchState(service.catalog)
        local = not service.settings.batch_broker_url
        bar: dict[str, Any] = {}

        def tick(batch_id: str, _manifest: object) -> None:
            if quiet:
                return
            if "progress" not in bar:
                progress = _progress(cli.err)
                progress.start()
                bar["progress"] = progress
                bar["task"] = progress.add_task(f"batch {batch_id}", total=len(checked.rows), info="")
            if time.monotonic() - bar.get("polled", 0.0) < 1.0:
                return
            bar["polled"] = time.monotonic()
            st = state.status(batch_id)
            rate = st.per_minute
            bar["progress"].update(bar["task"], completed=st.finished, total=st.total, info=_counts_text(st) + (
                f"  {rate:.1f}/min, {_duration(st.eta_seconds)} left" if rate else ""))

        try:
            batch_id = do_submit(checked, service, skip_bad=skip_bad, run_local=tick, processes=processes)
        finally:
            if "progress" in bar:
                bar["progress"].stop()
        if not local:
            cli.err.print(f"batch {batch_id}: {len(checked.rows)} job(s) enqueued", highlight=False)
            if not wait:
                if json_out:
                    _print_status(state.status(batch_id), True)
                else:
                    cli.out.print(batch_id, highlight=False)
                return
            st = _follow(state, batch_id, quiet)
        else:
            st = state.status(batch_id)
        _print_status(st, json_out)
        if st.counts.get("failed"):
            raise typer.Exit(1)
    except AssetError as exc:
        _fail(exc)
    finally:
        service.close()


@batch_app.command("status")
def status(
    batch: Annotated[str | None, typer.Argument(help="Batch id (default: the latest batch).")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Follow with a progress bar until it is done.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Totals by state, throughput, time left, and the failures with their reasons."""
    from .batch.state import BatchState

    service = _cli().open_service()
    try:
        state = BatchState(service.catalog)
        batch_id = batch or state.latest()
        st = _follow(state, batch_id, json_out) if wait else state.status(batch_id)
        _print_status(st, json_out)
    except AssetError as exc:
        _fail(exc)
    finally:
        service.close()


@batch_app.command("dead")
def dead(
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="Jobs to list.")] = 100,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
) -> None:
    """List the broker's dead-letter set: jobs that failed for good, newest first, with their reasons."""
    from .batch.broker import dead_letters
    from .batch.state import BatchState

    service = _cli().open_service()
    try:
        if not service.settings.batch_broker_url:
            raise _cli().fail("PHYGITAL_ASSETS_BATCH_BROKER_URL is not set (the local mode keeps failures in "
                              "'batch status')")
        rows = dead_letters(service.settings, limit, BatchState(service.catalog).reason)
    except AssetError as exc:
        _fail(exc)
        return
    finally:
        service.close()
    for r in rows:
        if json_out:
            sys.stdout.write(json.dumps(r) + "\n")
        else:
            _cli().out.print(f"{r['batch']} line {r['line']} {r['sku']}: {r['error']}", highlight=False,
                             soft_wrap=True)


@app.command()
def worker(
    processes: Annotated[int, typer.Option(min=1, max=256, help="Worker processes on this machine.")] = 1,
    threads: Annotated[int, typer.Option(min=1, max=64, help="Jobs at once per process (publishing is "
                                                             "CPU-bound: prefer processes).")] = 1,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Run batch workers: consume the broker's publish queue until SIGTERM or Ctrl-C."""
    import logging

    from .batch.worker import serve_processes

    cli = _cli()
    cli.setup_logging(verbose)
    if not verbose:
        logging.getLogger("assets_pipeline.batch").setLevel(logging.INFO)
    settings = cli.settings()
    if not settings.batch_broker_url:
        raise cli.fail("PHYGITAL_ASSETS_BATCH_BROKER_URL is not set (e.g. redis://127.0.0.1:6379/0)")
    try:
        serve_processes(settings, processes, threads=threads)
    except AssetError as exc:
        _fail(exc)
