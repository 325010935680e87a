"""Errors meant for the person running the tool: shown as one paragraph, exit code 2."""

from __future__ import annotations

import tempfile
import traceback
from pathlib import Path


class UserError(Exception):
    """Bad input (a module, an option, a config file): the message names where and what."""

    exit_code = 2


class RunFailed(UserError):
    """Valid input, but the run cannot give what was asked (a module that kills everyone, a
    keep rule that matches too rarely): exit code 1, and run.json says ``failed``."""

    exit_code = 1


class SimulationError(UserError):
    """A module did something the engine cannot execute (named with module and state).

    SimPy and multiprocessing rebuild exceptions from their `args`, so the whole message is
    the only argument the exception keeps.
    """

    def __init__(
        self, module: str, state: str | None = None, message: str | None = None,
        person: int | None = None,
    ) -> None:
        if state is None or message is None:
            super().__init__(module)
            return
        who = f" (person {person})" if person is not None else ""
        super().__init__(f"{module}: state {state!r}{who}: {message}")


def internal_error(exc: BaseException, folder: Path | None) -> str:
    """The one paragraph for a bug: the traceback goes to FOLDER/error.log (or a temporary
    file) and the message says where."""
    text = "".join(traceback.format_exception(exc))
    try:
        if folder is None or not folder.is_dir():
            raise OSError
        log = folder / "error.log"
        log.write_text(text, encoding="utf-8")
    except OSError:
        with tempfile.NamedTemporaryFile("w", prefix="simulate-error-", suffix=".log",
                                         delete=False, encoding="utf-8") as fh:
            fh.write(text)
            log = Path(fh.name)
    return (f"internal error ({type(exc).__name__}: {exc}); this is a bug in the simulator, "
            f"not in your input: please report it with the traceback written to {log}")
