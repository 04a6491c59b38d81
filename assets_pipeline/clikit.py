"""What every Phygital command line shares: the typer app, one-line errors with an exit code, settings, logging,
progress bars on stderr and Ctrl-C.

Used by the four CLIs (``assets_pipeline.cli``, ``tryon.cli``, ``scanning.cli``, ``session_server.__main__``); it
lives in the lowest package so that each of them can import it. Convention: bad input ends a command with one
line ``error: <what>: <problem>`` on stderr and exit code 2; an internal failure exits 1; Ctrl-C exits 130.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from pydantic import ValidationError
from pydantic_settings import BaseSettings
from typer.core import TyperCommand

if TYPE_CHECKING:  # rich is imported where used: a server that logs to a pipe never loads it (about 2 MiB)
    from rich.console import Console
    from rich.progress import Progress, ProgressColumn
    from rich.table import Table

S = TypeVar("S", bound=BaseSettings)

_consoles: dict[bool, Console] = {}


def get_console(stderr: bool = True) -> Console:
    """The shared rich Console on stderr (errors, warnings, logs, progress) or stdout (results), made on first use."""
    made = _consoles.get(stderr)
    if made is None:
        from rich.console import Console

        made = _consoles[stderr] = Console(stderr=stderr)
    return made


def __getattr__(name: str) -> Any:
    """``err`` and ``out``: the stderr and stdout consoles of :func:`get_console`, made on first use."""
    if name in ("err", "out"):
        return get_console(stderr=name == "err")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


HELP_WIDTH = 120
"""``--help`` uses the terminal's width up to this many columns (click's own limit is 80)."""


class Command(TyperCommand):
    """A command whose usage line names its arguments as click does: ``INPUT``, ``[QUERY]``, ``FILES...``
    (typer 0.29 writes ``{input}``, ``[query]``, ``{files}...``)."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        """``[OPTIONS]``, then each argument: its metavar, or its name in capitals, in brackets when optional,
        followed by ``...`` when it takes several values."""
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name != "argument":
                pieces.extend(param.get_usage_pieces(ctx))
                continue
            name = param.metavar or (param.name or "").upper()
            name = name if param.required else f"[{name}]"
            pieces.append(name + ("..." if param.nargs != 1 else ""))
        return pieces


class App(typer.Typer):
    """``typer.Typer`` whose commands are :class:`Command` unless given another class: every CLI's apps and
    sub-apps are made with it (or :func:`make_app`), so that every usage line reads the same way."""

    def command(self, name: str | None = None, *, cls: type[TyperCommand] | None = None, **kwargs: Any) -> Any:
        """``typer.Typer.command`` with :class:`Command` as the default class."""
        return super().command(name, cls=cls or Command, **kwargs)


def make_app(name: str, help: str, *, no_args_is_help: bool = True) -> App:
    """A typer app with the house defaults: no tracebacks with locals, no completion commands, and click's plain
    ``--help`` layout (typer's rich panels cut option names short on an 80-100 column terminal, as in
    ``--anim-rotation-err…``, and label every flag ``<bool>``)."""
    return App(name=name, help=help, no_args_is_help=no_args_is_help, pretty_exceptions_enable=False,
               pretty_exceptions_show_locals=False, add_completion=False, rich_markup_mode=None,
               context_settings={"max_content_width": HELP_WIDTH})


def fail(message: object, code: int = 2, console: Console | None = None) -> typer.Exit:
    """Print ``error: <message>`` as one line on stderr and return the ``typer.Exit`` to raise."""
    from rich.text import Text

    text = " ".join(str(message).split("\n"))
    (console or get_console()).print(Text.assemble(("error:", "bold red"), " ", text), highlight=False, soft_wrap=True)
    return typer.Exit(code)


def check_port(host: str, port: int, console: Console | None = None) -> None:
    """Raise the ``typer.Exit`` of one error line when ``host:port`` cannot be bound (in use, or not an address of
    this machine), before a server starts; port 0 (any free port) always passes."""
    if port == 0:
        return
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            probe.bind((host, port))
    except OSError as exc:
        raise fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}", console=console) from None


def warn(message: object, console: Console | None = None) -> None:
    """Print ``warning: <message>`` on stderr."""
    from rich.text import Text

    (console or get_console()).print(Text.assemble(("warning:", "yellow"), " ", str(message)), highlight=False,
                           soft_wrap=True)


@contextmanager
def exits(*rules: tuple[type[BaseException], int], console: Console | None = None,
          internal: logging.Logger | None = None) -> Iterator[None]:
    """Turn the listed exception types into one error line and their exit code (first match wins).

    With ``internal``, any other exception becomes ``internal error: <Type>`` and exit 1, its traceback logged
    at debug level (shown with ``--verbose``); without it, other exceptions propagate.
    """
    try:
        yield
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception as exc:
        for kind, code in rules:
            if isinstance(exc, kind):
                raise fail(exc, code, console) from None
        if internal is None:
            raise
        internal.debug("internal error", exc_info=exc)
        (console or get_console()).print(f"internal error: {type(exc).__name__} (run with --verbose for details)",
                               markup=False, highlight=False)
        raise typer.Exit(1) from None


def load_settings(cls: type[S], prefix: str, console: Console | None = None, **values: object) -> S:
    """Read a settings class from the environment; a bad value ends the command with one line naming it."""
    try:
        return cls(**values)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise fail(f"setting {prefix}{field.upper()}: {first['msg']}", 2, console) from None


def log_level(quiet: bool, verbose: bool, *, default: int = logging.WARNING, quiet_level: int = logging.ERROR) -> int:
    """The logging level for ``--quiet``/``--verbose`` flags."""
    return logging.DEBUG if verbose else quiet_level if quiet else default


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler on ``sys.stderr`` as it is when each record is written (as rich's console does)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        """The current ``sys.stderr``."""
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def setup_logging(level: int, console: Console | None = None) -> None:
    """Send log records to stderr at ``level`` (replacing earlier handlers): through rich on a terminal (or to
    ``console``), else one plain line each, with time, level and logger, unwrapped (for journals and log files)."""
    if console is not None or sys.stderr.isatty():
        from rich.logging import RichHandler

        handler: logging.Handler = RichHandler(console=console or get_console(), show_path=False)
        fmt = "%(message)s"
    else:
        handler = _StderrHandler()
        fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    logging.basicConfig(level=level, format=fmt, force=True, handlers=[handler])


def progress_bar(*columns: ProgressColumn | str, width: int = 18, quiet: bool = False, transient: bool = True,
                 console: Console | None = None) -> Progress:
    """A progress bar on stderr: description, bar, ``columns``, elapsed time; hidden with ``quiet``.

    A transient bar is also hidden when stderr is not a terminal (where it would leave only an empty line).
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    console = console or get_console()
    return Progress(TextColumn(f"{{task.description:<{width}}}"), BarColumn(), *columns, TimeElapsedColumn(),
                    console=console, transient=transient, disable=quiet or (transient and not console.is_terminal))


