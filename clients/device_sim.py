#!/usr/bin/env python3
"""360 Imaging device simulator: the reference capture client, over real HTTP.

It does what a capture app does: enroll with an enrollment code (or refresh its saved
token), start a session, presign each frame (declaring its SHA-256 and length), PUT the
bytes to the returned URL with exactly the returned headers, report ``upload_complete``
events in batches, finish the session and print a summary. Requests are retried with
exponential backoff and jitter on 429 (honouring ``Retry-After``), 5xx and network errors.
Progress is saved after every step in a state file, so an interrupted run resumes where it
stopped: the next run re-reports frames already in the store and uploads only the missing
ones.

Standard library only (no Django, no Pillow): copy it, with ``synthetic_frames.py`` beside
it, into a device app's test rig. Frames are photos from ``--photos DIR``, or rendered by
``synthetic_frames.py``: a car turning on a studio turntable, encoded as baseline JPEG.

    python clients/device_sim.py --api http://127.0.0.1:8000 --org ORG_ID --site SITE_ID \\
        --enrollment-code CODE                              # one 24-frame studio360 session
    ... --mode stills --shots front_3q,rear_3q,interior     # a stills session
    ... --sessions 50 --concurrency 8 --devices 4           # load: 50 sessions, 8 at a time
    ... --photos ~/spin-frames/                             # real photos instead of renders
    ... --reshoots                                          # retake what reviewers rejected
    ... --blur 2 --follow-qc --reshoots                     # QC verdicts while capturing

With ``--reshoots`` (and no ``--sessions``) the device captures no new session: it fetches
its open reshoot items (``GET /v1/reshoots?status=open``, oldest first), takes each frame or
shot again and uploads it as a replacement (``replaces_image_id`` on presign; a shot that
was never taken by its ``frame_index`` or ``shot_name``), then reports the uploads.

With ``--follow-qc`` the device waits, before finishing each session, until every frame is
processed, polling ``GET /v1/sessions/{id}`` with ``If-None-Match`` (a 304 costs the server
one query) every ``--poll-interval`` seconds while frames are processing, and prints each QC
failure and reshoot item as it arrives. With ``--reshoots`` too it retakes the session's
open items right away (replacements with ``replaces_image_id``), follows them until none is
open, then finishes: the session ends clean. ``--blur N`` renders N frames of each session
out of focus, so that QC fails them on purpose.

Exit status: 0 every session finished, 1 a session failed, 2 bad arguments or enrollment
refused, 3 interrupted (progress saved; run the same command again to resume).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import datetime as dt
import hashlib
import json
import os
import random
import string
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

USER_AGENT = "imaging-device-sim/1.0"
DEFAULT_SHOTS = ("front_3q", "rear_3q", "side", "interior", "dash")
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 3


try:
    from clients.synthetic_frames import synthetic_jpeg
except ImportError:  # run as a script: its own directory is on sys.path
    from synthetic_frames import synthetic_jpeg


# ==========================================================================================
# HTTP with retries.
# ==========================================================================================


class ApiError(Exception):
    def __init__(self, status: int, body: Any, what: str) -> None:
        code = (body or {}).get("error", {}).get("code") if isinstance(body, dict) else None
        message = (body or {}).get("error", {}).get("message") if isinstance(body, dict) else None
        super().__init__(f"{what}: HTTP {status} {code or ''} {message or ''}".strip())
        self.status = status
        self.body = body
        self.code = code


class Interrupted(Exception):
    """Stopped on purpose (--interrupt-after) or by Ctrl-C; progress is saved."""


@dataclass
class Stats:
    requests: int = 0
    retries: int = 0
    frames: int = 0
    bytes: int = 0
    events: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self.lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)


@dataclass
class Http:
    timeout: float
    max_retries: int
    stats: Stats
    log: Any

    def send(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        what: str,
    ) -> tuple[int, bytes, dict[str, str]]:
        """One request with retries: 429 (Retry-After), 5xx and network errors back off."""
        attempt = 0
        while True:
            attempt += 1
            request = urllib.request.Request(url, data=body, method=method)
            request.add_header("User-Agent", USER_AGENT)
            for name, value in (headers or {}).items():
                request.add_header(name, value)
            self.stats.add(requests=1)
            retry_after: float | None = None
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return response.status, response.read(), dict(response.headers)
            except urllib.error.HTTPError as error:
                payload = error.read()
                if error.code != 429 and error.code < 500:
                    return error.code, payload, dict(error.headers)
                reason = f"HTTP {error.code}"
                with contextlib.suppress(TypeError, ValueError):
                    retry_after = float(error.headers.get("Retry-After"))
                if attempt > self.max_retries:
                    return error.code, payload, dict(error.headers)
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as error:
                reason = f"{error.__class__.__name__}: {getattr(error, 'reason', error)}"
                if attempt > self.max_retries:
                    raise ApiError(
                        0, None, f"{what}: gave up after {attempt} attempts ({reason})"
                    ) from error
            delay = retry_after if retry_after is not None else _backoff(attempt)
            self.stats.add(retries=1)
            self.log(f"  {what}: {reason}, retry {attempt}/{self.max_retries} in {delay:.1f}s")
            time.sleep(delay)


def _backoff(attempt: int, *, base: float = 0.5, cap: float = 30.0) -> float:
    """Exponential backoff with full jitter."""
    return random.uniform(0, min(cap, base * 2 ** (attempt - 1)))


class Api:
    """The JSON API under ``{base}/v1`` as one device."""

    def __init__(self, base_url: str, http: Http) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http
        self.token: str | None = None

    def call(
        self, method: str, path: str, body: Any = None, *, what: str, ok: tuple[int, ...] = (200,)
    ) -> Any:
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        status, payload, _ = self.http.send(
            method, f"{self.base_url}/v1{path}", body=data, headers=headers, what=what
        )
        try:
            parsed = json.loads(payload or b"null")
        except ValueError:
            parsed = None
        if status not in ok:
            raise ApiError(status, parsed, what)
        return parsed

    def get_if_changed(self, path: str, etag: str | None, *, what: str) -> tuple[Any, str | None]:
        """A conditional GET: ``(None, etag)`` when the server answers 304 Not Modified,
        else ``(body, its ETag)``."""
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if etag:
            headers["If-None-Match"] = etag
        status, payload, response_headers = self.http.send(
            "GET", f"{self.base_url}/v1{path}", headers=headers, what=what
        )
        found = {name.lower(): value for name, value in response_headers.items()}.get("etag")
        if status == 304:
            return None, found or etag
        try:
            parsed = json.loads(payload or b"null")
        except ValueError:
            parsed = None
        if status != 200:
            raise ApiError(status, parsed, what)
        return parsed, found


# ==========================================================================================
# State: device identities and sessions in progress, saved after every step.
# ==========================================================================================


class State:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.RLock()
        self.data: dict[str, Any] = {"devices": {}, "sessions": {}}
        if path.exists():
            try:
                loaded = json.loads(path.read_text())
                if isinstance(loaded, dict):
                    self.data.update(loaded)
            except ValueError:
                pass  # a corrupt state file only costs a fresh enrollment

    def save(self) -> None:
        with self.lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_name(self.path.name + f".{os.getpid()}.tmp")
            temporary.write_text(json.dumps(self.data, indent=1, sort_keys=True))
            os.chmod(temporary, 0o600)  # it holds device tokens
            temporary.replace(self.path)

    def update(self, fn: Any) -> None:
        with self.lock:
            fn(self.data)
            self.save()


def default_state_path() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "imaging-device-sim" / "state.json"


# ==========================================================================================
# The device.
# ==========================================================================================

_VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
_VIN_VALUES = dict(
    zip(
        "ABCDEFGHJKLMNPRSTUVWXYZ",
        (1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 7, 9, 2, 3, 4, 5, 6, 7, 8, 9),
        strict=True,
    )
)
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def random_vin(rng: random.Random) -> str:
    """A VIN with a correct check digit (position 9)."""
    chars = [rng.choice(_VIN_CHARS) for _ in range(17)]
    total = sum(
        (int(c) if c.isdigit() else _VIN_VALUES[c]) * w
        for c, w in zip(chars, _VIN_WEIGHTS, strict=True)
    )
    chars[8] = "X" if total % 11 == 10 else str(total % 11)
    return "".join(chars)


@dataclass
class Frame:
    index: int
    label: str  # file name
    frame_index: int | None = None
    shot_name: str | None = None
    angle_deg: float = 0.0
    photo: str | None = None
    blur: int = 0


@dataclass
class Options:
    api: str
    org: str
    site: str
    enrollment_code: str | None
    mode: str
    frames: int
    shots: list[str]
    photos: list[Path]
    sessions: int
    concurrency: int
    devices: int
    batch_size: int
    size: tuple[int, int]
    seed: int
    platform: str
    model: str
    app_version: str
    finish: bool
    reshoots: bool
    resume: bool
    interrupt_after: int | None
    stock_prefix: str
    corrupt: str | None = None
    blur: int = 0
    follow_qc: bool = False
    poll_interval: float = 1.0
    follow_timeout: float = 120.0


class Simulator:
    def __init__(self, options: Options, state: State, http: Http, log: Any) -> None:
        self.options = options
        self.state = state
        self.http = http
        self.log = log
        self.stats = http.stats
        self.uploaded_this_run = 0
        self.count_lock = threading.Lock()
        self.stop = threading.Event()
        self.apis: list[Api] = []
        self.reshot: list[dict[str, Any]] = []
        self.qc_failures: list[dict[str, Any]] = []
        self.reshoot_items: list[dict[str, Any]] = []
        self.polls = {"changed": 0, "not_modified": 0}
        self.device_numbers = {self.device_key(n): n for n in range(options.devices)}

    # --- identity

    def device_key(self, number: int) -> str:
        return f"{self.options.api.rstrip('/')}|{self.options.org}|{number}"

    def device_api(self, number: int) -> Api:
        """Refresh the saved token (same device id), or enroll with the code."""
        options = self.options
        api = Api(options.api, self.http)
        key = self.device_key(number)
        saved = self.state.data["devices"].get(key)
        body = {
            "org_id": options.org,
            "platform": options.platform,
            "model": options.model,
            "app_version": options.app_version,
        }
        response = None
        if saved:
            api.token = saved["access_token"]
            try:
                response = api.call("POST", "/auth/device", body, what="refresh")
            except ApiError as error:
                if error.status != 401:
                    raise
                self.log(f"device {number}: saved token refused, enrolling again")
                api.token = None
        if response is None:
            if not options.enrollment_code:
                raise ApiError(401, None, "enroll: no saved device and no --enrollment-code")
            response = api.call(
                "POST",
                "/auth/device",
                {**body, "enrollment_code": options.enrollment_code},
                what="enroll",
            )
            self.log(f"device {number}: enrolled as {response['device_id']}")
        api.token = response["access_token"]
        record = {
            "device_id": response["device_id"],
            "access_token": response["access_token"],
            "expires_at": time.time() + float(response.get("expires_in") or 0),
        }
        self.state.update(lambda data: data["devices"].__setitem__(key, record))
        return api

    # --- planning

    def plan(self, session_number: int) -> list[Frame]:
        options = self.options
        photos = options.photos
        if options.mode == "stills":
            frames = [
                Frame(
                    index=i,
                    label=f"{name}.jpg",
                    shot_name=name,
                    angle_deg=[35, 215, 90, 0, 0][i % 5],
                )
                for i, name in enumerate(options.shots)
            ]
        else:
            count = options.frames
            frames = [
                Frame(
                    index=i,
                    label=f"frame_{i:03d}.jpg",
                    frame_index=i,
                    angle_deg=i * 360 / count,
                )
                for i in range(count)
            ]
        for frame in frames:
            if photos:
                frame.photo = str(photos[frame.index % len(photos)])
                frame.label = Path(frame.photo).name
        if options.corrupt and options.mode != "stills":
            frames = corrupt_spin(frames, options.corrupt)
        for position in blurred_positions(len(frames), options.blur):
            frames[position].blur = BLUR_RADIUS
        return frames

    def frame_bytes(self, frame: Frame, session_number: int) -> tuple[bytes, str]:
        if frame.photo:
            path = Path(frame.photo)
            content_type = (
                "image/heic" if path.suffix.lower() in (".heic", ".heif") else "image/jpeg"
            )
            return path.read_bytes(), content_type
        width, height = self.options.size
        data = synthetic_jpeg(
            angle_deg=frame.angle_deg,
            label=frame.label,
            width=width,
            height=height,
            seed=self.options.seed + session_number,
            blur=frame.blur,
        )
        return data, "image/jpeg"

    # --- one session

    def run_session(self, number: int, resume_id: str | None = None) -> dict[str, Any]:
        options = self.options
        device_number = number % options.devices
        api = self.apis[device_number]
        if resume_id:
            record = self.state.data["sessions"][resume_id]
            session_id = resume_id
            api = self.apis[self.device_numbers[record["device"]]]
            detail = api.call("GET", f"/sessions/{session_id}", what="session detail")
            if detail["status"] != "active":
                self.log(f"session {session_id}: already {detail['status']}, nothing to resume")
                self.state.update(lambda data: data["sessions"].pop(session_id, None))
                return {"session_id": session_id, "status": detail["status"], "resumed": True}
            frames = [Frame(**f) for f in record["frames"]]
            number = record["number"]
            stock = record.get("stock", "")
            self.log(f"session {session_id}: resuming ({len(record['reported'])} frames done)")
        else:
            frames = self.plan(number)
            rng = random.Random(f"{options.seed}-{number}-{uuid.uuid4()}")
            shot_list: dict[str, Any] = {}
            if options.mode in ("studio360", "walk360"):
                # The planned count: a frame dropped by --corrupt drop leaves a gap.
                shot_list[options.mode] = {"frame_count": options.frames}
            else:
                shot_list["stills"] = [f.shot_name for f in frames]
            suffix = "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(6))
            stock = f"{options.stock_prefix}-{suffix}"
            created = api.call(
                "POST",
                "/sessions",
                {
                    "site_id": options.site,
                    "vehicle": {"vin": random_vin(rng), "stock": stock},
                    "mode": options.mode,
                    "shot_list": shot_list,
                },
                what="create session",
                ok=(201,),
            )
            session_id = created["id"]
            record = {
                "number": number,
                "stock": stock,
                "device": self.device_key(device_number),
                "mode": options.mode,
                "frames": [vars(f) for f in frames],
                "uploaded": {},  # frame index -> image id, PUT done, not yet reported
                "reported": [],  # frame indexes whose upload_complete was accepted
            }
            self.state.update(lambda data: data["sessions"].__setitem__(session_id, record))
            self.log(f"session {session_id}: started ({options.mode}, {len(frames)} frames)")

        reported = set(record["reported"])
        pending = dict(record["uploaded"])
        for frame in frames:
            if frame.index in reported or str(frame.index) in pending:
                continue
            if self.stop.is_set():
                raise Interrupted()
            image_id = self.upload_frame(api, session_id, frame, number)
            pending[str(frame.index)] = image_id
            self.state.update(
                lambda data, i=frame.index, img=image_id: data["sessions"][session_id][
                    "uploaded"
                ].__setitem__(str(i), img)
            )
            self.log(f"session {session_id}: frame {frame.index + 1}/{len(frames)} uploaded")
            self.count_upload()
            if len(pending) >= options.batch_size:
                self.report(api, session_id, pending)
                pending = {}
        if pending:
            self.report(api, session_id, pending)
        result: dict[str, Any] = {"session_id": session_id, "stock": stock, "frames": len(frames)}
        if options.follow_qc:
            result.update(self.follow_and_retake(api, session_id, number))
        if not options.finish:
            return {**result, "status": "active"}
        completed_at = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        try:
            api.call(
                "PATCH",
                f"/sessions/{session_id}",
                {"status": "complete", "completed_at": completed_at},
                what="finish session",
            )
        except ApiError as error:
            if error.code != "INVALID_TRANSITION":
                raise
        self.state.update(lambda data: data["sessions"].pop(session_id, None))
        self.log(f"session {session_id}: complete")
        return {**result, "status": "complete"}

    def count_upload(self) -> None:
        limit = self.options.interrupt_after
        with self.count_lock:
            self.uploaded_this_run += 1
            if limit is not None and self.uploaded_this_run >= limit:
                self.stop.set()

    def upload_frame(
        self, api: Api, session_id: str, frame: Frame, number: int, replaces: str | None = None
    ) -> str:
        data, content_type = self.frame_bytes(frame, number)
        digest = hashlib.sha256(data).hexdigest()
        body: dict[str, Any] = {
            "session_id": session_id,
            "file_name": frame.label,
            "content_type": content_type,
            "content_sha256": digest,
            # Signed into the URL: the store takes exactly these bytes, nothing larger.
            "content_length": len(data),
        }
        if replaces is not None:
            # A reshoot: the server gives it the original's frame or shot.
            body["replaces_image_id"] = replaces
        elif frame.frame_index is not None:
            body["frame_index"] = frame.frame_index
        if replaces is None and frame.shot_name is not None:
            body["shot_name"] = frame.shot_name
        for _ in range(3):
            presigned = api.call("POST", "/presign", body, what=f"presign frame {frame.index}")
            status, payload, _ = self.http.send(
                "PUT",
                presigned["upload_url"],
                body=data,
                headers=presigned["headers"],
                what=f"PUT frame {frame.index}",
            )
            if 200 <= status < 300:
                self.stats.add(frames=1, bytes=len(data))
                return presigned["image_id"]
            if status == 403 and b"expired" in payload.lower():
                continue  # the URL expired on a slow link: presign again
            raise ApiError(status, None, f"PUT frame {frame.index}: {payload[:200]!r}")
        raise ApiError(403, None, f"PUT frame {frame.index}: the upload URL kept expiring")

    def report(self, api: Api, session_id: str, uploaded: dict[str, str]) -> None:
        """``upload_complete`` for a batch of frames, then remember them as done."""
        events = [
            {
                "entity_type": "image",
                "entity_id": image_id,
                "type": "upload_complete",
                "meta": {"frame": int(index)},
            }
            for index, image_id in sorted(uploaded.items(), key=lambda item: int(item[0]))
        ]
        accepted = api.call("POST", "/events", {"events": events}, what="report uploads", ok=(201,))
        self.stats.add(events=int(accepted.get("accepted", len(events))))

        def remember(data: dict[str, Any]) -> None:
            record = data["sessions"][session_id]
            for index in uploaded:
                record["uploaded"].pop(index, None)
                if int(index) not in record["reported"]:
                    record["reported"].append(int(index))

        self.state.update(remember)

    # --- QC verdicts, as they arrive

    def follow_qc(
        self, api: Api, session_id: str, seen: tuple[set[str], set[str]] | None = None
    ) -> dict[str, Any]:
        """Poll the session's detail until no frame is pending or processing; report each
        QC failure and reshoot item once (``seen``: the frames and items reported already),
        as it appears. Returns the last detail."""
        options = self.options
        etag: str | None = None
        detail: dict[str, Any] | None = None
        seen_frames, seen_items = seen if seen is not None else (set(), set())
        deadline = time.monotonic() + options.follow_timeout
        while True:
            body, etag = api.get_if_changed(
                f"/sessions/{session_id}", etag, what="session detail (follow QC)"
            )
            with self.count_lock:
                self.polls["changed" if body is not None else "not_modified"] += 1
            if body is not None:
                detail = body
                for frame in detail.get("frames", []):
                    if frame["qc"] == "fail" and frame["id"] not in seen_frames:
                        seen_frames.add(frame["id"])
                        place = _place(frame)
                        reasons = ", ".join(frame["qc_reasons"]) or "QC"
                        self.qc_failures.append(
                            {"session_id": session_id, "image_id": frame["id"], "place": place}
                        )
                        self.log(f"session {session_id}: {place} failed QC ({reasons})")
                for item in detail.get("reshoots", []):
                    if item["id"] not in seen_items:
                        seen_items.add(item["id"])
                        kind = "automatic" if item.get("automatic") else "reviewer"
                        need = "required" if item.get("required") else "suggested"
                        self.reshoot_items.append({"session_id": session_id, **item})
                        self.log(
                            f"session {session_id}: reshoot {_place(item)} "
                            f"({', '.join(item['reasons']) or 'requested'}; {kind}, {need})"
                        )
            assert detail is not None
            busy = [f for f in detail.get("frames", []) if f["status"] in BUSY]
            if not busy:
                return detail
            if time.monotonic() > deadline:
                raise ApiError(
                    0, None, f"session {session_id}: {len(busy)} frame(s) still processing"
                )
            time.sleep(options.poll_interval)

    def follow_and_retake(self, api: Api, session_id: str, number: int) -> dict[str, Any]:
        """Follow the session's QC; with ``--reshoots``, retake its open items until none
        is left (a few rounds at most), before the session is finished."""
        seen: tuple[set[str], set[str]] = (set(), set())
        detail = self.follow_qc(api, session_id, seen)
        rounds = 0
        while self.options.reshoots and detail.get("reshoots") and rounds < MAX_RETAKE_ROUNDS:
            rounds += 1
            uploaded = {}
            for position, item in enumerate(detail["reshoots"]):
                image_id = self.retake(api, item, number + 1000 * rounds + position)
                uploaded[str(position)] = image_id
            events = [
                {"entity_type": "image", "entity_id": image_id, "type": "upload_complete"}
                for image_id in uploaded.values()
            ]
            accepted = api.call(
                "POST", "/events", {"events": events}, what="report retakes", ok=(201,)
            )
            self.stats.add(events=int(accepted.get("accepted", len(events))))
            detail = self.follow_qc(api, session_id, seen)
        still_open = len(detail.get("reshoots", []))
        failed = sum(1 for f in detail.get("frames", []) if f["status"] == "failed")
        return {"open_reshoots": still_open, "clean": not still_open and not failed}

    def retake(self, api: Api, item: dict[str, Any], seed_number: int) -> str:
        """Take a reshoot item's frame or shot again (in focus) and upload it as its
        replacement; returns the new image's id (not yet reported)."""
        angle = item["angle_deg"] if item["angle_deg"] is not None else 0
        frame = Frame(
            index=seed_number,
            label=f"reshoot_{item['shot_name'] or item['frame_index']}.jpg",
            frame_index=item["frame_index"],
            shot_name=item["shot_name"],
            angle_deg=float(angle),
        )
        image_id = self.upload_frame(
            api, item["session_id"], frame, seed_number, replaces=item["image_id"]
        )
        self.count_upload()
        self.log(f"session {item['session_id']}: retook {frame.label}")
        self.reshot.append({"reshoot_id": item["id"], "image_id": image_id})
        return image_id

    # --- reshoots

    def open_reshoots(self, api: Api) -> list[dict[str, Any]]:
        """Every open reshoot item of this device's sessions, oldest first."""
        items: list[dict[str, Any]] = []
        while True:
            page = api.call(
                "GET",
                f"/reshoots?status=open&limit=100&offset={len(items)}",
                what="open reshoots",
            )
            items += page["data"]
            if not page["data"] or len(items) >= page["total"]:
                return items

    def run_reshoots(self, api: Api) -> list[dict[str, Any]]:
        """Take each open item again and upload it as its replacement."""
        done: list[dict[str, Any]] = []
        uploaded: dict[str, dict[str, str]] = {}  # session -> {item index: image id}
        for number, item in enumerate(self.open_reshoots(api)):
            if self.stop.is_set():
                raise Interrupted()
            angle = item["angle_deg"] if item["angle_deg"] is not None else 0
            frame = Frame(
                index=number,
                label=f"reshoot_{item['shot_name'] or item['frame_index']}.jpg",
                frame_index=item["frame_index"],
                shot_name=item["shot_name"],
                angle_deg=float(angle),
            )
            # Another seed than the first take: the retake is a new photo.
            image_id = self.upload_frame(
                api, item["session_id"], frame, number + 1000, replaces=item["image_id"]
            )
            uploaded.setdefault(item["session_id"], {})[str(number)] = image_id
            self.count_upload()
            reasons = ", ".join(item["reasons"]) or "requested"
            self.log(f"session {item['session_id']}: reshot {frame.label} ({reasons})")
            done.append({"reshoot_id": item["id"], "image_id": image_id})
        for images in uploaded.values():
            events = [
                {"entity_type": "image", "entity_id": image_id, "type": "upload_complete"}
                for image_id in images.values()
            ]
            for start in range(0, len(events), self.options.batch_size):
                batch = events[start : start + self.options.batch_size]
                accepted = api.call(
                    "POST", "/events", {"events": batch}, what="report reshoots", ok=(201,)
                )
                self.stats.add(events=int(accepted.get("accepted", len(batch))))
        return done

    # --- everything

    def unfinished_sessions(self) -> list[str]:
        keys = {self.device_key(n) for n in range(self.options.devices)}
        return sorted(
            sid
            for sid, record in self.state.data["sessions"].items()
            if record.get("device") in keys
        )

    def run(self) -> tuple[list[dict[str, Any]], list[str]]:
        options = self.options
        # Enroll (or refresh) every identity first: a refused code stops the run at once.
        self.apis = [self.device_api(n) for n in range(options.devices)]
        jobs: list[tuple[int, str | None]] = []
        if options.resume:
            jobs += [(-1, sid) for sid in self.unfinished_sessions()]
        jobs += [(n, None) for n in range(options.sessions)]
        results: list[dict[str, Any]] = []
        errors: list[str] = []
        if options.reshoots and not (options.follow_qc and options.sessions):
            try:
                self.reshot = self.run_reshoots(self.apis[0])
            except ApiError as error:
                errors.append(str(error))
                self.log(f"error: {error}")
        with concurrent.futures.ThreadPoolExecutor(max_workers=options.concurrency) as pool:
            futures = {pool.submit(self.run_session, n, sid): (n, sid) for n, sid in jobs}
            for future in concurrent.futures.as_completed(futures):
                try:
                    results.append(future.result())
                except Interrupted:
                    pass
                except ApiError as error:
                    errors.append(str(error))
                    self.log(f"error: {error}")
        return results, errors


