"""The API reference's examples are real answers: each one is a request sent to a live server.

The flow below walks a device through enroll → session → presign → upload → upload_complete,
a reviewer through list → read → publish, and provokes the errors the reference shows. With
``API_EXAMPLES_RECORD=1`` it writes what it saw to ``imaging/api/examples.json`` (which the
schema publishes); otherwise it checks that today's answers still have the recorded shape
and error codes, and that every example, and every answer, validates against the schema.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from PIL import Image as PILImage

from accounts.services import enrollment_code_create
from accounts.tests.conftest import oidc_keys, oidc_provider  # noqa: F401 (fixtures)
from images_app import services as image_services
from images_app.models import Image, ReshootItem
from imaging.api.schema import EXAMPLES_PATH
from tests.api_reference.schema_tools import (
    BodyValidator,
    body_schema,
    operations,
    published_schema,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

RECORD = os.environ.get("API_EXAMPLES_RECORD") == "1"
API_BASE = "https://api.example.com"
S3_BASE = "https://s3.example.com"
VIN = "1HGCM82633A004352"


def jpeg(width: int = 1600, height: int = 1200) -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", (width, height), (90, 120, 160)).save(out, "JPEG", quality=85)
    return out.getvalue()


@dataclass
class Recorder:
    """Sends requests to the live server and keeps what the reference will show."""

    base_url: str
    s3_url: str
    seen: list[dict[str, Any]] = field(default_factory=list)
    # Other addresses of this run and what the reference shows instead.
    aliases: dict[str, str] = field(default_factory=dict)

    def call(
        self,
        op: str,
        method: str,
        path: str,
        *,
        expect: int,
        name: str,
        summary: str,
        token: str | None = None,
        body: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        shared: bool = False,
        document_request: bool = True,
    ) -> Any:
        sent = dict(headers or {})
        if token:
            sent["Authorization"] = f"Bearer {token}"
        response = httpx.request(
            method,
            self.base_url + path,
            json=body if content is None else None,
            content=content,
            headers=sent,
            params=params,
            timeout=30,
        )
        assert response.status_code == expect, (op, name, response.status_code, response.text)
        if not response.headers.get("content-type", "").startswith("application/json"):
            return response.text  # a CSV, a 304: shown by the schema's description, not here
        answer = response.json()
        self.seen.append(
            {
                "op": "*" if shared else op,
                "real_op": op,
                "status": str(expect),
                "name": name,
                "summary": summary,
                "request": body
                if (document_request and body is not None and expect < 300)
                else None,
                "response": answer,
            }
        )
        return answer

    def public(self, value: Any) -> Any:
        """The example as the reference shows it: this test's hosts replaced."""
        text = json.dumps(value)
        text = text.replace(self.base_url, API_BASE).replace(self.s3_url, S3_BASE)
        for address, shown in self.aliases.items():
            text = text.replace(address, shown)
        return json.loads(text)

    def as_examples(self) -> dict[str, Any]:
        document: dict[str, Any] = {"operations": {}, "shared": {}}
        for seen in self.seen:
            named = {"name": seen["name"], "summary": seen["summary"]}
            if seen["op"] == "*":
                responses = document["shared"]
            else:
                operation = document["operations"].setdefault(seen["op"], {})
                if seen["request"] is not None:
                    operation.setdefault("request", []).append(
                        {**named, "value": self.public(seen["request"])}
                    )
                responses = operation.setdefault("responses", {})
            responses.setdefault(seen["status"], []).append(
                {**named, "value": self.public(seen["response"])}
            )
        return document


