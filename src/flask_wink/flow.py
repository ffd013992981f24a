"""The core's steps that a provider's own views and commands call, in one public module.

A provider package imports only the core's public modules: :mod:`flask_wink` itself,
:mod:`~flask_wink.provider`, :mod:`~flask_wink.settings`, :mod:`~flask_wink.signing`,
:mod:`~flask_wink.upstream`, :mod:`~flask_wink.errors`, :mod:`~flask_wink.state`, the
:mod:`~flask_wink.store` package (not its modules), :mod:`~flask_wink.signals`,
:mod:`~flask_wink.summaries`, :mod:`~flask_wink.timeutil`, :mod:`~flask_wink.openapi`,
:mod:`~flask_wink.addresses`, :mod:`~flask_wink.sandbox`, :mod:`~flask_wink.testing` and this one
(an import-linter contract in ``pyproject.toml`` keeps it so). What lies behind these names (the
receiver, the pipeline, the routes, the CLI) may change shape without a provider noticing.

- :func:`start_link`: start a link for an app user (the mapping to the upstream user, a gone
  upstream user replaced), as the token route does: for a provider's own link views and commands.
- :func:`receive` with a :class:`Delivery`: verify, store once and hand on one server-to-server
  message, as ``.../webhooks`` does: for a provider whose upstream posts to a route of its own.
- :func:`record_browser_event`: record what the user's browser reported (a claim), as
  ``.../callbacks`` does; :data:`CSRF_HEADER` is the header the kit's pages send their CSRF token in.
- :func:`status_with_event` and :func:`start_handling`: record the status an event implies and
  start its handling, for an event a provider stores itself.
- :func:`require_user`: the signed-in app user's id, or a 401 saying what to sign in for.
- :func:`resolve_user`: an app user id or an upstream user id, as a provider's CLI is given one.
- :data:`ACCOUNT_ID_MAX`: the longest account id the core keeps.
- :class:`TriggerError`: what ``test_messages`` raises for a test event it cannot send.
"""

from __future__ import annotations

from .blueprint import CSRF_HEADER, record_browser_event, require_user
from .cli import resolve_user
from .linking import start_link
from .pipeline import ACCOUNT_ID_MAX, start_handling
from .receiver import Delivery, receive, status_with_event
from .triggers import TriggerError

__all__ = [
    "ACCOUNT_ID_MAX",
    "CSRF_HEADER",
    "Delivery",
    "TriggerError",
    "receive",
    "record_browser_event",
    "require_user",
    "resolve_user",
    "start_handling",
    "start_link",
    "status_with_event",
]
