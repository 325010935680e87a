"""Errors meant for the person running the tool: shown as one paragraph, exit code 2."""

from __future__ import annotations


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
