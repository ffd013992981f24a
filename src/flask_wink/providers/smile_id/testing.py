"""A pytest plugin for apps that use Smile ID (loaded automatically once the package is installed).

Fixtures:
    ``smile_id_sandbox``: the Smile ID emulator served on a free loopback port.

Helpers:
    :func:`run_sandbox` serves a fresh emulator for a block; :func:`signed_result` gives the body
    Smile ID would post for a result, signed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from ...testing import serve
from .sandbox import create_sandbox_app
from .signature import signed_fields


@dataclass
class SmileIDSandbox:
    """A running emulator: point ``WINK_SMILE_ID_HOST`` at :attr:`host` with its partner id and key."""

    url: str
    host: str
    partner_id: str
    api_key: str
    state: Any


@contextmanager
def run_sandbox(**options: Any) -> Iterator[SmileIDSandbox]:
    """Serve a fresh emulator for the block (``options`` go to ``create_sandbox_app``; quick
    retries and a short review delay by default)."""
    options.setdefault("retry_delays", (0.05, 0.1))
    options.setdefault("review_delay", 0.2)
    app = create_sandbox_app(**options)
    state = app.extensions["smile_id_sandbox"]
    try:
        with serve(app) as served:
            yield SmileIDSandbox(served.url, served.url + "/v1", state.partner_id, state.api_key, state)
    finally:
        state.close()


@pytest.fixture
def smile_id_sandbox() -> Iterator[SmileIDSandbox]:
    """The Smile ID emulator on a free loopback port."""
    with run_sandbox() as sandbox:
        yield sandbox


def signed_result(
    partner_id: str,
    api_key: str,
    *,
    job_id: str,
    user_id: str,
    result_code: str = "1012",
    final: bool = True,
    smile_job_id: str = "0000000001",
    now: float | None = None,
    **extra: Any,
) -> bytes:
    """The JSON body Smile ID would post for one result, with ``signature`` and ``timestamp``.

    A callback decides nothing until Smile ID's ``job_status`` confirms it: against the emulator,
    record the job's result first with ``sandbox.state.add_job(user_id, job_id, result_code,
    smile_job_id=...)``."""
    body = {
        "JSONVersion": "1.0.0",
        "ResultCode": result_code,
        "ResultText": extra.pop("result_text", "Valid ID"),
        "ResultType": "ID Verification",
        "SmileJobID": smile_job_id,
        "PartnerParams": {"job_id": job_id, "user_id": user_id, "job_type": "5"},
        "IsFinalResult": "true" if final else "false",
        "IsMachineResult": "true" if final else "false",
        "Actions": {"Verify_ID_Number": "Verified", "Return_Personal_Info": "Returned"},
        "ConfidenceValue": "99",
        **extra,
        **signed_fields(partner_id, api_key, now),
    }
    return json.dumps(body).encode()
