"""Every code block of README.md and docs/ is run by Sybil: Python blocks in one namespace per page
(in order), JSON blocks parsed, `flask wink ...` lines resolved against the real command groups
(each command and each option must exist). A block that cannot run in a test (it serves until
stopped, or runs the test suite itself) is marked `<!-- skip: next "why" -->` where it stands.
Hidden setup (`<!-- invisible-code-block: python`) may enter context managers (a sandbox, a served
app, an app context) on `__cleanup__`, which is closed when the page is done. Blocks that are
not run say what they are: `text` (printed output, a file's lines) or `html`."""

from __future__ import annotations

import contextlib
import json
import re
import shlex
import unittest
from pathlib import Path

import pytest
from sybil import Sybil
from sybil.parsers.markdown import CodeBlockParser, PythonCodeBlockParser, SkipParser

from drift import command_paths, quickstart_app

ROOT = Path(__file__).resolve().parent.parent
#: README, the benchmarks' notes and every page of docs/.
PAGES = [ROOT / "README.md", ROOT / "benchmarks" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def evaluate_json(example) -> None:
    # "…" stands for what is left out: an elided object or array is checked as an empty one.
    text = re.sub(r"\{…\}", "{}", example.parsed)
    text = re.sub(r"\[…\]", "[]", text)
    json.loads(text)


def evaluate_shell(example) -> None:
    """Each `flask ... wink ...` line names a command that exists, with options it has."""
    commands = example.namespace.setdefault("__commands__", command_paths(quickstart_app(example.namespace)))
    lines = [line.split("  #")[0].strip() for line in example.parsed.splitlines()]
    checked = 0
    for line in lines:
        if not line or line.startswith("#"):
            continue
        words = shlex.split(line)
        if Path(words[0]).name != "flask":
            raise AssertionError(f"not a flask command (mark the block with a skip and say why): {line}")
        if words[1:2] == ["--app"]:
            words = words[3:]
        else:
            words = words[1:]
        path = []
        def leads_somewhere(candidate: str) -> bool:
            return any(c == candidate or c.startswith(candidate + " ") for c in commands)

        while words and re.fullmatch(r"[a-z][a-z0-9-]*", words[0]) and leads_somewhere(
                " ".join([*path, words[0]])):
            path.append(words.pop(0))
        command = commands.get(" ".join(path))
        assert command is not None and path, f"no such command: {line}"
        known = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
        known.add("--help")
        for word in words:
            for option in re.findall(r"(?:^|[\[|])(--[a-z][a-z0-9-]*)", word):
                assert option in known, f"{' '.join(path)} has no option {option}: {line}"
        checked += 1
    assert checked, "an empty shell block"


SYBIL = Sybil(
    parsers=[
        SkipParser(),
        PythonCodeBlockParser(),
        CodeBlockParser("json", evaluator=evaluate_json),
        CodeBlockParser("sh", evaluator=evaluate_shell),
    ],
)


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_code_block_runs(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # What the pages' examples read from the environment, as a reader following them would set it.
    for name, value in {"SECRET_KEY": "dev", "API_KEY": "sbx-key", "API_SECRET": "sbx-secret",
                        "OPEN_API_HOST": "http://127.0.0.1:9/v1", "WEBHOOK_SECRET": "whsec-dev"}.items():
        monkeypatch.setenv(name, value)
    document = SYBIL.parse(page)
    document.namespace["__tmp__"] = tmp_path
    ran = skipped = 0
    failures = []
    with contextlib.ExitStack() as cleanup:
        document.namespace["__cleanup__"] = cleanup
        for example in document:
            try:
                example.evaluate()
            except unittest.SkipTest:
                skipped += 1
                continue
            except Exception as exc:
                failures.append(f"{page.name}, line {example.line}: {exc!r}")
            ran += 1
    assert failures == [], "\n".join(failures)
    assert ran or not skipped, f"every block of {page.name} is skipped"


#: Languages of blocks that are shown but not run: printed output or a file's lines, and HTML.
SHOWN_ONLY = {"text", "html"}


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_code_block_says_its_language(page):
    """A block without a language would be neither run nor checked: each names one, run or shown."""
    fences = re.findall(r"^ *```(.*)$", page.read_text("utf-8"), flags=re.MULTILINE)
    opening = fences[::2]
    assert len(fences) % 2 == 0, f"{page.name} has an unclosed code block"
    unknown = [tag for tag in opening if tag.strip() not in {"python", "json", "sh", *SHOWN_ONLY}]
    assert unknown == [], f"{page.name}: blocks with no language or one that is not checked: {unknown}"


def anchors(page: Path) -> set[str]:
    """The ids GitHub gives a page's headings: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"^ *```.*?^ *```", "", page.read_text("utf-8"), flags=re.MULTILINE | re.DOTALL)
    headings = re.findall(r"^#+ +(.+?) *$", text, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_relative_link_leads_to_a_file_and_heading_that_exist(page):
    text = re.sub(r"^ *```.*?^ *```", "", page.read_text("utf-8"), flags=re.MULTILINE | re.DOTALL)
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(target)
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(target)
    assert broken == [], f"{page.relative_to(ROOT)}: links to nothing: {broken}"
