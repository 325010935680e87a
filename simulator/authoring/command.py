"""`simulate modules …`: the module author's commands."""

from __future__ import annotations

import click


@click.group("modules")
def modules_command() -> None:
    """Check, draw, try out and start disease modules (GMF JSON)."""