def walk_the_api(rec: Recorder, *, org, site, reviewer, provider, keys, settings) -> None:
    """Every operation, its success and its typical errors, in the order a device and a
    reviewer meet them."""
    _code, plain_code = enrollment_code_create(org=org, uses=5)
    enroll = {
        "org_id": str(org.id),
        "platform": "ios",
        "model": "iPhone 15 Pro",
        "app_version": "3.4.1",
        "enrollment_code": plain_code,
    }
    device = rec.call(
        "auth_device",
        "POST",
        "/v1/auth/device",
        expect=200,
        name="enroll",
        summary="Enroll with a code from staff",
        body=enroll,
    )
    device_token = device["access_token"]
    rec.call(
        "auth_device",
        "POST",
        "/v1/auth/device",
        expect=200,
        name="refresh",
        summary="Refresh: the device's current token as Bearer, no code",
        token=device_token,
        body={k: v for k, v in enroll.items() if k != "enrollment_code"},
    )
    rec.call(
        "auth_device",
        "POST",
        "/v1/auth/device",
        expect=400,
        name="missing_fields",
        summary="Fields missing",
        body={"org_id": str(org.id), "platform": "ios"},
    )
    rec.call(
        "auth_device",
        "POST",
        "/v1/auth/device",
        expect=401,
        name="wrong_code",
        summary="An unknown enrollment code",
        body={**enroll, "enrollment_code": "NOT-A-CODE"},
    )

    rec.call(
        "auth_jwks",
        "GET",
        "/v1/.well-known/jwks.json",
        expect=200,
        name="keys",
        summary="The current signing key",
    )

    reviewer.oidc_issuer, reviewer.oidc_subject = provider.issuer, "rita-sub"
    reviewer.save(update_fields=["oidc_issuer", "oidc_subject"])
    login = rec.call(
        "auth_login",
        "POST",
        "/v1/auth/login",
        expect=200,
        name="login",
        summary="An id_token from the organisation's provider",
        body={"id_token": provider.id_token(key=keys["rsa"], sub="rita-sub")},
    )
    user_token = login["access_token"]
    rec.call(
        "auth_login",
        "POST",
        "/v1/auth/login",
        expect=400,
        name="no_id_token",
        summary="No id_token",
        body={},
    )
    rec.call(
        "auth_login",
        "POST",
        "/v1/auth/login",
        expect=401,
        name="invalid_id_token",
        summary="An id_token this service cannot verify",
        body={"id_token": "not.a.token"},
    )
    rec.call(
        "auth_login",
        "POST",
        "/v1/auth/login",
        expect=403,
        name="unknown_user",
        summary="A valid id_token of nobody provisioned here",
        body={"id_token": provider.id_token(key=keys["rsa"], sub="nobody-sub")},
    )
    issuer = settings.OIDC_OP_ISSUER
    settings.OIDC_OP_ISSUER = ""
    rec.call(
        "auth_login",
        "POST",
        "/v1/auth/login",
        expect=503,
        name="oidc_unavailable",
        summary="The identity provider is not configured or unreachable",
        body={"id_token": "eyJhbGciOiJSUzI1NiIs"},
        document_request=False,
    )
    settings.OIDC_OP_ISSUER = issuer

    session_body = {
        "site_id": str(site.id),
        "vehicle": {"vin": VIN, "stock": "A1234"},
        "mode": "studio360",
        "shot_list": {"studio360": {"frame_count": 24}, "stills": ["front_3q", "interior"]},
    }
    session = rec.call(
        "sessions_create",
        "POST",
        "/v1/sessions",
        expect=201,
        name="studio360",
        summary="A 24-frame turntable spin with two stills",
        token=device_token,
        body=session_body,
    )
    rec.call(
        "sessions_create",
        "POST",
        "/v1/sessions",
        expect=400,
        name="bad_vin",
        summary="A VIN with the letter O",
        token=device_token,
        body={**session_body, "vehicle": {"vin": "1HGCM82633AO04352"}},
    )
    rec.call(
        "sessions_create",
        "POST",
        "/v1/sessions",
        expect=404,
        name="unknown_site",
        summary="A site that is not the organisation's",
        token=device_token,
        body={**session_body, "site_id": str(uuid.uuid4())},
    )
    rec.call(
        "sessions_create",
        "POST",
        "/v1/sessions",
        expect=409,
        name="vehicle_conflict",
        summary="A stock number that belongs to another VIN",
        token=device_token,
        body={**session_body, "vehicle": {"vin": "WVWZZZ1JZXW000001", "stock": "A1234"}},
    )
    session_path = f"/v1/sessions/{session['id']}"
    rec.call(
        "sessions_retrieve",
        "GET",
        session_path,
        expect=200,
        name="session",
        summary="The device reads its session",
        token=device_token,
    )
    rec.call(
        "sessions_retrieve",
        "GET",
        f"/v1/sessions/{uuid.uuid4()}",
        expect=404,
        name="not_found",
        summary="No such session",
        token=device_token,
    )

    photo = jpeg()
    presign_body = {
        "session_id": session["id"],
        "file_name": "frame_000.jpg",
        "content_type": "image/jpeg",
        "content_sha256": hashlib.sha256(photo).hexdigest(),
        "frame_index": 0,
        "content_length": len(photo),
    }
    presigned = rec.call(
        "presign",
        "POST",
        "/v1/presign",
        expect=200,
        name="spin_frame",
        summary="Frame 0 of the spin, with its size",
        token=device_token,
        body=presign_body,
    )
    rec.call(
        "presign",
        "POST",
        "/v1/presign",
        expect=400,
        name="bad_checksum",
        summary="A content_sha256 that is not 64 hex characters",
        token=device_token,
        body={**presign_body, "content_sha256": "abc"},
    )
    rec.call(
        "presign",
        "POST",
        "/v1/presign",
        expect=404,
        name="unknown_session",
        summary="No such session",
        token=device_token,
        body={**presign_body, "session_id": str(uuid.uuid4())},
    )
    rec.call(
        "presign",
        "POST",
        "/v1/presign",
        expect=409,
        name="placement_conflict",
        summary="A shot name in a spin",
        token=device_token,
        body={
            **{k: v for k, v in presign_body.items() if k != "frame_index"},
            "shot_name": "front_3q",
            # another photo: the same one again would be a retry, answered with its image
            "content_sha256": hashlib.sha256(b"another photo").hexdigest(),
        },
    )
    put = httpx.put(presigned["upload_url"], content=photo, headers=presigned["headers"])
    assert put.status_code == 200, put.text

    image_id = presigned["image_id"]
    rec.call(
        "events_ingest",
        "POST",
        "/v1/events",
        expect=201,
        name="upload_complete",
        summary="The photo is uploaded: start processing",
        token=device_token,
        body={
            "events": [
                {
                    "entity_type": "image",
                    "entity_id": image_id,
                    "type": "upload_complete",
                    "meta": {"bytes": len(photo)},
                }
            ]
        },
    )
    rec.call(
        "events_ingest",
        "POST",
        "/v1/events",
        expect=400,
        name="unknown_type",
        summary="An event type clients may not send",
        token=device_token,
        body={"events": [{"entity_type": "image", "entity_id": image_id, "type": "processed"}]},
    )
    rec.call(
        "events_ingest",
        "POST",
        "/v1/events",
        expect=404,
        name="unknown_entity",
        summary="An image the caller cannot see",
        token=device_token,
        body={"entity_type": "image", "entity_id": str(uuid.uuid4()), "type": "upload_failed"},
    )
    if Image.objects.get(pk=image_id).status != Image.Status.PROCESSED:
        image_services.image_process(image_id=image_id)
    assert Image.objects.get(pk=image_id).status == Image.Status.PROCESSED

    # A second photo, still pending: what a reviewer may not publish yet.
    second = jpeg(1600, 1199)
    pending = httpx.post(
        rec.base_url + "/v1/presign",
        json={
            **presign_body,
            "frame_index": 1,
            "file_name": "frame_001.jpg",
            "content_sha256": hashlib.sha256(second).hexdigest(),
            "content_length": len(second),
        },
        headers={"Authorization": f"Bearer {device_token}"},
    ).json()

    rec.call(
        "sessions_list",
        "GET",
        "/v1/sessions",
        expect=200,
        name="page",
        summary="The first page of the reviewer's sessions",
        token=user_token,
        params={"limit": "20"},
    )
    rec.call(
        "sessions_list",
        "GET",
        "/v1/sessions",
        expect=400,
        name="bad_limit",
        summary="limit=0 (1 to 100)",
        token=user_token,
        params={"limit": "0"},
    )
    rec.call(
        "images_list",
        "GET",
        "/v1/images",
        expect=200,
        name="spin",
        summary="A spin's images by angle",
        token=user_token,
        params={"session_id": session["id"]},
    )
    rec.call(
        "images_list",
        "GET",
        "/v1/images",
        expect=400,
        name="no_session_id",
        summary="session_id missing",
        token=user_token,
    )
    rec.call(
        "images_list",
        "GET",
        "/v1/images",
        expect=404,
        name="unknown_session",
        summary="A session the reviewer cannot see",
        token=user_token,
        params={"session_id": str(uuid.uuid4())},
    )
    rec.call(
        "images_retrieve",
        "GET",
        f"/v1/images/{image_id}",
        expect=200,
        name="processed",
        summary="A processed image",
        token=user_token,
    )
    rec.call(
        "images_retrieve",
        "GET",
        f"/v1/images/{uuid.uuid4()}",
        expect=404,
        name="not_found",
        summary="No such image",
        token=user_token,
    )
    rec.call(
        "images_publish",
        "POST",
        f"/v1/images/{image_id}/publish",
        expect=200,
        name="published",
        summary="Published (again: the same answer)",
        token=user_token,
    )
    rec.call(
        "images_publish",
        "POST",
        f"/v1/images/{pending['image_id']}/publish",
        expect=409,
        name="not_processed",
        summary="An image still pending",
        token=user_token,
    )
    rec.call(
        "images_publish",
        "POST",
        f"/v1/images/{uuid.uuid4()}/publish",
        expect=404,
        name="not_found",
        summary="No such image",
        token=user_token,
    )

    # The vehicle's publication (the publish above wrote version 1, rendered after commit).
    vehicle_id = session.get("vehicle_id") or session["vehicle"]["id"]
    publication_path = f"/v1/vehicles/{vehicle_id}/publication"
    rec.call(
        "vehicles_publication_retrieve",
        "GET",
        publication_path,
        expect=200,
        name="live",
        summary="The live manifest",
        token=user_token,
    )
    rec.call(
        "vehicles_publication_retrieve",
        "GET",
        f"/v1/vehicles/{uuid.uuid4()}/publication",
        expect=404,
        name="not_found",
        summary="No such vehicle",
        token=user_token,
    )
    rec.call(
        "images_unpublish",
        "POST",
        f"/v1/images/{image_id}/unpublish",
        expect=200,
        name="unpublished",
        summary="Out of the publication (a new version)",
        token=user_token,
    )
    rec.call(
        "images_unpublish",
        "POST",
        f"/v1/images/{image_id}/unpublish",
        expect=409,
        name="not_published",
        summary="An image that is not published",
        token=user_token,
    )
    rec.call(
        "images_unpublish",
        "POST",
        f"/v1/images/{uuid.uuid4()}/unpublish",
        expect=404,
        name="not_found",
        summary="No such image",
        token=user_token,
    )
    rec.call(
        "vehicles_publication_rollback",
        "POST",
        publication_path + "/rollback",
        expect=200,
        name="rolled_back",
        summary="Version 1's images live again (a new version)",
        token=user_token,
        body={"version": 1},
    )
    rec.call(
        "vehicles_publication_rollback",
        "POST",
        publication_path + "/rollback",
        expect=404,
        name="unknown_version",
        summary="A version this publication does not have",
        token=user_token,
        body={"version": 99},
    )
    rec.call(
        "vehicles_publication_rollback",
        "POST",
        publication_path + "/rollback",
        expect=400,
        name="not_a_version",
        summary="A version number below 1",
        token=user_token,
        body={"version": 0},
    )
    rec.call(
        "vehicles_publication_rollback",
        "POST",
        f"/v1/vehicles/{uuid.uuid4()}/publication/rollback",
        expect=404,
        name="not_found",
        summary="No such vehicle",
        token=user_token,
        body={"version": 1},
        document_request=False,
    )
    rec.call(
        "vehicles_publication_versions",
        "GET",
        publication_path + "/versions",
        expect=200,
        name="versions",
        summary="Every version, newest first",
        token=user_token,
    )
    rec.call(
        "vehicles_publication_versions",
        "GET",
        publication_path + "/versions",
        expect=400,
        name="bad_limit",
        summary="A limit out of range",
        token=user_token,
        params={"limit": "0"},
    )
    rec.call(
        "vehicles_publication_versions",
        "GET",
        f"/v1/vehicles/{uuid.uuid4()}/publication/versions",
        expect=404,
        name="not_found",
        summary="No such vehicle",
        token=user_token,
    )
    rec.call(
        "feeds_vehicles_csv",
        "GET",
        "/v1/feeds/vehicles.csv",
        expect=200,
        name="generic",
        summary="The generic feed (CSV)",
        token=user_token,
        params={"channel": "generic"},
    )
    rec.call(
        "feeds_vehicles_csv",
        "GET",
        "/v1/feeds/vehicles.csv",
        expect=400,
        name="unknown_channel",
        summary="A channel with no profile",
        token=user_token,
        params={"channel": "nowhere"},
    )
    rec.call(
        "vehicles_publication_withdraw",
        "POST",
        publication_path + "/withdraw",
        expect=200,
        name="withdrawn",
        summary="The car is sold",
        token=user_token,
    )
    rec.call(
        "vehicles_publication_withdraw",
        "POST",
        f"/v1/vehicles/{uuid.uuid4()}/publication/withdraw",
        expect=404,
        name="not_found",
        summary="No such vehicle",
        token=user_token,
    )

    # The review loop: reject with reasons, the device's to-do list, a reshoot asked for.
    rec.call(
        "images_reject",
        "POST",
        f"/v1/images/{image_id}/reject",
        expect=200,
        name="rejected",
        summary="Blurred: back to the device",
        token=user_token,
        body={"reasons": ["blurred"], "note": "The rig shook"},
    )
    rec.call(
        "images_reject",
        "POST",
        f"/v1/images/{image_id}/reject",
        expect=400,
        name="unknown_reason",
        summary="A reason not in the list",
        token=user_token,
        body={"reasons": ["ugly"]},
    )
    rec.call(
        "images_reject",
        "POST",
        f"/v1/images/{pending['image_id']}/reject",
        expect=409,
        name="not_processed",
        summary="An image still pending",
        token=user_token,
        body={"reasons": ["blurred"]},
        document_request=False,
    )
    rec.call(
        "images_reject",
        "POST",
        f"/v1/images/{uuid.uuid4()}/reject",
        expect=404,
        name="not_found",
        summary="No such image",
        token=user_token,
        body={"reasons": ["blurred"]},
        document_request=False,
    )
    rec.call(
        "reshoots_list",
        "GET",
        "/v1/reshoots",
        expect=200,
        name="open",
        summary="The device's open items",
        token=device_token,
        params={"status": "open"},
    )
    rec.call(
        "reshoots_list",
        "GET",
        "/v1/reshoots",
        expect=400,
        name="bad_status",
        summary="A status items do not have",
        token=device_token,
        params={"status": "someday"},
    )
    frame_item = rec.call(
        "reshoots_create",
        "POST",
        "/v1/reshoots",
        expect=201,
        name="frame",
        summary="Frame 2 again, without an image to reject",
        token=user_token,
        body={"session_id": session["id"], "frame_index": 2, "reasons": ["cropped"]},
    )
    rec.call(
        "reshoots_create",
        "POST",
        "/v1/reshoots",
        expect=409,
        name="no_frame",
        summary="A spin's request without frame_index",
        token=user_token,
        body={"session_id": session["id"], "reasons": ["cropped"]},
    )
    rec.call(
        "reshoots_create",
        "POST",
        "/v1/reshoots",
        expect=400,
        name="unknown_reason",
        summary="A reason not in the list",
        token=user_token,
        body={"session_id": session["id"], "frame_index": 3, "reasons": ["ugly"]},
    )
    rec.call(
        "reshoots_create",
        "POST",
        "/v1/reshoots",
        expect=409,
        name="beyond_the_spin",
        summary="A frame beyond the spin's frame_count",
        token=user_token,
        body={"session_id": session["id"], "frame_index": 99, "reasons": ["cropped"]},
    )
    rec.call(
        "reshoots_create",
        "POST",
        "/v1/reshoots",
        expect=404,
        name="not_found",
        summary="No such session",
        token=user_token,
        body={"session_id": str(uuid.uuid4()), "frame_index": 2},
        document_request=False,
    )
    rec.call(
        "reshoots_dismiss",
        "POST",
        f"/v1/reshoots/{frame_item['id']}/dismiss",
        expect=200,
        name="accepted",
        summary="The reviewer accepts frame 2 as it is",
        token=user_token,
        body={"note": "Good enough for the listing"},
    )
    rec.call(
        "reshoots_dismiss",
        "POST",
        f"/v1/reshoots/{frame_item['id']}/dismiss",
        expect=400,
        name="note_too_long",
        summary="A note over 1000 characters",
        token=user_token,
        body={"note": "x" * 1001},
        document_request=False,
    )
    # An item a replacement fulfilled (set here: the replacement's processing is elsewhere).
    fulfilled = httpx.post(
        rec.base_url + "/v1/reshoots",
        json={"session_id": session["id"], "frame_index": 4},
        headers={"Authorization": f"Bearer {user_token}"},
    ).json()
    ReshootItem.objects.filter(pk=fulfilled["id"]).update(status=ReshootItem.Status.FULFILLED)
    rec.call(
        "reshoots_dismiss",
        "POST",
        f"/v1/reshoots/{fulfilled['id']}/dismiss",
        expect=409,
        name="fulfilled",
        summary="An item a replacement fulfilled already",
        token=user_token,
        body={},
        document_request=False,
    )
    rec.call(
        "reshoots_dismiss",
        "POST",
        f"/v1/reshoots/{frame_item['id']}/dismiss",
        expect=403,
        name="device",
        summary="A device may not dismiss",
        token=device_token,
        body={},
        document_request=False,
    )
    rec.call(
        "reshoots_dismiss",
        "POST",
        f"/v1/reshoots/{uuid.uuid4()}/dismiss",
        expect=404,
        name="not_found",
        summary="No such reshoot item",
        token=user_token,
        body={},
        document_request=False,
    )
    etag = httpx.get(
        rec.base_url + session_path, headers={"Authorization": f"Bearer {device_token}"}
    ).headers["ETag"]
    rec.call(
        "sessions_retrieve",
        "GET",
        session_path,
        expect=304,
        name="not_modified",
        summary="Nothing changed since the ETag sent as If-None-Match",
        token=device_token,
        headers={"If-None-Match": etag},
    )
    rec.call(
        "shot_list_templates_list",
        "GET",
        "/v1/shot-list-templates",
        expect=200,
        name="templates",
        summary="The organisation's templates (the dealership default)",
        token=device_token,
    )

    finish = {"status": "complete", "completed_at": None}
    rec.call(
        "sessions_finish",
        "PATCH",
        session_path,
        expect=200,
        name="complete",
        summary="The shoot is done",
        token=device_token,
        body=finish,
    )
    rec.call(
        "sessions_finish",
        "PATCH",
        session_path,
        expect=409,
        name="already_finished",
        summary="Finishing a finished session",
        token=device_token,
        body=finish,
    )
    rec.call(
        "sessions_finish",
        "PATCH",
        session_path,
        expect=400,
        name="bad_status",
        summary="A status a session cannot be finished with",
        token=device_token,
        body={"status": "active"},
    )
    rec.call(
        "sessions_finish",
        "PATCH",
        f"/v1/sessions/{uuid.uuid4()}",
        expect=404,
        name="not_found",
        summary="No such session",
        token=device_token,
        body=finish,
        document_request=False,
    )

    # Answers that read the same from every operation.
    rec.call(
        "sessions_retrieve",
        "GET",
        session_path,
        expect=401,
        name="no_token",
        summary="No Authorization header",
        shared=True,
    )
    rec.call(
        "sessions_list",
        "GET",
        "/v1/sessions",
        expect=403,
        name="forbidden",
        summary="A device token where only users are allowed",
        token=device_token,
        shared=True,
    )
    rec.call(
        "events_ingest",
        "POST",
        "/v1/events",
        expect=413,
        name="too_large",
        summary="A body over 1 MiB",
        token=device_token,
        shared=True,
        content=b'{"events": [' + b" " * (1024 * 1024) + b"]}",
        headers={"Content-Type": "application/json"},
    )
    rec.call(
        "presign",
        "POST",
        "/v1/presign",
        expect=415,
        name="not_json",
        summary="A body that is not JSON",
        token=device_token,
        shared=True,
        content=b"session_id=1",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    walk_the_webhooks(rec, org=org, reviewer_token=user_token, settings=settings)

    # No budget at all: refused whatever the minute has seen (no window edge to race).
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "default": 0}
    rec.call(
        "sessions_list",
        "GET",
        "/v1/sessions",
        expect=429,
        name="rate_limited",
        summary="Over the minute's budget (see Retry-After)",
        token=user_token,
        shared=True,
    )


