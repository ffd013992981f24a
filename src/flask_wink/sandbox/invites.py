"""Invitations and invite templates."""

from __future__ import annotations

from flask import Flask

from .state import SandboxState


def register(app: Flask, state: SandboxState) -> None:
    """Add the invitation endpoints to the sandbox app."""
