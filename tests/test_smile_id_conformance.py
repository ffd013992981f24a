"""The Smile ID emulator as Smile ID's own server library sees it: smile_id_core's Signature and
Utilities.get_job_status run unchanged against it over loopback; its errors, required fields and
callbacks as Smile ID documents them (docs/conformance.md)."""

from __future__ import annotations

import threading

import httpx
import pytest
from flask import Flask, request
from smile_id_core import Signature, Utilities

from flask_wink.providers.smile_id import SmileIDAPIError, SmileIDAuthError, SmileIDClient
from flask_wink.providers.smile_id.testing import run_sandbox
from flask_wink.testing import serve

ENHANCED_KYC = {"country": "NG", "id_type": "BVN", "verification_method": "enhanced_kyc"}
BIOMETRIC_KYC = {"country": "KE", "id_type": "NATIONAL_ID", "verification_method": "biometric_kyc"}
OPTIONS = {"return_job_status": True, "return_history": True, "return_images": True,
           "use_enrolled_image": False}


def make_link(sandbox, callback_url: str, id_type: dict, **fields) -> dict:
    client = SmileIDClient(sandbox.host, sandbox.partner_id, sandbox.api_key)
    try:
        return client.create_link(name="KYC", company_name="Shop", id_types=[id_type],
                                  callback_url=callback_url, data_privacy_policy_url="https://shop.test/privacy",
                                  **fields)
    finally:
        client.close()


def submit(link: str, id_number: str) -> None:
    form = {"id_type": "0", "id_number": id_number, "capture": "1", "action": "submit"}
    assert httpx.post(link, data=form).status_code in (200, 302)


def test_smile_id_core_get_job_status_runs_unchanged_and_confirms_the_answers_signature():
    with run_sandbox() as sandbox:
        params = {"user_id": "user-1", "job_id": "job-1"}
        link = make_link(sandbox, "http://127.0.0.1:9/cb", ENHANCED_KYC, partner_params=params)
        submit(link["link"], "1234560")
        assert sandbox.state.wait_for_callbacks()
        # get_job_status raises ServerError unless the answer's signature is Smile ID's scheme.
        answer = Utilities(sandbox.partner_id, sandbox.api_key, sandbox.host).get_job_status(
            {**params, "job_type": 5}, OPTIONS)
    assert Signature(sandbox.partner_id, sandbox.api_key).confirm_signature(answer["timestamp"],
                                                                          answer["signature"])
    assert (answer["job_complete"], answer["job_success"], answer["code"]) == (True, True, "2302")
    result = answer["result"]
    assert (result["ResultCode"], result["IsFinalResult"]) == ("1012", "true")
    assert result["PartnerParams"] == {**params, "job_type": "5"}
    assert [r["ResultCode"] for r in answer["history"]] == ["1012"] and answer["image_links"] == {}


def test_job_status_says_the_job_is_not_complete_before_its_final_result():
    with run_sandbox(review_delay=60) as sandbox:
        params = {"user_id": "user-2", "job_id": "job-2"}
        link = make_link(sandbox, "http://127.0.0.1:9/cb", BIOMETRIC_KYC, partner_params=params)
        submit(link["link"], "1234562")  # under review: an interim result, the final one later
        answer = Utilities(sandbox.partner_id, sandbox.api_key, sandbox.host).get_job_status(
            {**params, "job_type": 1}, OPTIONS)
        assert set(answer["image_links"]) == {"selfie_image"}
        selfie = httpx.get(answer["image_links"]["selfie_image"])
    assert (answer["job_complete"], answer["job_success"]) == (False, False)
    assert (answer["result"]["ResultCode"], answer["result"]["IsFinalResult"]) == ("0814", "false")
    assert selfie.status_code == 200 and selfie.headers["content-type"] == "image/png"


def test_a_link_with_only_the_documented_fields_signed_by_smile_id_core_is_created():
    # name and id_types are not required by Smile ID's docs; the timestamp is the library's own
    # (datetime.isoformat(), with microseconds and +00:00).
    with run_sandbox() as sandbox:
        signed = Signature(sandbox.partner_id, sandbox.api_key).generate_signature()
        body = {"partner_id": sandbox.partner_id, **signed, "callback_url": "https://shop.test/cb",
                "company_name": "Shop", "data_privacy_policy_url": "https://shop.test/privacy"}
        created = httpx.post(sandbox.host + "/smile_links", json=body)
    assert created.status_code == 200 and set(created.json()) == {"link", "ref_id"}


def test_a_parameter_of_the_wrong_type_is_a_bad_request_with_2204_not_an_auth_error():
    with run_sandbox() as sandbox:
        client = SmileIDClient(sandbox.host, sandbox.partner_id, sandbox.api_key)
        with pytest.raises(SmileIDAPIError) as refused:
            client.create_link(name="KYC", company_name="Shop", id_types=[ENHANCED_KYC],
                               callback_url="https://shop.test/cb", data_privacy_policy_url="https://shop.test/p",
                               is_single_use="yes")  # type: ignore[arg-type]
        client.close()
        signed = Signature(sandbox.partner_id, sandbox.api_key).generate_signature()
        asked = httpx.post(sandbox.host + "/job_status", json={
            "partner_id": sandbox.partner_id, **signed, "user_id": "u", "job_id": "j", "history": "yes"})
    assert not isinstance(refused.value, SmileIDAuthError)
    assert (refused.value.status, refused.value.code) == (400, "2204")
    assert "wrong data type" in refused.value.message
    assert asked.status_code == 400 and asked.json()["code"] == "2204"


@pytest.mark.parametrize("id_type, result_type, actions", [
    (ENHANCED_KYC, "ID Verification", {"Verify_ID_Number", "Return_Personal_Info"}),
    (BIOMETRIC_KYC, "SAIA", {"Liveness_Check", "Register_Selfie", "Selfie_Provided", "Verify_ID_Number",
                             "Human_Review_Compare", "Return_Personal_Info", "Selfie_To_ID_Authority_Compare",
                             "Update_Registered_Selfie_On_File", "Human_Review_Liveness_Check",
                             "Selfie_To_Registered_Selfie_Compare", "Human_Review_Update_Selfie"}),
], ids=["enhanced_kyc", "biometric_kyc"])
def test_a_callback_carries_smile_ids_fields_for_its_job_type(id_type, result_type, actions):
    receiver = Flask("receiver")
    seen: list[dict] = []
    arrived = threading.Event()

    @receiver.post("/cb")
    def cb():
        seen.append(request.get_json())
        arrived.set()
        return "", 200

    with run_sandbox() as sandbox, serve(receiver) as served:
        link = make_link(sandbox, served.url + "/cb", id_type)
        submit(link["link"], "1234560")
        assert arrived.wait(10)
    body = seen[0]
    assert (body["JSONVersion"], body["IsMachineResult"], body["IsFinalResult"]) == ("1.0.0", "true", "true")
    assert body["ResultType"] == result_type and set(body["Actions"]) == actions
    signature = Signature(sandbox.partner_id, sandbox.api_key)
    assert signature.confirm_signature(body["timestamp"], body["signature"])
