"""What Smile keeps of a user, and what the kit can ask it to delete (``flask wink users erase
--upstream``).

Smile's Open API has no call to delete a user (no ``DELETE /users/{id}``): the user object stays
at Smile. It does have ``DELETE /accounts/{id}`` (Revoke Account: Smile disconnects it and
deletes its data) and ``DELETE /archives/{id}`` (Revoke Archive: Smile deletes its files and the
data read from them), so the kit revokes every account and archive of the user: the ones Smile
lists for them and the ones stored here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from ...provider import UpstreamErasure
from .archives import archives
from .errors import SmileError, SmileNotFound
from .statuses import NAME

#: Statuses Smile gives what is revoked already: not asked again.
REVOKED = {"DISCONNECTED", "REVOKED"}


def erase_upstream(provider: Any, state: Any, upstream_user_ids: Sequence[str]) -> UpstreamErasure:
    """Revoke each of the users' accounts and archives at Smile; the answer in counts only."""
    client = provider.client
    stored_accounts = {a.account_id for uid in upstream_user_ids
                       for a in state.store.list_accounts(provider=NAME, upstream_user_id=uid)}
    with state.store.begin() as conn:
        stored_archives = set(conn.scalars(sa.select(archives.c.archive_id).where(
            archives.c.upstream_user_id.in_(list(upstream_user_ids)))))
    done = {"accounts": 0, "archives": 0, "gone": 0, "failed": 0}

    def listed(method: str, uid: str) -> dict[str, bool]:
        """Ids Smile lists for the user, each with whether it is revoked already."""
        found = {}
        try:
            for item in client.iterate(method, user_id=uid):
                status = item.get("connectionStatus") or (item.get("state") or {}).get("status")
                found[str(item.get("id"))] = status in REVOKED
        except SmileNotFound:
            pass  # Smile has forgotten the user already
        return found

    def revoke(call: Any, ids: dict[str, bool], kind: str) -> None:
        for item_id, already in sorted(ids.items()):
            if already:
                done["gone"] += 1
                continue
            try:
                call(item_id)
                done[kind] += 1
            except SmileNotFound:
                done["gone"] += 1
            except SmileError:
                done["failed"] += 1

    for uid in upstream_user_ids:
        accounts = listed("list_accounts", uid)
        archive_ids = listed("list_archives", uid)
        for account_id in stored_accounts - set(accounts):
            accounts.setdefault(account_id, False)
        for archive_id in stored_archives - set(archive_ids):
            archive_ids.setdefault(archive_id, False)
        stored_accounts -= set(accounts)
        stored_archives -= set(archive_ids)
        revoke(client.revoke_account, accounts, "accounts")
        revoke(client.revoke_archive, archive_ids, "archives")
    answer = (
        f"Smile revoked {done['accounts']} account(s) and {done['archives']} archive(s) "
        f"({done['gone']} revoked or gone already"
        + (f", {done['failed']} refused" if done["failed"] else "")
        + "); the user itself stays at Smile: its Open API has no call to delete a user."
    )
    return UpstreamErasure(asked=True, ok=not done["failed"], answer=answer)
