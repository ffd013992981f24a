"""Quickstart pages: the current user's uploaded documents (archives), with status and payslip amounts."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, render_template

from flask_wink import get_state
from flask_wink.blueprint import link_config
from flask_wink.providers.smile_wink.archives import list_archives

from .shared import SANDBOX_PREFIX, Link


def _smile_user_id() -> str | None:
    state = get_state()
    app_user_id = state.wink.current_user_id()
    return state.store.upstream_user_id("smile_wink", app_user_id) if app_user_id else None


def _money(value: Any) -> str:
    return f"{value:,.2f}" if isinstance(value, int | float) and not isinstance(value, bool) else ""


def archive_rows() -> list[dict[str, Any]]:
    """The current user's archives as the page shows them (amounts formatted, dates cut to the day)."""
    smile_user_id = _smile_user_id()
    rows = []
    for archive in list_archives(smile_user_id=smile_user_id) if smile_user_id else []:
        analysis = archive["analysis"] or {}
        period = ""
        if analysis.get("startDate") or analysis.get("endDate"):
            period = f"{analysis.get('startDate', '')} to {analysis.get('endDate', '')}"
        rows.append(
            {
                "archiveId": archive["archiveId"],
                "files": ", ".join(archive["fileNames"]) or archive["archiveId"],
                "status": archive["status"],
                "error": archive["error"] or "",
                "employer": analysis.get("employerName") or "",
                "period": period,
                "currency": analysis.get("currency") or "",
                "gross": _money(analysis.get("grossAmount")),
                "net": _money(analysis.get("netAmount")),
                "uploaded": archive["createdAt"][:10],
                "expires": archive["expiresAt"][:10],
            }
        )
    return rows


def _sample_urls() -> list[tuple[str, str]]:
    if current_app.config.get("QUICKSTART_SANDBOX") is None:
        return []
    return [(f"{SANDBOX_PREFIX}/samples/payslip.{ext}", ext.upper()) for ext in ("pdf", "png")]


def archives():
    """The current user's archives: status, payslip amounts and expiry; refreshes itself."""
    return render_template(
        "pages/archives.html",
        rows=archive_rows(),
        samples=_sample_urls(),
        wink=link_config(get_state(), "smile_wink"),
    )


def archives_json():
    """The rows of ``/archives`` as JSON, for the page's own refresh."""
    response = jsonify({"archives": archive_rows()})
    response.headers["Cache-Control"] = "no-store"
    return response


#: The pages the dashboard's menu lists.
LINKS: tuple[Link, ...] = (
    ("pages.archives", "Archives"),
)


def register(pages: Blueprint) -> None:
    """Add this part's routes to the quickstart's ``pages`` blueprint."""
    pages.add_url_rule("/archives", view_func=archives, methods=["GET"])
    pages.add_url_rule("/archives.json", view_func=archives_json, methods=["GET"])
