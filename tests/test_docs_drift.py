"""docs/reference.md lists every setting, signal, command and endpoint the code has, and nothing
the code does not have, and docs/providers.md every field of the values a provider speaks:
adding one without its line (or leaving a line behind) fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from drift import (
    command_paths,
    endpoints,
    provider_aliases,
    quickstart_app,
    quickstart_routes,
    settings_in_code,
    signals_in_code,
)

REFERENCE = Path(__file__).resolve().parent.parent / "docs" / "reference.md"


def section(title: str) -> str:
    text = REFERENCE.read_text("utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start: end if end != -1 else None]


def first_cells(text: str) -> list[str]:
    """The first cell of each table row (header and rule rows left out), without backticks."""
    cells = []
    for line in text.splitlines():
        if line.startswith("| ") and not re.match(r"\|\s*-", line):
            cells.append(line.split("|")[1].strip())
    return cells


@pytest.fixture(scope="module")
def app():
    return quickstart_app()


def test_the_settings_table_lists_every_setting():
    documented = {m for cell in first_cells(section("Configuration"))
                  for m in re.findall(r"`(WINK_[A-Z0-9_]+)`", cell)}
    code = settings_in_code()
    assert code - documented == set(), "settings read by the code but missing from the reference"
    assert documented - code == set(), "settings in the reference that the code does not read"


def test_the_signals_table_lists_every_signal():
    documented = set()
    for line in section("Signals").splitlines():
        found = re.match(r"\| `([a-z_]+)` \| `(flask_wink[a-z_.]*)` \|", line)
        if found:
            documented.add((found.group(2), found.group(1)))
    code = signals_in_code()
    assert code - documented == set(), "signals missing from the reference"
    assert documented - code == set(), "signals in the reference that the code does not define"


def test_the_command_table_lists_every_command(app):
    aliases = provider_aliases(app)
    code = {aliases.get(path, path) for path in command_paths(app)}
    documented = set()
    for cell in first_cells(section("Command line")):
        words = cell.strip("`").split()
        if words[:2] != ["flask", "wink"]:
            continue
        path = ["wink"]
        for word in words[2:]:
            if not re.fullmatch(r"[a-z][a-z0-9-]*", word):
                break
            path.append(word)
        documented.add(" ".join(path))
    assert code - documented == set(), "commands missing from the reference"
    assert documented - code == set(), "commands in the reference that do not exist"


def test_the_endpoint_table_lists_every_endpoint(app):
    documented = set()
    for cell in first_cells(section("Endpoints")):
        found = re.fullmatch(r"`((?:GET|POST|PUT|PATCH|DELETE) /wink/\S*)`", cell)
        if found:
            documented.add(found.group(1))
    code = endpoints(app)
    assert code - documented == set(), "endpoints missing from the reference"
    assert documented - code == set(), "endpoints in the reference that the app does not serve"


def test_the_quickstart_route_table_lists_every_route(app):
    text = section("The quickstart")
    routes = text[text.index("### Routes"):]
    documented = set()
    for cell in first_cells(routes):
        found = re.fullmatch(r"`((?:GET|POST|PUT|PATCH|DELETE) /\S*)`", cell)
        if found:
            documented.add(found.group(1))
    code = quickstart_routes(app)
    assert code - documented == set(), "quickstart routes missing from the reference"
    assert documented - code == set(), "quickstart routes in the reference that it does not serve"


def test_the_migrations_table_lists_every_revision():
    from flask_wink.store import migrations

    text = REFERENCE.read_text("utf-8")
    start = text.index("\n### Migrations\n")
    table = text[start: text.index("\n#", start + 1)]
    documented = {cell.strip("`") for cell in first_cells(table)} - {"revision"}
    script = migrations.script_directory(migrations.installed_locations())  # the providers' too
    code = {rev.revision for rev in script.walk_revisions()}
    assert code - documented == set(), "revisions missing from the reference's migrations table"
    assert documented - code == set(), "revisions in the reference that no migration has"


PROVIDERS = REFERENCE.parent / "providers.md"


def test_the_providers_page_lists_every_field_of_every_value_a_provider_speaks():
    import dataclasses

    import flask_wink.provider as provider

    text = PROVIDERS.read_text("utf-8")
    start = text.index("\n## The values a provider speaks\n")
    values = text[start: text.index("\n## ", start + 1)]
    documented = {}
    for heading, body in re.findall(r"\n### `(\w+)`\n(.*?)(?=\n### |\Z)", values, flags=re.DOTALL):
        documented[heading] = [cell.strip("`") for cell in first_cells(body)[1:]]
    code = {name: [f.name for f in dataclasses.fields(cls)] for name, cls in vars(provider).items()
            if dataclasses.is_dataclass(cls) and cls.__module__ == provider.__name__}
    assert documented == code


def test_the_complete_example_provider_is_at_most_80_lines():
    """The target the walk-through keeps: a whole provider for a redirect + signed-webhook upstream
    (its block is run, with its HTTP test, by test_docs.py)."""
    text = PROVIDERS.read_text("utf-8")
    start = text.index("\n## A complete example: a hosted page and signed webhooks\n")
    block = re.search(r"\n```python\n(.*?)\n```\n", text[start:], flags=re.DOTALL).group(1)
    assert "class Lantern(BaseProvider):" in block
    assert len(block.splitlines()) <= 80
