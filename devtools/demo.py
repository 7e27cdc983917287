"""The demo organisation `make run` seeds: idempotent, with dev-only credentials in var/.

``demo_seed()`` creates (or finds) Demo Motors with a site, an admin, a reviewer and an
operator with generated passwords, a usable enrollment code, and three sessions that went
through the real upload and processing path (``image_upload_start`` → the store →
``image_process``): a 24-frame ``studio360`` spin, published by the reviewer; a ``stills``
session with a shot list, processed and waiting for review; and a 12-frame spin in the
middle of the review loop (``demo_reshoots_seed``): the reviewer rejected two frames, the
device sent a replacement for one (its reshoot item fulfilled, shown side by side with
the original) and the other's item is still open. Every run after the first only checks;
a session whose originals vanished from the store (a wiped ``var/seaweedfs``) is captured
again.

The photos are rendered here, deterministically (same bytes every run): the turntable scene
of ``clients/synthetic_frames.py`` drawn with Pillow at 1600x1067, anti-aliased, with studio
light falloff, a soft shadow, sensor grain and camera EXIF. No photo anyone else owns.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from accounts.actors import Actor
from accounts.models import EnrollmentCode, Organization, Site, User
from accounts.services import enrollment_code_create, enrollment_code_hash

DEMO_ORG = "Demo Motors"
DEMO_SITE = "Demo Studio"
DEMO_USERS = (
    ("admin@demo.example", "Dana Admin", User.Role.ADMIN),
    ("reviewer@demo.example", "Riley Reviewer", User.Role.REVIEWER),
    ("operator@demo.example", "Oli Operator", User.Role.OPERATOR),
)
DEMO_PHOTO_SIZE = (1600, 1067)
SPIN_FRAMES = 24
# Angles at which the turntable scene shows each still (interior shots are drawn apart).
STILL_SHOTS = {"front_3q": 315.0, "rear_3q": 135.0, "side": 0.0, "interior": None, "dash": None}


@dataclass(frozen=True)
class DemoSession:
    stock: str
    vin: str
    mode: str
    shot_list: dict[str, Any]
    publish: bool
    # The car's colour (``BODY_COLOURS``), where the turntable starts (degrees), and the
    # frames photographed with a flaw.
    seed: int = 0
    start_deg: float = 0.0
    flaws: tuple[tuple[int, str], ...] = ()

    @property
    def frame_count(self) -> int:
        return self.shot_list.get(self.mode, {}).get("frame_count", 0)


SPIN = DemoSession(
    stock="DEMO-360",
    vin="1HGCM82660A360001",
    mode="studio360",
    shot_list={"studio360": {"frame_count": SPIN_FRAMES}},
    publish=True,
)
STILLS = DemoSession(
    stock="DEMO-STILLS",
    vin="5YJ3E1EA1KF360002",
    mode="stills",
    shot_list={"stills": list(STILL_SHOTS)},
    publish=False,
)
RESHOOT_FRAMES = 12
# The review loop under way: frame 3 was blurred (rejected, a retake fulfilled it), frame 8
# caught a reflection (rejected, its reshoot still open).
RESHOOT_REJECTS = (
    (3, "blurred", ["blurred"], "Camera moved; hold the turntable still."),
    (8, "glare", ["glare"], "Softbox reflection on the door."),
)
RESHOOT = DemoSession(
    stock="DEMO-RESHOOT",
    vin="2T3WFREV8JW360003",
    mode="studio360",
    shot_list={"studio360": {"frame_count": RESHOOT_FRAMES}},
    publish=False,
    seed=1,
    start_deg=10.0,  # not the other spin's angles: no look-alike photos across vehicles
    flaws=tuple((index, flaw) for index, flaw, _, _ in RESHOOT_REJECTS),
)

Progress = Callable[[str], None]


def _credentials_path() -> Path:
    return Path(settings.VAR_DIR) / "demo-credentials.json"


def demo_seed(*, sessions: bool = True, progress: Progress | None = None) -> dict[str, Any]:
    """The demo org's ids, logins and enrollment code (and its sessions' ids).

    ``progress`` is called once per photo captured, with a short note.
    """
    result = _demo_accounts_seed()
    if sessions:
        org = Organization.objects.get(pk=result["org_id"])
        site = Site.objects.get(pk=result["site_id"])
        operator = User.objects.get(email="operator@demo.example")
        reviewer = User.objects.get(email="reviewer@demo.example")
        for key, spec in (
            ("spin_session_id", SPIN),
            ("stills_session_id", STILLS),
            ("reshoot_session_id", RESHOOT),
        ):
            session = demo_session_seed(
                spec=spec, org=org, site=site, operator=operator, reviewer=reviewer,
                progress=progress,
            )  # fmt: skip
            result[key] = str(session.id)
            if spec.publish:
                result.update(demo_publication_live(session=session, reviewer=reviewer))
            if spec is RESHOOT:
                demo_reshoots_seed(
                    session=session, operator=operator, reviewer=reviewer, progress=progress
                )
    return result


def demo_reshoots_seed(
    *, session, operator: User, reviewer: User, progress: Progress | None = None
):
    """The reviewer rejects the flawed frames (each a reshoot item for the device) and the
    device sends a retake of the first, which fulfils its item once processed: the review
    page's side-by-side view. Each step only if not done yet."""
    from images_app import storage
    from images_app.models import Image
    from images_app.review import image_reject
    from images_app.services import image_process
    from images_app.uploads import image_upload_start

    originals = {
        image.frame_index: image
        for image in Image.objects.filter(session=session, replaces__isnull=True).order_by(
            "created_at"
        )
    }
    for index, _flaw, reasons, note in RESHOOT_REJECTS:
        image = originals.get(index)
        if image is not None and image.status == Image.Status.PROCESSED:
            image_reject(image=image, actor=reviewer, reasons=reasons, note=note)
    index = RESHOOT_REJECTS[0][0]
    original = originals.get(index)
    if original is None or Image.objects.filter(replaces=original).exists():
        return
    data = _photo(RESHOOT, _Shot(file_name=f"spin_{index:02d}_retake.jpg", frame_index=index))
    actor = Actor(kind="user", org_id=session.org_id, user=operator)
    image, _ = image_upload_start(
        actor=actor,
        session_id=session.id,
        file_name=f"spin_{index:02d}_retake.jpg",
        content_type=Image.ContentType.JPEG,
        content_sha256=hashlib.sha256(data).hexdigest(),
        replaces_image_id=original.id,
    )
    storage.put_bytes(key=image.storage_key, data=data, content_type=image.content_type)
    image_process(image_id=image.id)
    if progress:
        progress(f"{RESHOOT.stock} spin_{index:02d}_retake.jpg")


