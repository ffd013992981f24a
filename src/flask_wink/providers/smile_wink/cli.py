"""``flask wink smile-wink ...``: Smile Wink's commands (user data, archives, invitations)."""

from __future__ import annotations

import click

from . import archives, invites, userdata

smile_wink_cli = click.Group("smile-wink", help="Smile Wink: user data, archives, invitations, webhooks.")

for _part in (userdata, archives, invites):
    _part.register_cli(smile_wink_cli)
# ``flask wink revoke archive ID`` beside ``revoke account``.
userdata.revoke_group.add_command(archives.revoke_archive_command, "archive")
