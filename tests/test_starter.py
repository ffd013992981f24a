"""`flask wink init DIR`: the app it writes passes its own tests in a process of its own, starts
with `flask run` on its .env and serves its pages; a directory with something in it is refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from conftest import free_port_url
from starter_app import blocks, clean_env, csrf_token, flask_run, wink_init


def test_the_written_app_passes_its_own_tests(tmp_path):
    written = wink_init(tmp_path / "myapp")
    assert written.returncode == 0, written.stderr
    assert written.stdout.strip() == f"Wrote a flask-wink app to {tmp_path / 'myapp'}: see " \
                                     f"{tmp_path / 'myapp' / 'README.md'} to start it."
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path / "myapp")]
    tests = subprocess.run(command, cwd=tmp_path / "myapp", env=clean_env(), capture_output=True, text=True,
                           timeout=300)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert tests.stdout.splitlines()[-1].startswith("3 passed")


def test_the_written_app_starts_on_its_env_and_serves_its_pages(tmp_path):
    app_dir = tmp_path / "myapp"
    assert wink_init(app_dir).returncode == 0
    assert (app_dir / ".env").read_text().count("FLASK_SECRET_KEY=") == 1
    assert (app_dir / ".env").read_text().count("FLASK_WINK_ENCRYPTION_KEYS=") == 1
    assert ".env" in (app_dir / ".gitignore").read_text().splitlines()  # it holds the secret key
    url = free_port_url()
    port = url.rsplit(":", 1)[1]
    # The .env as written, but for the port: the app's address is where it is served.
    with flask_run(app_dir, int(port), FLASK_WINK_PUBLIC_URL=url), httpx.Client(base_url=url) as client:
        assert client.get("/").headers["Location"] == "/login"
        token = csrf_token(client.get("/login").text)
        signed_in = client.post("/login", data={"name": "alice", "csrf_token": token})
        assert signed_in.status_code == 302
        home = client.get("/")
        assert home.status_code == 200
        assert "data-wink-open" in home.text and 'href="/wink/ucw/link?next=/"' in home.text
        assert 'action="/wink/smile-id/start"' in home.text and "Sign out alice" in home.text
        links = client.get("/links")
        assert links.status_code == 200 and "Nothing linked yet." in links.text


def test_init_refuses_a_directory_with_something_in_it(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "app.py").write_text("kept")
    refused = wink_init(tmp_path / "mine")
    assert refused.returncode == 1
    assert refused.stderr == f"Error: {tmp_path / 'mine'} is not empty: name a new or empty directory.\n"
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["app.py"]
    assert (tmp_path / "mine" / "app.py").read_text() == "kept"


ROOT = Path(__file__).resolve().parent.parent
STARTER = ROOT / "src" / "flask_wink" / "starter"


def test_the_tutorial_shows_the_app_flask_wink_init_writes():
    # The tutorial's myapp.py comes in parts: the first names the file, the others continue it.
    parts = [b for b in blocks(ROOT / "docs" / "tutorial.md", "python") if b.startswith("# myapp.py")]
    assert len(parts) == 5
    shown = "\n\n".join(p.removeprefix("# myapp.py, continued\n") for p in parts)
    assert shown.split() == (STARTER / "myapp.py").read_text().split()
    tutorial = ROOT / "docs" / "tutorial.md"
    [home] = [b for b in blocks(tutorial, "html") if b.startswith("{# templates/home.html")]
    assert home == (STARTER / "templates" / "home.html").read_text()


def test_the_testing_page_shows_the_test_flask_wink_init_writes():
    [shown] = [b for b in blocks(ROOT / "docs" / "testing.md", "python") if b.startswith("# test_myapp.py\n")]
    assert shown.removeprefix("# test_myapp.py\n") == (STARTER / "test_myapp.py").read_text()