# ==========================================================================================
# Command line.
# ==========================================================================================


BUSY = ("pending", "processing")
BLUR_RADIUS = 3  # px: QC's sharpness fails such a frame by far
MAX_RETAKE_ROUNDS = 3


def _place(entry: dict[str, Any]) -> str:
    if entry.get("frame_index") is not None:
        return f"frame {entry['frame_index']}"
    return f"shot {entry.get('shot_name')}"


def blurred_positions(count: int, blurred: int) -> list[int]:
    """Which of ``count`` frames ``--blur`` renders out of focus: spread evenly, from the
    second frame on (the first stays sharp)."""
    blurred = min(blurred, max(0, count - 1))
    if blurred <= 0:
        return []
    step = (count - 1) / blurred
    return sorted({1 + int(step * n) for n in range(blurred)})


def corrupt_spin(frames: list[Frame], how: str) -> list[Frame]:
    """A spin as a faulty rig would shoot it (to see spin health find it), at fixed frames:
    ``duplicate``: the frame a third of the way round is shot twice (the next angle is
    never shot); ``swap``: that frame and the one a quarter turn later change places;
    ``drop``: that frame is never uploaded (the others keep their indexes)."""
    k = len(frames) // 3
    if len(frames) < 6:
        return frames
    if how == "duplicate":
        frames[k + 1].angle_deg = frames[k].angle_deg
        frames[k + 1].photo = frames[k].photo
    elif how == "swap":
        j = k + len(frames) // 4
        frames[k].angle_deg, frames[j].angle_deg = frames[j].angle_deg, frames[k].angle_deg
        frames[k].photo, frames[j].photo = frames[j].photo, frames[k].photo
    elif how == "drop":
        del frames[k]
    return frames