def demo_publication_live(*, session, reviewer: User) -> dict[str, str]:
    """The published demo vehicle's publication, live in the public store now (rendered
    here when no worker did yet, e.g. a demo seeded before publications existed); its public
    manifest URL is what the demo page embeds."""
    from publishing.models import Publication
    from publishing.services import (
        publication_manifest_url,
        publication_render,
        vehicle_publication_ensure,
    )

    vehicle_publication_ensure(vehicle_id=session.vehicle_id, actor=reviewer)
    publication = Publication.objects.filter(vehicle_id=session.vehicle_id).first()
    if publication is not None and publication.live_version < publication.version:
        publication_render(publication_id=publication.pk, number=publication.version)
    return {
        "vehicle_id": str(session.vehicle_id),
        "manifest_url": publication_manifest_url(session.vehicle_id),
    }


@transaction.atomic
def _demo_accounts_seed() -> dict[str, Any]:
    """Create (or find) the demo org, its site, three users and a usable enrollment code."""
    path = _credentials_path()
    saved = json.loads(path.read_text()) if path.exists() else {}
    org, _ = Organization.objects.get_or_create(name=DEMO_ORG)
    site, _ = Site.objects.get_or_create(org=org, name=DEMO_SITE)
    passwords = saved.get("passwords", {})
    for email, name, role in DEMO_USERS:
        user = User.objects.filter(email=email).first()
        if user is None or email not in passwords:
            passwords[email] = secrets.token_urlsafe(12)
            user = user or User(email=email)
            user.name, user.org, user.role, user.is_staff = name, org, role, True
            user.set_password(passwords[email])
            user.save()
        user.sites.add(site)
    code = saved.get("enrollment_code")
    stored = code and EnrollmentCode.objects.filter(code_hash=enrollment_code_hash(code)).first()
    if not stored or not stored.is_usable:
        _, code = enrollment_code_create(
            org=org, uses=1000, expires_in=timedelta(days=365), label="demo"
        )
    result = {
        "org_id": str(org.id),
        "site_id": str(site.id),
        "passwords": passwords,
        "enrollment_code": code,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2))
    path.chmod(0o600)
    return result


