"""The command group: every command's errors mapped to exit codes (1 bad input, 2 usage,
3 a bug), and the one way the command writes text (control characters made visible)."""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from collections.abc import Callable

import click

from salesproc.core.errors import SalesprocError, SettingsError
from salesproc.core.escaping import visible
from salesproc.version import __version__

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


ISSUES_URL = "https://github.com/salesproc/salesproc/issues"


def echo(text: str, *, err: bool = False, nl: bool = True, prefix: str = "",
         style: Callable[[str], str] | None = None) -> None:
    """Write *text* to the terminal (stdout, or stderr with *err*): the one way the command
    writes text, so that no report or message, whatever it quotes from a CRM export or a
    process file, can drive the terminal: its control characters are made visible
    (:func:`salesproc.core.escaping.visible`; ESC is written as ``\\x1b``). *prefix* (a word
    the program colours) and *style* (colour the program adds to the escaped text) are
    the only escape sequences that get through. `-o` files get the same (`emit_file`)."""
    safe = visible(text)
    click.echo(prefix + (style(safe) if style else safe), err=err, nl=nl)


def warn(text: str) -> None:
    """A warning on stderr."""
    echo(text, err=True, prefix=click.style("warning: ", fg="yellow", bold=True))


class Failure(click.ClickException):
    """Bad input: a kind message (and hint) on stderr, exit code 1."""

    exit_code = EXIT_FINDINGS

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint

    def show(self, file: object = None) -> None:
        echo(self.message, err=True, prefix=click.style("error: ", fg="red", bold=True))
        if self.hint:
            echo(f"  hint: {self.hint}", err=True)


class Terminated(BaseException):
    """SIGTERM, raised where the program stands so that temporary files and worker
    processes are cleaned up on the way out (like Ctrl-C)."""


def terminate(signum: int, frame: object) -> None:
    """The SIGTERM handler :func:`salesproc.cli.main` installs."""
    raise Terminated


class _Command(click.Command):
    """A command whose settings the library found out of range (a SettingsError) reports
    a usage error on the option they came from, with the command's own usage line."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except SettingsError as exc:
            raise _shown_usage(click.BadParameter(
                exc.message + (f" ({exc.hint})" if exc.hint else ""), ctx=ctx,
                param_hint=f"--{exc.setting}")) from None


class _Group(click.Group):
    """Maps library errors to exit code 1, bad option values to 2 and bugs to 3."""

    command_class = _Command

    def invoke(self, ctx: click.Context) -> object:
        try:
            try:
                return super().invoke(ctx)
            finally:  # a full disk or closed pipe is reported here, not at exit
                sys.stdout.flush()
                _kernel_note()
        except SettingsError as exc:
            raise _shown_usage(click.BadParameter(
                exc.message + (f" ({exc.hint})" if exc.hint else ""), ctx=ctx,
                param_hint=f"--{exc.setting}")) from None
        except SalesprocError as exc:
            raise Failure(exc.message, exc.hint) from None
        except click.UsageError as exc:
            raise _shown_usage(exc) from None
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            echo("interrupted", err=True)
            ctx.exit(130)
        except Terminated:
            echo("terminated", err=True)
            ctx.exit(143)
        except BrokenPipeError:
            _quiet_stdout()
            ctx.exit(EXIT_OK)
        except OSError as exc:  # writing to the terminal or a pipe failed (e.g. a full disk)
            _quiet_stdout()
            raise Failure(f"cannot write the output: {exc.strerror or exc}") from None
        except Exception:
            echo(traceback.format_exc(), err=True)
            echo(f"internal error: this is a bug in salesproc {__version__}, not in "
                 f"your file. Please report it, with the text above, at {ISSUES_URL}",
                 err=True)
            ctx.exit(EXIT_INTERNAL)


def _kernel_note() -> None:
    """Say once, if the command simulated, that the compiled simulation kernel was not
    used because it is older than its sources (salesproc.sim.compiled.NOTE): the same
    figures, slower. (Looked up, not imported: commands that do not simulate never load
    the simulator.)"""
    note = getattr(sys.modules.get("salesproc.sim.compiled"), "NOTE", None)
    if note:
        warn(note)


def _shown_usage(exc: click.UsageError) -> click.UsageError:
    """A usage error whose message shows the control characters it quotes: click writes
    these itself, not through echo()."""
    message = visible(exc.message)
    if message == exc.message:
        return exc
    if isinstance(exc, click.BadParameter):
        return click.BadParameter(message, ctx=exc.ctx, param=exc.param,
                                  param_hint=exc.param_hint)
    return click.UsageError(message, ctx=exc.ctx)


def _quiet_stdout() -> None:
    """After stdout failed, point it at /dev/null so the interpreter's last flush is silent."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


@click.group(cls=_Group,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="salesproc")
def cli() -> None:
    """Define sales processes as YAML files in git; validate, draw and simulate them."""
