"""Archives: documents a user uploads instead of logging in (``/v1/archives``)."""

from __future__ import annotations

from flask import Flask, request

from .http import envelope, page
from .state import SandboxError, SandboxState


def register(app: Flask, state: SandboxState) -> None:
    """Add the archive endpoints to the sandbox app."""

    @app.get("/v1/archives")
    def list_archives():
        user_id = request.args.get("userId")
        with state.lock:
            items = [a for a in state.archives.values() if user_id in (None, "", a["userId"])]
        return envelope(page(items))

    @app.get("/v1/archives/<archive_id>")
    def get_archive(archive_id: str):
        with state.lock:
            archive = state.archives.get(archive_id)
        if archive is None:
            raise SandboxError(404, "MISSING_RESOURCE", f"Archive {archive_id} was not found.")
        return envelope(archive)