# --- sessions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Shot:
    file_name: str
    frame_index: int | None = None
    shot_name: str | None = None


def _shots(spec: DemoSession) -> list[_Shot]:
    if spec.mode == "stills":
        return [_Shot(file_name=f"{name}.jpg", shot_name=name) for name in STILL_SHOTS]
    return [_Shot(file_name=f"spin_{i:02d}.jpg", frame_index=i) for i in range(spec.frame_count)]


def _photo(spec: DemoSession, shot: _Shot, *, flawed: bool = False) -> bytes:
    if shot.shot_name is not None:
        angle = STILL_SHOTS[shot.shot_name]
        if angle is None:
            return render_interior_photo(shot.shot_name)
        return render_turntable_photo(angle, seed=2)
    flaw = dict(spec.flaws).get(shot.frame_index) if flawed else None
    angle = spec.start_deg + shot.frame_index * 360 / spec.frame_count
    return render_turntable_photo(angle, seed=spec.seed, flaw=flaw)


def demo_session_seed(
    *,
    spec: DemoSession,
    org: Organization,
    site: Site,
    operator: User,
    reviewer: User,
    progress: Progress | None = None,
):
    """One demo session with every photo processed (and published, for the spin).

    Each step is idempotent: photos already processed are left alone, a pending one is
    uploaded again (same bytes, same key) and processed.
    """
    from images_app import storage
    from images_app.models import Image
    from images_app.services import image_process, images_publish
    from images_app.uploads import image_upload_start
    from sessions_app.models import CaptureSession
    from sessions_app.services import session_create, session_finish

    actor = Actor(kind="user", org_id=org.id, user=operator)
    session = (
        CaptureSession.objects.filter(org=org, vehicle__stock=spec.stock)
        .order_by("started_at", "id")
        .first()
    )
    if session is not None and _originals_missing(session):
        # The store was wiped but the database kept: capture the demo again.
        Image.objects.filter(session=session).delete()
        session.delete()
        session = None
    if session is None:
        session = session_create(
            actor=actor,
            site_id=site.id,
            vehicle={"vin": spec.vin, "stock": spec.stock},
            mode=spec.mode,
            shot_list=spec.shot_list,
        )
    done = (Image.Status.PROCESSED, Image.Status.PUBLISHED)
    for shot in _shots(spec):
        existing = Image.objects.filter(
            session=session, frame_index=shot.frame_index, shot_name=shot.shot_name
        ).order_by("created_at")
        if any(image.status in done for image in existing):
            continue
        if session.is_finished:
            break  # finished before this photo was taken; nothing more can be added
        data = _photo(spec, shot, flawed=True)
        image, _ = image_upload_start(
            actor=actor,
            session_id=session.id,
            file_name=shot.file_name,
            content_type=Image.ContentType.JPEG,
            content_sha256=hashlib.sha256(data).hexdigest(),
            frame_index=shot.frame_index,
            shot_name=shot.shot_name,
        )
        storage.put_bytes(key=image.storage_key, data=data, content_type=image.content_type)
        image_process(image_id=image.id)
        if progress:
            progress(f"{spec.stock} {shot.file_name}")
    if spec.publish:
        # One bulk publish: the vehicle's publication gets one version for the whole spin.
        processed = Image.objects.filter(session=session, status=Image.Status.PROCESSED)
        images_publish(images=list(processed), actor=reviewer)
    session.refresh_from_db()
    if not session.is_finished:
        session_finish(session=session, status="complete", completed_at=None, actor=actor)
    return session