def print_table(table: Table, console: Console | None = None) -> None:
    """Print a table without cutting or wrapping any value: wider than the console (80 columns when stdout is not
    a terminal) it is printed at its natural width, and a narrow terminal wraps the long lines itself."""
    from rich.measure import Measurement

    console = console or get_console(stderr=False)
    for column in table.columns:
        column.no_wrap = True
    natural = Measurement.get(console, console.options.update_width(1_000_000), table).maximum
    if natural <= console.width:
        console.print(table)
        return
    width = console.width
    console.width = natural
    try:
        console.print(table, crop=False)
    finally:
        console.width = width


def run(app: typer.Typer, console: Console | None = None) -> None:
    """Run a typer app as a console script, every way it can end being one line on stderr at most.

    A usage error (unknown option, missing or bad value) is ``error: <what> (see '<command> --help')`` and exit
    code 2, instead of click's usage block and boxed panel; Ctrl-C prints ``interrupted`` and exits 130.
    """
    try:
        code = app(standalone_mode=False)
    except KeyboardInterrupt:
        console = console or get_console()
        console.print("interrupted", markup=False, highlight=False)
        sys.exit(130)
    except typer.Abort:
        console = console or get_console()
        console.print("aborted", markup=False, highlight=False)
        sys.exit(1)
    except BrokenPipeError:  # the reader went away (``| head``): stop quietly, as click's standalone mode does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except typer.TyperException as exc:  # click's usage errors: typer vendors click under this base
        exit_code = int(getattr(exc, "exit_code", 2))
        if type(exc).__name__ == "NoArgsIsHelpError":  # the help is its message (typer's rich layout prints it)
            help_text = exc.format_message() if hasattr(exc, "format_message") else ""
            if help_text.strip():
                sys.stdout.write(help_text.rstrip("\n") + "\n")
            sys.exit(exit_code)
        format_message = getattr(exc, "format_message", None)
        message = format_message() if callable(format_message) else str(exc)
        message = message.replace(": Value error, ", ": ")  # pydantic's prefix for a validator's ValueError
        ctx = getattr(exc, "ctx", None)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        fail(f"{message}{hint}", exit_code, console)
        sys.exit(exit_code)
    sys.exit(code if isinstance(code, int) else 0)


__all__: Sequence[str] = ["check_port", "exits", "fail", "get_console", "load_settings", "log_level", "make_app",
                          "print_table", "progress_bar", "run", "setup_logging", "warn"]