def walk_the_webhooks(rec: Recorder, *, org, reviewer_token: str, settings) -> None:
    """An admin adds an endpoint (a receiver on this machine, shown as the dealer's DMS),
    pings it, reads the delivery log, replays, rotates the secret and deletes it."""
    from accounts.tests.factories import UserFactory
    from accounts.tokens import user_token_issue
    from webhooks.tests.receiver import Receiver

    settings.WEBHOOKS_ALLOW_INSECURE = True  # the receiver listens on http://127.0.0.1
    receiver = Receiver().up()
    rec.aliases[receiver.url()] = "https://dms.example.com/hooks/imaging"
    admin = UserFactory(org=org, role="admin", name="Ada Admin", email="ada@north.example")
    token = str(user_token_issue(user=admin))
    try:
        endpoint = rec.call(
            "webhooks_create",
            "POST",
            "/v1/webhooks",
            expect=201,
            name="created",
            summary="An endpoint for two event types; its secret is shown only now",
            token=token,
            body={
                "url": receiver.url(),
                "description": "DMS",
                "event_types": ["vehicle.published", "vehicle.withdrawn"],
            },
        )
        rec.call(
            "webhooks_create",
            "POST",
            "/v1/webhooks",
            expect=409,
            name="private_address",
            summary="A URL reaching a private address",
            token=token,
            body={"url": "https://10.0.0.5/hooks"},
        )
        rec.call(
            "webhooks_create",
            "POST",
            "/v1/webhooks",
            expect=400,
            name="unknown_event_type",
            summary="An event type that does not exist",
            token=token,
            body={"url": receiver.url(), "event_types": ["vehicle.sold"]},
        )
        rec.call(
            "webhooks_create",
            "POST",
            "/v1/webhooks",
            expect=403,
            name="not_admin",
            summary="A reviewer",
            token=reviewer_token,
            body={"url": receiver.url()},
            document_request=False,
        )
        rec.call(
            "webhooks_list",
            "GET",
            "/v1/webhooks",
            expect=200,
            name="endpoints",
            summary="The organisation's endpoints (no secrets)",
            token=token,
        )
        path = f"/v1/webhooks/{endpoint['id']}"
        rec.call(
            "webhooks_retrieve",
            "GET",
            path,
            expect=200,
            name="endpoint",
            summary="One endpoint",
            token=token,
        )
        rec.call(
            "webhooks_retrieve",
            "GET",
            f"/v1/webhooks/{uuid.uuid4()}",
            expect=404,
            name="not_found",
            summary="No such endpoint in the organisation",
            token=token,
        )
        rec.call(
            "webhooks_update",
            "PATCH",
            path,
            expect=200,
            name="every_type",
            summary="Every event type from now on",
            token=token,
            body={"description": "DMS (all events)", "event_types": []},
        )
        rec.call(
            "webhooks_update",
            "PATCH",
            path,
            expect=400,
            name="not_a_url",
            summary="A URL that is not one",
            token=token,
            body={"url": "not a url"},
        )
        ping = rec.call(
            "webhooks_test",
            "POST",
            f"{path}/test",
            expect=202,
            name="ping",
            summary="A ping, sent by the worker",
            token=token,
        )
        receiver.wait_for(1)
        rec.call(
            "webhooks_deliveries",
            "GET",
            f"{path}/deliveries",
            expect=200,
            name="deliveries",
            summary="The delivery log, newest first",
            token=token,
        )
        rec.call(
            "webhooks_deliveries_replay",
            "POST",
            f"/v1/webhooks/deliveries/{ping['id']}/replay",
            expect=202,
            name="replayed",
            summary="The same message again (same webhook-id)",
            token=token,
        )
        rec.call(
            "webhooks_deliveries_replay",
            "POST",
            f"/v1/webhooks/deliveries/{uuid.uuid4()}/replay",
            expect=404,
            name="not_found",
            summary="No such delivery in the organisation",
            token=token,
        )
        rec.call(
            "webhooks_rotate_secret",
            "POST",
            f"{path}/rotate-secret",
            expect=200,
            name="rotated",
            summary="A new secret; the previous one signs too for 24 hours",
            token=token,
        )
        rec.call(
            "webhooks_update",
            "PATCH",
            path,
            expect=200,
            name="disabled",
            summary="Paused: nothing is sent until it is enabled again",
            token=token,
            body={"enabled": False},
        )
        rec.call(
            "webhooks_test",
            "POST",
            f"{path}/test",
            expect=409,
            name="disabled",
            summary="A disabled endpoint",
            token=token,
        )
        rec.call(
            "webhooks_deliveries_replay",
            "POST",
            f"/v1/webhooks/deliveries/{ping['id']}/replay",
            expect=409,
            name="disabled",
            summary="Its endpoint is disabled",
            token=token,
        )
        rec.call(
            "webhooks_update",
            "PATCH",
            path,
            expect=409,
            name="link_local",
            summary="A URL to the cloud metadata address",
            token=token,
            body={"url": "https://169.254.169.254/latest/meta-data/"},
            document_request=False,
        )
        rec.call(
            "webhooks_list",
            "GET",
            "/v1/webhooks",
            expect=400,
            name="bad_limit",
            summary="A limit out of range",
            token=token,
            params={"limit": "0"},
        )
        rec.call(
            "webhooks_deliveries",
            "GET",
            f"{path}/deliveries",
            expect=400,
            name="bad_status",
            summary="An unknown status filter",
            token=token,
            params={"status": "lost"},
        )
        rec.call(
            "webhooks_destroy",
            "DELETE",
            path,
            expect=204,
            name="deleted",
            summary="Deleted with its delivery log",
            token=token,
        )
        for op, method in (
            ("webhooks_destroy", "DELETE"),
            ("webhooks_update", "PATCH"),
            ("webhooks_deliveries", "GET"),
            ("webhooks_rotate_secret", "POST"),
            ("webhooks_test", "POST"),
        ):
            suffix = {
                "webhooks_deliveries": "/deliveries",
                "webhooks_rotate_secret": "/rotate-secret",
                "webhooks_test": "/test",
            }.get(op, "")
            rec.call(
                op,
                method,
                f"{path}{suffix}",
                expect=404,
                name="not_found",
                summary="A deleted endpoint",
                token=token,
                body={"description": "x"} if method == "PATCH" else None,
                document_request=False,
            )
    finally:
        receiver.down()


