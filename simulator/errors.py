"""Errors meant for the person running the tool: shown as one paragraph, exit code 2."""

from __future__ import annotations


class UserError(Exception):
    """Bad input (a module, an option, a config file): the message names where and what."""

    exit_code = 2


class SimulationError(UserError):
    """A module did something the engine cannot execute (named with module and state)."""

    def __init__(self, module: str, state: str, message: str, person: int | None = None) -> None:
        who = f" (person {person})" if person is not None else ""
        super().__init__(f"{module}: state {state!r}{who}: {message}")
        self.module = module
        self.state = state

    def __reduce__(self) -> tuple[type, tuple[str]]:
        # Crossing a process boundary as a plain UserError keeps the message intact.
        return (UserError, (str(self),))
