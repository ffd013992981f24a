"""Quickstart pages: data."""

from __future__ import annotations

from .pages import link, pages  # noqa: F401 - routes register on this blueprint
