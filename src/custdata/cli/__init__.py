"""Root of the command line: global options, the error mapping, and one register() per group."""

from __future__ import annotations

import errno
import os
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from typer.core import TyperGroup

try:  # typer >= 0.20 carries its own copy of click
    from typer._click.exceptions import ClickException, NoSuchOption
except ImportError:  # pragma: no cover - older typer uses click itself
    from click.exceptions import ClickException, NoSuchOption

from custdata import __version__
from custdata.cli import _shared
from custdata.cli._shared import err, state
from custdata.cli._help import make_readable, misplaced_global
from custdata.cli._hints import shortened, with_advice, with_hint
from custdata.errors import CustdataError, DiskFull, ExitCode
from custdata.outputs import make_private
from custdata.api.session import Session
from custdata.api import committed_operations, store_error_of


_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG}


class Interrupted(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: roll back, exit 130."""


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Interrupted()


class CustdataGroup(TyperGroup):
    """Maps user-facing errors to one line on stderr and the contract's exit code."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        make_readable(self)

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None,
                     **extra: Any) -> Any:
        state.argv = list(args)
        return super().make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx: Any) -> Any:
        before = len(committed_operations())  # CliRunner runs many commands in one process
        make_private(sys.stdout)  # `> contacts.csv` made it with the umask: 0600 before data
        try:
            return super().invoke(ctx)
        except CustdataError as exc:
            if state.debug:
                raise
            _fail(with_hint(exc), exc.exit_code)
        except KeyboardInterrupt as exc:
            if state.debug:
                raise
            _interrupted(before, exc)
        except NoSuchOption as exc:
            message = misplaced_global(exc.option_name, state.argv)
            if message is None:
                exc.message = shortened(exc.message)
                raise
            _fail(message, ExitCode.USAGE, exc)
        except ClickException as exc:  # click's usage errors echo values too: cut them
            exc.message = shortened(exc.message)
            raise
        except typer.Abort as exc:
            # Ctrl-C at a prompt: click turns it into Abort ("Aborted!", exit 1)
            if state.debug or not isinstance(exc.__context__, KeyboardInterrupt):
                raise
            _interrupted(before, exc)
        except BrokenPipeError:
            # The reader of our stdout went away (`custdata export | head`): stop quietly.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise typer.Exit(0)
        except OSError as exc:
            if state.debug or exc.errno not in _DISK_FULL:
                raise
            # stdout (a table, a report) went to a full disk: one line, like every error
            _fail(with_hint(DiskFull("Cannot write the output: the disk is full.",
                                     hint="free_space")), ExitCode.STORE, exc)
        except Exception as exc:  # noqa: BLE001 - only sqlite errors are translated
            store_error = store_error_of(exc, state.db)
            if store_error is None or state.debug:
                raise
            _fail(with_hint(store_error), store_error.exit_code, exc)


def _interrupted(before: int, exc: BaseException) -> None:
    """Ctrl-C or SIGTERM: say whether anything was saved, exit 130."""
    saved = committed_operations()[before:]
    _fail(f"interrupted after operation {saved[-1]} was saved (see `custdata log`)."
          if saved else "interrupted; the store was left as it was before this command.",
          ExitCode.INTERRUPTED, exc)


def _fail(message: str, code: int, cause: BaseException | None = None) -> None:
    err.print(f"[bold red]error:[/] {escape(shortened(message))}", highlight=False,
              soft_wrap=True)
    raise typer.Exit(int(code)) from cause


app = typer.Typer(
    cls=CustdataGroup,
    no_args_is_help=True,
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
    help="custdata: keep a sales team's customer data in order.\n\n"
         "Import contacts, orders and interactions from CSV; clean, validate and dedupe them; "
         "tag lifecycle stages and value tiers; encrypt sensitive columns; audit; report.",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"custdata {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    db: Annotated[str | None, typer.Option(
        "--db", help="The store: an SQLite file, or a team store on PostgreSQL as "
        "postgresql://user@host:port/dbname (default: env CUSTDATA_DB, else ./custdata.db).",
        show_default=False)] = None,
    config: Annotated[Path | None, typer.Option(
        "--config", help="TOML config (default: env CUSTDATA_CONFIG, else custdata.toml "
        "beside the store).", show_default=False)] = None,
    key_file: Annotated[Path | None, typer.Option(
        "--key-file", help="File holding the encryption key (default: env "
        "CUSTDATA_KEY_FILE).", show_default=False)] = None,
    wait: Annotated[float, typer.Option(
        "--wait", help="Seconds to wait for a store locked by another command.", min=0)] = 30.0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress or messages.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Print the version.")] = False,
) -> None:
    """custdata: keep a sales team's customer data in order."""
    env_db = os.environ.get("CUSTDATA_DB")
    state.db = db or env_db or "custdata.db"
    state.config_path = config
    state.key_file = key_file
    state.wait = wait
    state.quiet = quiet
    state.debug = debug
    env_config = os.environ.get("CUSTDATA_CONFIG")
    state.session = Session(
        db=state.db, config_path=config or (Path(env_config) if env_config else None),
        key_file=state.resolved_key_file(),
        wait=wait, command_line=state.command_line, progress=_shared.progress,
        notify=lambda message: _shared.say(with_advice(message)), pause_at=_shared.pause_at)
    state.db = state.session.db  # a Path, or the team store's URL
    ctx.obj = state.session
    _check_stdout(state.session)
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _on_sigterm)


def _check_stdout(session: Session) -> None:
    """Refuse to print into the store or the key file (`export contacts > crm.db`)."""
    from custdata.api.common import protected_paths
    from custdata.errors import OutputFileError
    from custdata.outputs import protected_match, stream_path

    target = stream_path(sys.stdout)
    what = None if target is None else protected_match(target, protected_paths(session))
    if what is not None:
        raise OutputFileError(f"The output is redirected into {what}; printing there would "
                              "destroy it. Redirect it to another file.")


def _register_groups() -> None:
    """Every command group, explicitly, in help order (data first)."""
    from custdata.cli import (
        audit, churn, data, dedupe, htmlreport, people, quality, records, secure, segments,
        team,
    )

    for group in (data, people, audit, churn, dedupe, quality, records, secure, segments,
                  htmlreport, team):
        group.register(app)


_register_groups()


def main() -> None:
    """Entry point of `python -m custdata`."""
    app(prog_name="custdata")


__all__ = ["app", "main", "_shared"]
