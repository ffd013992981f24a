"""The offline emulator of a self-hosted Universal Connect Widget (API and widget)."""

from .app import TOKEN_TTL, SandboxState, create_sandbox_app, mint_jwt
from .data import INSTITUTIONS, Institution

__all__ = ["INSTITUTIONS", "TOKEN_TTL", "Institution", "SandboxState", "create_sandbox_app", "mint_jwt"]
