"""Several quickstart processes on one database, and one killed mid-load."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from flask_wink.providers.smile_wink.testing import make_event, signed_webhook
from postgres import fresh_postgres_database

ROOT = Path(__file__).resolve().parent.parent
SECRET = "multi-process-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def quickstart_process(database_url: str, tmp_path: Path, hooks: str = ""):
    port = free_port()
    env = {**os.environ, "APP_PORT": str(port), "DATABASE_URL": database_url, "API_KEY": "",
           "INSTANCE_PATH": str(tmp_path / "instance"),
           "WEBHOOK_SECRET": SECRET, "QUICKSTART_HOOKS": hooks,
           "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    process = subprocess.Popen([sys.executable, "-m", "quickstart"], cwd=tmp_path, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(url + "/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, "the quickstart exited at start"
            assert time.monotonic() < deadline, "the quickstart did not start listening"
            time.sleep(0.1)
        yield process, url
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=10)


def test_two_processes_store_and_handle_every_event_exactly_once(tmp_path):
    rng = random.Random(7)
    events = [make_event(rng.choice(["USER_CREATED", "ACCOUNT_CREATED", "ACCOUNT_CONNECTED"]),
                         {"userId": f"tenant-{i % 50}", "accountId": f"a-{i % 300}", "loginName": "x",
                          "providers": ["grab"]}) for i in range(2000)]
    bodies = [signed_webhook(e, SECRET) for e in events]
    with fresh_postgres_database() as database_url, \
            quickstart_process(database_url, tmp_path, "handler_counter:setup") as (_, first), \
            quickstart_process(database_url, tmp_path, "handler_counter:setup") as (_, second):
        plan = []  # (delivery, url): every event once, a tenth again, half of those at once to both
        for i, delivery in enumerate(bodies):
            target = rng.choice([first, second])
            plan.append([(delivery, target)])
            if i % 10 == 0:
                other = second if target == first else first
                if i % 20 == 0:
                    plan[-1].append((delivery, other))  # sent together, below
                else:
                    plan.append([(delivery, other)])
        rng.shuffle(plan)
        local = threading.local()

        def send(group):
            http = getattr(local, "http", None) or setattr(local, "http", httpx.Client()) or local.http
            if len(group) == 1:
                (body, headers), url = group[0]
                return [http.post(url + "/wink/webhooks", content=body, headers=headers).status_code]
            barrier = threading.Barrier(len(group))

            def one(item):
                (body, headers), url = item
                barrier.wait()
                return httpx.post(url + "/wink/webhooks", content=body, headers=headers).status_code

            with ThreadPoolExecutor(len(group)) as pair:
                return list(pair.map(one, group))

        with ThreadPoolExecutor(32) as pool:
            statuses = [s for group in pool.map(send, plan) for s in group]
        assert len(statuses) == 2200 and set(statuses) == {200}

        engine = sa.create_engine(database_url)
        with engine.connect() as conn:
            stored = conn.execute(sa.text("SELECT event_id FROM wink_events")).scalars().all()
            deadline = time.monotonic() + 10
            while True:  # handlers ran before each 2xx; their own commits are already done
                runs = conn.execute(sa.text(
                    "SELECT event_id, count(*) FROM test_handler_runs GROUP BY event_id")).all()
                if len(runs) >= 2000 or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            pids = conn.execute(sa.text("SELECT DISTINCT pid FROM test_handler_runs")).scalars().all()
        engine.dispose()
    assert sorted(stored) == sorted(e["id"] for e in events)
    assert len(runs) == 2000 and {count for _, count in runs} == {1}
    assert len(pids) == 2


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_killed_process_keeps_every_event_it_acknowledged(tmp_path, backend):
    @contextmanager
    def database():
        if backend == "sqlite":
            yield f"sqlite:///{tmp_path / 'killed.sqlite3'}"
        else:
            with fresh_postgres_database() as url:
                yield url

    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    with database() as database_url, quickstart_process(database_url, tmp_path) as (process, url):
        def load():
            with httpx.Client() as http:
                while not stop.is_set():
                    event = make_event("USER_CREATED", {"userId": "tenant-1"})
                    body, headers = signed_webhook(event, SECRET)
                    try:
                        answer = http.post(url + "/wink/webhooks", content=body, headers=headers)
                    except httpx.TransportError:
                        return
                    if answer.status_code == 200:
                        with lock:
                            acknowledged.append(event["id"])

        senders = [threading.Thread(target=load) for _ in range(16)]
        for sender in senders:
            sender.start()
        deadline = time.monotonic() + 30
        while len(acknowledged) < 300 and time.monotonic() < deadline:
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        stop.set()
        for sender in senders:
            sender.join(timeout=10)
        assert len(acknowledged) >= 300

        engine = sa.create_engine(database_url)
        with engine.connect() as conn:
            stored = set(conn.execute(sa.text("SELECT event_id FROM wink_events")).scalars())
        engine.dispose()
    assert set(acknowledged) <= stored