def _size(value: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in value.lower().split("x"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError("expected WIDTHxHEIGHT, e.g. 480x320") from exc
    if not (16 <= width <= 4096 and 16 <= height <= 4096):
        raise argparse.ArgumentTypeError("each side must be 16-4096 pixels")
    return width, height


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return number


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="device_sim.py",
        description="Simulate a capture device against a 360 Imaging server.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(__doc__ or "").split("\n\n", 2)[-1],
    )
    parser.add_argument("--api", default="http://127.0.0.1:8000", help="server base URL")
    parser.add_argument("--org", required=True, help="organisation id")
    parser.add_argument("--site", required=True, help="site id to capture at")
    parser.add_argument("--enrollment-code", help="needed unless a saved device can refresh")
    parser.add_argument("--mode", choices=("studio360", "walk360", "stills"), default="studio360")
    parser.add_argument("--frames", type=_positive, default=24, help="frames per spin")
    parser.add_argument(
        "--shots", default=",".join(DEFAULT_SHOTS), help="comma-separated still shot names"
    )
    parser.add_argument("--photos", type=Path, help="directory of .jpg/.heic photos to upload")
    parser.add_argument(
        "--sessions",
        type=int,
        default=None,
        help="new sessions to capture (default 1; 0 with --reshoots unless --follow-qc)",
    )
    parser.add_argument(
        "--reshoots", action="store_true", help="upload replacements for open reshoot items"
    )
    parser.add_argument("--concurrency", type=_positive, default=1, help="sessions at a time")
    parser.add_argument("--devices", type=_positive, default=1, help="device identities to use")
    parser.add_argument("--batch-size", type=_positive, default=8, help="events per batch")
    parser.add_argument("--size", type=_size, default=(480, 320), help="rendered frame size")
    parser.add_argument("--seed", type=int, default=0, help="varies the rendered car")
    parser.add_argument("--platform", choices=("ios", "android", "edge"), default="edge")
    parser.add_argument("--model", default="Turntable Rig (simulated)")
    parser.add_argument("--app-version", default="1.0.0")
    parser.add_argument("--stock-prefix", default="SIM", help="stock numbers are PREFIX-XXXXXX")
    parser.add_argument("--state", type=Path, default=None, help="progress and device tokens")
    parser.add_argument("--no-resume", action="store_true", help="ignore unfinished sessions")
    parser.add_argument("--no-finish", action="store_true", help="leave sessions active")
    parser.add_argument("--max-retries", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    parser.add_argument(
        "--interrupt-after",
        type=_positive,
        metavar="FRAMES",
        help="stop after this many uploads, as if the connection dropped (resume test)",
    )
    parser.add_argument(
        "--corrupt",
        choices=("swap", "duplicate", "drop"),
        help="shoot each spin with a fault: a frame shot twice, two swapped, or one missing",
    )
    parser.add_argument(
        "--blur",
        type=int,
        default=0,
        metavar="N",
        help="render N frames of each session out of focus (QC fails them)",
    )
    parser.add_argument(
        "--follow-qc",
        action="store_true",
        help="before finishing, wait for every frame's QC verdict (conditional polling)",
    )
    parser.add_argument(
        "--poll-interval", type=float, default=1.0, help="seconds between polls (--follow-qc)"
    )
    parser.add_argument(
        "--follow-timeout",
        type=float,
        default=120.0,
        help="give up waiting for the verdicts after this many seconds",
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON last")
    parser.add_argument("--quiet", action="store_true", help="summary only")
    return parser.parse_args(argv)


def _usage_error(message: str) -> SystemExit:
    print(f"device_sim: {message}", file=sys.stderr)
    return SystemExit(EXIT_USAGE)


def _validate(args: argparse.Namespace) -> Options:
    for name in ("org", "site"):
        try:
            uuid.UUID(getattr(args, name))
        except ValueError:
            raise _usage_error(f"--{name} must be a uuid") from None
    shots = [s.strip() for s in args.shots.split(",") if s.strip()]
    if args.mode == "stills" and not shots:
        raise _usage_error("--shots needs at least one name for a stills session")
    photos: list[Path] = []
    if args.photos:
        if not args.photos.is_dir():
            raise _usage_error(f"--photos {args.photos} is not a directory")
        photos = sorted(
            p
            for p in args.photos.iterdir()
            if p.suffix.lower() in (".jpg", ".jpeg", ".heic", ".heif")
        )
        if not photos:
            raise _usage_error(f"no .jpg or .heic files in {args.photos}")
    if args.sessions is None:
        # --reshoots alone retakes what is open; with --follow-qc it retakes as it goes.
        args.sessions = 0 if args.reshoots and not args.follow_qc else 1
    if args.sessions < 0:
        raise _usage_error("--sessions must be 0 or more")
    if args.blur < 0:
        raise _usage_error("--blur must be 0 or more")
    if not 0.05 <= args.poll_interval <= 60:
        raise _usage_error("--poll-interval must be 0.05 to 60 seconds")
    return Options(
        api=args.api,
        org=str(uuid.UUID(args.org)),
        site=str(uuid.UUID(args.site)),
        enrollment_code=args.enrollment_code,
        mode=args.mode,
        frames=args.frames,
        shots=shots,
        photos=photos,
        sessions=args.sessions,
        concurrency=args.concurrency,
        devices=args.devices,
        batch_size=args.batch_size,
        size=args.size,
        seed=args.seed,
        platform=args.platform,
        model=args.model,
        app_version=args.app_version,
        finish=not args.no_finish,
        reshoots=args.reshoots,
        resume=not args.no_resume,
        interrupt_after=args.interrupt_after,
        stock_prefix=args.stock_prefix,
        corrupt=args.corrupt,
        blur=args.blur,
        follow_qc=args.follow_qc,
        poll_interval=args.poll_interval,
        follow_timeout=args.follow_timeout,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    options = _validate(args)
    printer_lock = threading.Lock()

    def log(message: str) -> None:
        if not args.quiet:
            with printer_lock:
                print(message, flush=True)

    stats = Stats()
    http = Http(timeout=args.timeout, max_retries=args.max_retries, stats=stats, log=log)
    state = State(args.state or default_state_path())
    simulator = Simulator(options, state, http, log)
    started = time.monotonic()
    try:
        results, errors = simulator.run()
    except KeyboardInterrupt:
        simulator.stop.set()
        print("\ninterrupted: progress saved; run the same command again to resume", flush=True)
        return EXIT_INTERRUPTED
    except ApiError as error:
        print(f"device_sim: {error}", file=sys.stderr)
        return EXIT_USAGE
    elapsed = time.monotonic() - started
    unfinished = simulator.unfinished_sessions()
    interrupted = simulator.stop.is_set() and bool(unfinished)
    summary = {
        "sessions": [r for r in results if r.get("status")],
        "completed": sum(1 for r in results if r.get("status") == "complete"),
        "unfinished": unfinished,
        "errors": errors,
        "reshoots_uploaded": simulator.reshot,
        "qc_failures": simulator.qc_failures,
        "reshoot_items": simulator.reshoot_items,
        "polls": simulator.polls,
        "frames_uploaded": stats.frames,
        "bytes_uploaded": stats.bytes,
        "events_accepted": stats.events,
        "requests": stats.requests,
        "retries": stats.retries,
        "seconds": round(elapsed, 2),
    }
    base = options.api.rstrip("/")
    print(
        f"\n{summary['completed']} session(s) complete, {stats.frames} frame(s) uploaded "
        f"({stats.bytes / 1e6:.1f} MB) in {elapsed:.1f}s; {stats.requests} requests, "
        f"{stats.retries} retries, {len(errors)} error(s)"
    )
    if options.follow_qc:
        print(
            f"{len(simulator.qc_failures)} QC failure(s), {len(simulator.reshoot_items)} "
            f"reshoot item(s) seen; polls: {simulator.polls['changed']} changed, "
            f"{simulator.polls['not_modified']} not modified"
        )
    if options.reshoots:
        print(f"{len(simulator.reshot)} reshoot(s) uploaded as replacements")
    for result in summary["sessions"]:
        print(
            f"  {result['session_id']}  {result.get('stock', ''):<10} {result['status']:<9} "
            f"{base}/admin/sessions_app/capturesession/{result['session_id']}/change/"
        )
    if interrupted:
        print(f"interrupted with {len(unfinished)} unfinished session(s): run again to resume")
    if args.json:
        print(json.dumps(summary))
    if errors:
        return EXIT_FAILED
    return EXIT_INTERRUPTED if interrupted else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
