"""User data: identities, employments, incomes and the rest, for the sandbox users."""

from __future__ import annotations

from flask import Flask

from .state import SandboxState


def register(app: Flask, state: SandboxState) -> None:
    """Add the user-data endpoints to the sandbox app."""
