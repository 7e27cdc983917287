"""Images in any state, with server-built storage keys, for tests."""

import hashlib
import uuid

import factory

from images_app.models import Image, ImageSignature
from images_app.uploads import image_storage_key, image_thumb_keys
from sessions_app.tests.factories import CaptureSessionFactory


class ImageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Image

    id = factory.LazyFunction(uuid.uuid4)
    session = factory.SubFactory(CaptureSessionFactory)
    org = factory.SelfAttribute("session.org")
    vehicle = factory.SelfAttribute("session.vehicle")
    file_name = factory.Sequence(lambda n: f"IMG_{n:04d}.jpg")
    content_type = Image.ContentType.JPEG
    content_sha256 = factory.Sequence(lambda n: hashlib.sha256(str(n).encode()).hexdigest())
    storage_key = factory.LazyAttribute(
        lambda o: image_storage_key(
            org_id=o.org.id,
            site_id=o.session.site_id,
            session_id=o.session.id,
            image_id=o.id,
            content_type=o.content_type,
        )
    )


def processed(image: Image, **extra) -> Image:
    """Mark an image processed with thumbnails and QC, as the worker would."""
    image.status = Image.Status.PROCESSED
    image.width, image.height = 4032, 3024
    image.thumb_keys = image_thumb_keys(image=image)
    image.qc = {"sharpness": {"score": 450.0, "status": "pass"}, "exposure": {"status": "pass"}}
    image.exif = {"iso": 100, "shutter": "1/250", "aperture": "f/1.8"}
    for name, value in extra.items():
        setattr(image, name, value)
    image.save()
    return image


def signed(image: Image, **fields) -> ImageSignature:
    """The image's perceptual signature as the pipeline stores it: zero hashes and an empty
    thumbnail unless ``fields`` say otherwise."""
    defaults = {
        "created_at": image.created_at,
        "sha256": "0" * 64,
        "phash": 0,
        **{f"band{n}": 0 for n in range(4)},
        "tiny": b"",
    }
    return ImageSignature.objects.create(
        image=image,
        org_id=image.org_id,
        vehicle_id=image.vehicle_id,
        session_id=image.session_id,
        frame_index=image.frame_index,
        **{**defaults, **fields},
    )
