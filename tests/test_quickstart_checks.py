"""`python -m quickstart` checks its configuration at start: one line per problem with the fix,
exit status 2 where it cannot serve, a warning for a `.env` key that looks like a known one, and
never a traceback."""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from quickstart import checks

ROOT = Path(__file__).resolve().parent.parent
BLANK = {name: "" for name in checks.KNOWN_SETTINGS}


def run_quickstart(tmp_path, timeout: float = 60, **settings: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **BLANK, "PYTHONPATH": str(ROOT), "INSTANCE_PATH": str(tmp_path / "instance"),
           **settings}
    return subprocess.run([sys.executable, "-m", "quickstart"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=timeout)


def errors(done: subprocess.CompletedProcess) -> list[str]:
    assert "Traceback" not in done.stdout + done.stderr
    return [line for line in done.stderr.splitlines() if line.startswith("Error: ")]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    "settings, expected",
    [
        ({"APP_PORT": "8,735"}, "APP_PORT must be a whole number, not '8,735': set e.g. APP_PORT=8000."),
        ({"WINK_SDK_VERSION": "3"}, "WINK_SDK_VERSION must be 1 or 2, not 3: set WINK_SDK_VERSION=2."),
        ({"OPEN_API_HOST": "sandbox.smileapi.io/v1"}, "OPEN_API_HOST must start with https://"),
        ({"OPEN_API_HOST": "https://sandbox.smileapi.io"},
         "OPEN_API_HOST must end in /v1, not 'https://sandbox.smileapi.io': "
         "set OPEN_API_HOST=https://sandbox.smileapi.io/v1."),
        ({"DATABASE_URL": "mysql://u@127.0.0.1/db"}, "supports only SQLite and PostgreSQL, not mysql"),
    ],
)
def test_a_bad_setting_is_one_line_with_its_fix_and_no_start(tmp_path, settings, expected):
    done = run_quickstart(tmp_path, APP_PORT=settings.get("APP_PORT", str(free_port())),
                          **{k: v for k, v in settings.items() if k != "APP_PORT"})
    assert done.returncode == 2
    lines = errors(done)
    assert len(lines) == 1 and expected in lines[0]
    assert "Open http" not in done.stdout


def test_each_bad_number_is_named(tmp_path):
    done = run_quickstart(tmp_path, APP_PORT="8,735", WINK_SDK_VERSION="two")
    assert done.returncode == 2
    assert [line.split()[1] for line in errors(done)] == ["APP_PORT", "WINK_SDK_VERSION"]


