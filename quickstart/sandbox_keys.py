"""The built-in sandboxes' keys, kept in the instance folder in sandbox mode.

The quickstart's sandboxes live in the serving process; a ``flask --app quickstart.app wink ...``
command builds the same app in another process. Both read ``<instance>/sandbox-keys.json`` (made
on first start, readable by its owner only), so the command's client signs in to the running
quickstart's sandbox with the keys that sandbox accepts, signs test events with the webhook secret
the server checks, and uses the same database.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

FILE_NAME = "sandbox-keys.json"


def _fresh() -> dict[str, str]:
    return {
        "smile_wink_api_key": "sbx_key_" + secrets.token_hex(12),
        "smile_wink_api_secret": "sbx_secret_" + secrets.token_hex(24),
        "smile_id_partner_id": str(secrets.randbelow(900) + 100),
        "smile_id_api_key": secrets.token_hex(24),
        # What Smile's sandbox signs its webhooks with when WEBHOOK_SECRET is not set, so that
        # ``flask wink trigger`` signs as the running quickstart checks.
        "webhook_secret": secrets.token_hex(32),
    }


def sandbox_keys(instance_path: str | Path) -> dict[str, str]:
    """The keys in ``instance_path``'s file, made (and written) the first time."""
    path = Path(instance_path) / FILE_NAME
    fresh = _fresh()
    try:
        kept = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        kept = None
    if isinstance(kept, dict) and all(isinstance(kept.get(k), str) and kept[k] for k in fresh):
        return {k: kept[k] for k in fresh}
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written whole under another name first, so a reader never sees half a file.
    partial = path.with_name(f".{FILE_NAME}.{os.getpid()}")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        json.dump(fresh, out)
    if path.exists():  # unreadable or incomplete: replaced
        os.replace(partial, path)
        return fresh
    try:
        # Two processes starting at once: the first file made wins, the other reads it.
        os.link(partial, path)
    except FileExistsError:
        partial.unlink()
        return sandbox_keys(instance_path)
    partial.unlink()
    return fresh
