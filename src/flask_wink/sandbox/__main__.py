"""``python -m flask_wink.sandbox [NAME] --port N``: serve an upstream's offline emulator and print
the lines to paste into ``.env``. NAME picks the provider (default: ``smile-wink``, Smile's)."""

from __future__ import annotations

import sys
from importlib.metadata import entry_points

from ..extension import PROVIDER_ENTRY_POINTS

DEFAULT = "smile_wink"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    factories = {ep.name: ep for ep in entry_points(group=PROVIDER_ENTRY_POINTS)}
    name = DEFAULT
    if argv and not argv[0].startswith("-"):
        name = argv.pop(0).replace("-", "_")
    if name not in factories:
        known = ", ".join(sorted(n.replace("_", "-") for n in factories))
        print(f"No sandbox called {name!r}: pick one of {known}.", file=sys.stderr)
        return 2
    provider = factories[name].load()
    serve = getattr(provider, "serve_sandbox", None)
    if serve is None:
        print(f"{name.replace('_', '-')} has no offline sandbox.", file=sys.stderr)
        return 2
    return serve(argv, prog=f"python -m flask_wink.sandbox {name.replace('_', '-')}")


if __name__ == "__main__":
    sys.exit(main())