def test_a_busy_port_is_named_before_anything_is_printed(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_quickstart(tmp_path, APP_PORT=str(port))
    assert done.returncode == 2
    assert errors(done) == [
        f"Error: Port {port} on 127.0.0.1 is in use (another quickstart?): stop that program, "
        f"or set APP_PORT to a free port, e.g. APP_PORT={port + 1}."
    ]
    assert done.stdout == ""


def test_a_postgresql_driver_that_is_not_installed_is_named(tmp_path):
    # psycopg2 made unimportable for this run, as on a machine without it.
    shadow = tmp_path / "shadow" / "psycopg2"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('No module named psycopg2')\n")
    env_path = f"{tmp_path / 'shadow'}{os.pathsep}{ROOT}"
    done = subprocess.run(
        [sys.executable, "-m", "quickstart"], cwd=tmp_path, text=True, capture_output=True, timeout=60,
        env={**os.environ, **BLANK, "PYTHONPATH": env_path, "APP_PORT": str(free_port()),
             "DATABASE_URL": "postgresql+psycopg2://wink@127.0.0.1/wink"},
    )
    assert done.returncode == 2
    (line,) = errors(done)
    assert "psycopg2 is not installed" in line and "pip install" in line


def test_wrong_keys_in_live_mode_are_found_by_one_call_at_start(sandbox, tmp_path):
    done = run_quickstart(tmp_path, APP_PORT=str(free_port()), API_KEY=sandbox.api_key,
                          API_SECRET="not-the-secret", OPEN_API_HOST=sandbox.api_host)
    assert done.returncode == 2
    (line,) = errors(done)
    assert f"Smile's API at {sandbox.api_host} refused API_KEY and API_SECRET" in line
    assert "not-the-secret" not in done.stdout + done.stderr


def test_an_unreachable_host_in_live_mode_is_named(tmp_path):
    port = free_port()  # nothing listens there
    done = run_quickstart(tmp_path, APP_PORT=str(free_port()), API_KEY="k", API_SECRET="s",
                          OPEN_API_HOST=f"http://127.0.0.1:{port}/v1")
    assert done.returncode == 2
    (line,) = errors(done)
    assert "could not be reached" in line and "check OPEN_API_HOST" in line


def test_right_keys_in_live_mode_start(sandbox, tmp_path):
    out = io.StringIO()
    started = checks.start(
        {**BLANK, "APP_PORT": str(free_port()), "API_KEY": sandbox.api_key,
         "API_SECRET": sandbox.api_secret, "OPEN_API_HOST": sandbox.api_host,
         "INSTANCE_PATH": str(tmp_path / "instance")},
        env_file=tmp_path / "none.env", out=out,
    )
    assert started is not None and out.getvalue() == ""
    assert checks.providers_on(started[1]) == "smile_wink"


def test_a_mistyped_env_key_is_named_in_a_warning(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("API_KYE=live_k\nWEBHOOK_SECRT=s\nMY_OWN_THING=1\n")
    out = io.StringIO()
    started = checks.start({**BLANK, "APP_PORT": str(free_port()), "INSTANCE_PATH": str(tmp_path / "i")},
                           env_file=env_file, out=out)
    assert started is not None and started[0].mode == "sandbox"
    assert out.getvalue().splitlines() == [
        "Warning: .env sets API_KYE, which the quickstart does not read: did you mean API_KEY?",
        "Warning: .env sets WEBHOOK_SECRT, which the quickstart does not read: did you mean WEBHOOK_SECRET?",
    ]


def test_every_name_the_quickstart_reads_is_known():
    read = set(re.findall(r'get\("([A-Z_]+)"\)', (ROOT / "quickstart" / "settings.py").read_text()))
    read |= set(re.findall(r'"(SMILE_ID_[A-Z_]+)"', (ROOT / "quickstart" / "pages_smile_id.py").read_text()))
    example = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert read - checks.KNOWN_SETTINGS == set()
    assert example - checks.KNOWN_SETTINGS == set()


def test_port_is_served_on_when_app_port_is_not_set(tmp_path):
    import time

    import httpx

    port = free_port()
    env = {**os.environ, **BLANK, "PYTHONPATH": str(ROOT), "INSTANCE_PATH": str(tmp_path / "instance"),
           "PORT": str(port)}
    process = subprocess.Popen([sys.executable, "-m", "quickstart"], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert f"Open http://127.0.0.1:{port}" in process.stdout.readline()
        for _ in range(300):
            try:
                assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
                break
            except httpx.TransportError:
                time.sleep(0.05)
        else:
            pytest.fail("the quickstart did not listen on PORT")
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_app_port_wins_over_port_and_a_bad_port_is_named_as_port(tmp_path):
    env_file = tmp_path / ".env"
    app_port = free_port()
    env_file.write_text(f"PORT=8766\nAPP_PORT={app_port}\n")
    base = {**BLANK, "INSTANCE_PATH": str(tmp_path / "i")}
    del base["PORT"], base["APP_PORT"]
    out = io.StringIO()
    started = checks.start(base, env_file=env_file, out=out)
    assert started is not None and started[0].app_port == app_port and out.getvalue() == ""
    env_file.write_text("PORT=eighty\n")
    assert checks.start(base, env_file=env_file, out=out) is None
    said = out.getvalue().splitlines()[-1]
    assert said == "Error: PORT must be a whole number, not 'eighty': set e.g. PORT=8000."


def test_env_example_lists_every_ucw_setting_the_quickstart_reads():
    example = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    ucw = {name for name in checks.KNOWN_SETTINGS if name.startswith(("UCW_", "WINK_UCW_"))}
    assert ucw == {"UCW_URL", "UCW_TOKEN", "UCW_API_VERSION", "WINK_UCW_TARGET_ORIGIN",
                   "WINK_UCW_DATA_RETENTION"}
    assert ucw - example == set()


def test_a_postgres_database_url_as_heroku_hands_out_is_used(tmp_path):
    import sqlalchemy as sa

    from postgres import fresh_postgres_database

    with fresh_postgres_database() as url:
        heroku = sa.engine.make_url(url).set(drivername="postgres").render_as_string(False)
        out = io.StringIO()
        environ = {**BLANK, "APP_PORT": str(free_port()), "DATABASE_URL": heroku,
                   "INSTANCE_PATH": str(tmp_path / "i")}
        started = checks.start(environ, env_file=tmp_path / "none.env", out=out)
        assert out.getvalue() == "" and started is not None
        from flask_wink import get_state

        store = get_state(started[1]).store
        try:
            assert store.engine.dialect.name == "postgresql"
            assert started[1].test_client().get("/wink/events").status_code == 200
        finally:
            store.dispose()
            started[1].config["QUICKSTART_SANDBOX"].extensions["wink_sandbox"].dispatcher.close()


def test_a_down_ucw_url_in_sandbox_mode_stops_the_start_naming_ucw_url(tmp_path):
    from conftest import free_port_url

    down = free_port_url()
    done = run_quickstart(tmp_path, APP_PORT=str(free_port()), UCW_URL=down)
    assert done.returncode == 2
    assert errors(done) == [
        f"Error: UCW at {down} could not be reached (ConnectError): check UCW_URL and that UCW is running."
    ]
