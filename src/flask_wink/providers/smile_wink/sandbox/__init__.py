"""An offline emulator of Smile's Open API and Wink widget.

Run it on its own with ``python -m flask_wink.sandbox --port 8100``, or mount
:func:`create_sandbox_app` in-process (the quickstart does).
"""

from .app import create_sandbox_app
from .data import PROVIDERS, SANDBOX_USERS
from .state import SandboxState

__all__ = ["PROVIDERS", "SANDBOX_USERS", "SandboxState", "create_sandbox_app"]