def _originals_missing(session) -> bool:
    from images_app import storage

    keys = list(session.images.values_list("storage_key", flat=True))
    return any(storage.object_size(key=key) is None for key in keys)


def demo_photo_count() -> int:
    # The reshoot session's frames and the retake of one.
    return len(_shots(SPIN)) + len(_shots(STILLS)) + len(_shots(RESHOOT)) + 1


# --- photos -----------------------------------------------------------------------------

_SUPERSAMPLE = 2


def _jpeg_with_exif(image, *, note: str) -> bytes:
    from PIL import Image as PILImage
    from PIL.TiffImagePlugin import IFDRational

    exif = PILImage.Exif()
    exif[0x010F] = "360 Imaging"  # Make
    exif[0x0110] = "Demo Studio Rig"  # Model
    exif[0x010E] = note  # ImageDescription
    exif[0x8769] = {
        0x8827: 100,  # ISO
        0x829A: IFDRational(1, 125),  # exposure time
        0x829D: IFDRational(8, 1),  # f-number
        0x9003: "2026:01:15 10:00:00",  # taken
    }
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, exif=exif)
    return out.getvalue()


@functools.lru_cache(maxsize=2)
def _studio_set(width: int, height: int):
    """The backdrop with the turntable and the car's soft shadow (the same in every frame)."""
    import numpy as np
    from PIL import Image as PILImage
    from PIL import ImageDraw, ImageFilter

    from clients.synthetic_frames import backdrop_luma, turntable_scene

    rows = np.array([backdrop_luma(row, height) for row in range(height)], dtype=np.float32)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    # Light falls off towards the corners, as under studio softboxes.
    falloff = ((xx - width / 2) / width) ** 2 + ((yy - height * 0.45) / height) ** 2
    luma = rows[:, None] * (1.0 - 0.35 * falloff)
    tint = np.clip(np.stack([luma * 0.98, luma, luma * 1.03], axis=-1), 0, 255)
    canvas = PILImage.fromarray(tint.astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(canvas)
    for shape in turntable_scene(0.0, width=width, height=height, body_rgb=(0, 0, 0)):
        if shape.role == "turntable":
            draw.polygon(shape.points, fill=shape.rgb)
        elif shape.role == "shadow":
            mask = PILImage.new("L", (width, height), 0)
            ImageDraw.Draw(mask).polygon(shape.points, fill=150)
            mask = mask.filter(ImageFilter.GaussianBlur(width / 90))
            canvas.paste(PILImage.new("RGB", (width, height), shape.rgb), (0, 0), mask)
    return canvas


def _grain(image, seed: int):
    import numpy as np
    from PIL import Image as PILImage

    pixels = np.asarray(image).astype(np.int16)
    noise = np.random.default_rng(seed).normal(0, 9, pixels.shape[:2]).astype(np.int16)
    return PILImage.fromarray(np.clip(pixels + noise[..., None], 0, 255).astype(np.uint8))


def render_turntable_photo(angle_deg: float, *, seed: int = 0, flaw: str | None = None) -> bytes:
    """The car at this turntable angle, as a photo-like JPEG (deterministic). ``flaw``:
    ``blurred`` (the camera moved) or ``glare`` (a softbox reflection), for a reviewer to
    reject."""
    from PIL import Image as PILImage
    from PIL import ImageDraw, ImageFilter

    from clients.synthetic_frames import BODY_COLOURS, turntable_scene

    width, height = DEMO_PHOTO_SIZE
    big = (width * _SUPERSAMPLE, height * _SUPERSAMPLE)
    canvas = _studio_set(*big).copy()
    draw = ImageDraw.Draw(canvas)
    body = BODY_COLOURS[seed % len(BODY_COLOURS)]
    for shape in turntable_scene(angle_deg, width=big[0], height=big[1], body_rgb=body):
        if shape.role == "car":
            draw.polygon(shape.points, fill=shape.rgb)
    photo = canvas.resize((width, height), PILImage.Resampling.LANCZOS)
    if flaw == "blurred":
        photo = photo.filter(ImageFilter.GaussianBlur(width / 200))
    elif flaw == "glare":
        mask = PILImage.new("L", (width, height), 0)
        ImageDraw.Draw(mask).ellipse(
            (width * 0.42, height * 0.38, width * 0.62, height * 0.52), fill=235
        )
        mask = mask.filter(ImageFilter.GaussianBlur(width / 60))
        photo.paste(PILImage.new("RGB", (width, height), (255, 255, 250)), (0, 0), mask)
    grain_seed = seed * 1000 + round(angle_deg * 10)
    note = f"turntable {angle_deg:g}" + (f" ({flaw})" if flaw else "")
    return _jpeg_with_exif(_grain(photo, grain_seed), note=note)


def render_interior_photo(name: str) -> bytes:
    """A dashboard or cabin view: a steering wheel and gauges, or two seats."""
    from PIL import Image as PILImage
    from PIL import ImageDraw

    width, height = DEMO_PHOTO_SIZE
    s = _SUPERSAMPLE
    canvas = PILImage.new("RGB", (width * s, height * s), (52, 50, 48))
    draw = ImageDraw.Draw(canvas)
    draw.rectangle((0, 0, width * s, int(height * 0.38) * s), fill=(150, 160, 170))  # windscreen
    draw.polygon(
        [(0, int(height * 0.38) * s), (width * s, int(height * 0.38) * s),
         (width * s, int(height * 0.62) * s), (0, int(height * 0.55) * s)],
        fill=(70, 66, 62),
    )  # fmt: skip
    if name == "dash":
        cx, cy, r = int(width * 0.36) * s, int(height * 0.62) * s, int(height * 0.28) * s
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=(25, 25, 25), width=34 * s)
        draw.rectangle((cx - 16 * s, cy, cx + 16 * s, cy + r), fill=(25, 25, 25))
        for gx in (0.62, 0.78):
            x, y, g = int(width * gx) * s, int(height * 0.47) * s, int(height * 0.09) * s
            draw.ellipse((x - g, y - g, x + g, y + g), fill=(20, 22, 26), outline=(200, 200, 200))
            draw.line((x, y, x + g * 0.7, y - g * 0.5), fill=(230, 80, 40), width=5 * s)
    else:
        for x0 in (0.12, 0.56):
            x, w = int(width * x0) * s, int(width * 0.32) * s
            draw.rounded_rectangle(
                (x, int(height * 0.35) * s, x + w, int(height * 0.95) * s),
                radius=60 * s,
                fill=(120, 92, 70),
            )
            draw.rounded_rectangle(
                (x + w // 4, int(height * 0.22) * s, x + 3 * w // 4, int(height * 0.38) * s),
                radius=30 * s,
                fill=(110, 84, 64),
            )
    photo = canvas.resize((width, height), PILImage.Resampling.LANCZOS)
    return _jpeg_with_exif(_grain(photo, sum(map(ord, name))), note=name)
