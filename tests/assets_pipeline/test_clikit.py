"""The scaffolding the four CLIs share (assets_pipeline.clikit): one-line errors with exit codes, settings errors,
usage errors, tables that never cut values."""

from __future__ import annotations

import enum
import io
import logging
import sys

import pytest
import typer
from pydantic_settings import BaseSettings, SettingsConfigDict
from rich.console import Console
from rich.table import Table

from assets_pipeline import clikit


class Tone(enum.StrEnum):
    """A choice option for the usage-error test (module level: typer resolves the annotation here)."""

    warm = "warm"
    cool = "cool"


def console() -> Console:
    return Console(file=io.StringIO(), width=80, no_color=True)


def text(c: Console) -> str:
    assert isinstance(c.file, io.StringIO)
    return c.file.getvalue()


def test_fail_is_one_line_and_keeps_brackets() -> None:
    c = console()
    exit_ = clikit.fail("model.obj: material [red]: line 1\nline 2", 2, c)
    assert exit_.exit_code == 2
    assert text(c) == "error: model.obj: material [red]: line 1 line 2\n"  # no markup eaten, no second line


def test_exits_maps_types_in_order_and_internal_errors() -> None:
    class Bad(Exception):
        pass

    class Worse(Bad):
        pass

    c = console()
    with pytest.raises(typer.Exit) as info, clikit.exits((Worse, 3), (Bad, 2), console=c):
        raise Worse("first rule wins")
    assert info.value.exit_code == 3 and text(c) == "error: first rule wins\n"
    with pytest.raises(KeyError), clikit.exits((Bad, 2), console=c):
        raise KeyError("not ours: propagates")
    c = console()
    with pytest.raises(typer.Exit) as info, clikit.exits((Bad, 2), console=c, internal=logging.getLogger("t")):
        raise KeyError("secret detail")
    assert info.value.exit_code == 1 and text(c) == "internal error: KeyError (run with --verbose for details)\n"
    with pytest.raises(typer.Exit) as info, clikit.exits((Exception, 2), console=c):
        raise typer.Exit(5)  # an exit already decided passes through
    assert info.value.exit_code == 5


def test_a_bad_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    class S(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="PHYGITAL_CLIKIT_TEST_")
        port: int = 1

    monkeypatch.setenv("PHYGITAL_CLIKIT_TEST_PORT", "eighty")
    c = console()
    with pytest.raises(typer.Exit) as info:
        clikit.load_settings(S, "PHYGITAL_CLIKIT_TEST_", c)
    assert info.value.exit_code == 2 and text(c).startswith("error: setting PHYGITAL_CLIKIT_TEST_PORT: ")
    monkeypatch.setenv("PHYGITAL_CLIKIT_TEST_PORT", "80")
    assert clikit.load_settings(S, "PHYGITAL_CLIKIT_TEST_", c).port == 80


def test_tables_grow_instead_of_cutting_values() -> None:
    c = console()
    table = Table()
    table.add_column("sku")
    table.add_column("name")
    long_name = "Display stand in brushed aluminium with walnut shelves, for flagship stores, large"
    table.add_row("STAND-WITH-A-RATHER-LONG-SKU-2026", long_name)
    clikit.print_table(table, c)
    out = text(c)
    assert "…" not in out and long_name in out and "STAND-WITH-A-RATHER-LONG-SKU-2026" in out
    assert c.width == 80  # the console is left as it was


def test_run_turns_usage_errors_into_one_line(capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    app = clikit.make_app("demo", "A demo.")

    @app.command()
    def greet(name: str, times: int = 1, tone: Tone = Tone.warm) -> None:
        """Greet someone."""
        print(f"hello {name}" * times)

    @app.command()
    def stop() -> None:
        """Exit with 4."""
        raise typer.Exit(4)

    for argv, code, words in [(["greet", "ana", "--times", "x"], 2, "'--times'"), (["greet"], 2, "'name'"),
                              (["greet", "ana", "--loud"], 2, "No such option: --loud"), (["stop"], 4, ""),
                              (["greet", "ana", "--tone", "hot"], 2, "Invalid value for '--tone': 'hot' is not one of"),
                              (["greet", "ana"], 0, "")]:
        monkeypatch.setattr(sys, "argv", ["demo", *argv])
        with pytest.raises(SystemExit) as info:
            clikit.run(app, Console(stderr=True, no_color=True))
        assert info.value.code == code, argv
        captured = capsys.readouterr()
        if words:
            lines = captured.err.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], captured.err
            assert "--help" in lines[0]
        else:
            assert captured.err == ""
    assert captured.out == "hello ana\n"


def test_logs_off_a_terminal_are_plain_lines_and_load_no_rich() -> None:
    """A server whose stderr is a pipe or a journal writes one unwrapped line per record (time, level, logger) and
    never loads rich (about 2 MiB of the session server's memory at rest); the consoles are made on first use."""
    import subprocess

    script = (
        "import logging, sys\n"
        "import session_server.__main__\n"
        "from assets_pipeline import clikit\n"
        "clikit.setup_logging(logging.INFO)\n"
        "logging.getLogger('shop.floor').warning('word ' * 40 + 'end')\n"
        "print(sorted(m for m in sys.modules if m == 'rich' or m.startswith('rich.')))\n"
        "clikit.warn('now rich')\n"
        "print('rich.console' in sys.modules, clikit.err is clikit.get_console(), clikit.out is not clikit.err)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    lines = done.stderr.splitlines()
    assert len(lines) == 2, done.stderr
    assert " WARNING shop.floor: word word " in lines[0] and lines[0].endswith("word end"), lines[0]
    assert lines[1] == "warning: now rich"
    assert done.stdout.splitlines() == ["[]", "True True True"]


def test_logs_on_a_given_console_go_through_rich() -> None:
    c = console()
    clikit.setup_logging(logging.INFO, c)
    try:
        logging.getLogger("shop.floor").info("hello")
    finally:
        logging.basicConfig(force=True, handlers=[logging.NullHandler()])
    assert "INFO" in text(c) and "hello" in text(c)
