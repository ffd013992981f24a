"""An offline emulator of Smile ID's Smile Links (REST API, hosted page, signed callbacks).

Run it on its own with ``python -m flask_wink.sandbox smile-id --port 8300``, or mount
:func:`create_sandbox_app` in-process (the quickstart does, at ``/sandbox/smile-id``).
"""

from .app import create_sandbox_app
from .state import SandboxState, decide

__all__ = ["SandboxState", "create_sandbox_app", "decide"]