@pytest.fixture
def recorded(live_server, s3, org, site, reviewer, oidc_provider, oidc_keys, settings):  # noqa: F811
    org.enrollment_policy = org.EnrollmentPolicy.CODE
    org.save(update_fields=["enrollment_policy"])
    rec = Recorder(base_url=live_server.url, s3_url=s3.endpoint_url)
    walk_the_api(
        rec,
        org=org,
        site=site,
        reviewer=reviewer,
        provider=oidc_provider,
        keys=oidc_keys,
        settings=settings,
    )
    if RECORD:
        EXAMPLES_PATH.write_text(json.dumps(rec.as_examples(), indent=2) + "\n")
    return rec


def shape(value: Any) -> Any:
    """What a client relies on: the keys and the JSON types, not the values."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return sorted({json.dumps(shape(item), sort_keys=True) for item in value})
    return type(value).__name__


def error_code(value: Any) -> str | None:
    return (value.get("error") or {}).get("code") if isinstance(value, dict) else None


def test_the_documented_examples_are_what_a_live_server_answers_today(recorded):
    documented = json.loads(EXAMPLES_PATH.read_text())
    today = recorded.as_examples()

    def index(document):
        found = {}
        for op, operation in document["operations"].items():
            for example in operation.get("request", []):
                found[(op, "request", example["name"])] = example["value"]
            for status, examples in operation.get("responses", {}).items():
                for example in examples:
                    found[(op, status, example["name"])] = example["value"]
        for status, examples in document["shared"].items():
            for example in examples:
                found[("*", status, example["name"])] = example["value"]
        return found

    documented_index, today_index = index(documented), index(today)
    assert sorted(documented_index) == sorted(today_index), "re-record with API_EXAMPLES_RECORD=1"
    for key, value in today_index.items():
        assert shape(documented_index[key]) == shape(value), key
        assert error_code(documented_index[key]) == error_code(value), key


def test_every_example_and_every_live_answer_validates_against_the_schema(recorded):
    schema = published_schema()
    by_id = operations(schema)
    validator = BodyValidator(schema)
    documented = json.loads(EXAMPLES_PATH.read_text())
    problems = []
    for seen in recorded.seen:
        operation = by_id[seen["real_op"]]
        node = body_schema(operation, seen["status"])
        problems += [(seen["name"], e) for e in validator.errors(node, seen["response"])]
        if seen["request"] is not None:
            node = body_schema(operation, None)
            problems += [(seen["name"], e) for e in validator.errors(node, seen["request"])]
    for op, operation in documented["operations"].items():
        for example in operation.get("request", []):
            node = body_schema(by_id[op], None)
            problems += [(op, e) for e in validator.errors(node, example["value"])]
        for status, examples in operation.get("responses", {}).items():
            for example in examples:
                node = body_schema(by_id[op], status)
                problems += [(op, e) for e in validator.errors(node, example["value"])]
    assert problems == []
