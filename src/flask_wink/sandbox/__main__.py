"""``python -m flask_wink.sandbox [NAME] --port N``: serve an upstream's offline emulator and print
the lines to paste into ``.env``. NAME picks the provider (default: ``smile-wink``, Smile's), whose
``serve_sandbox(argv, prog)`` (see :class:`flask_wink.provider.BaseProvider`) is called with the
rest of the arguments; a provider without one has no sandbox."""

from __future__ import annotations

import sys
from importlib.metadata import entry_points

from ..provider import PROVIDER_ENTRY_POINTS

DEFAULT = "smile_wink"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    factories = {ep.name: ep for ep in entry_points(group=PROVIDER_ENTRY_POINTS)}
    if argv[:1] in (["-h"], ["--help"]):
        print(usage(factories))
        return 0
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


def usage(factories: dict) -> str:
    """What ``--help`` says: the command line and the sandbox names there are."""
    names = []
    for name in sorted(factories):
        try:
            has_sandbox = getattr(factories[name].load(), "serve_sandbox", None) is not None
        except Exception:  # a provider that cannot be imported has no sandbox to offer here
            has_sandbox = False
        if has_sandbox:
            default = " (the default)" if name == DEFAULT else ""
            names.append(f"  {name.replace('_', '-')}{default}")
    return "\n".join([
        "usage: python -m flask_wink.sandbox [NAME] [--host HOST] [--port PORT] [options]",
        "",
        "Serve an upstream's offline emulator and print the lines to paste into .env.",
        "",
        "sandboxes (NAME):",
        *names,
        "",
        "python -m flask_wink.sandbox NAME --help lists the options of one sandbox.",
    ])


if __name__ == "__main__":
    sys.exit(main())
