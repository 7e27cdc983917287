import hashlib

import factory

from accounts.tests.factories import OrganizationFactory, SiteFactory
from images_app.models import Image
from sessions_app.models import CaptureSession, Vehicle


class VehicleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Vehicle

    org = factory.SubFactory(OrganizationFactory)
    vin = factory.Sequence(lambda n: f"1HGCM82633A{n:06d}")
    stock = factory.Sequence(lambda n: f"STK-{n:04d}")


class CaptureSessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CaptureSession

    org = factory.SubFactory(OrganizationFactory)
    site = factory.SubFactory(SiteFactory, org=factory.SelfAttribute("..org"))
    vehicle = factory.SubFactory(VehicleFactory, org=factory.SelfAttribute("..org"))
    mode = CaptureSession.Mode.STUDIO360
    shot_list = factory.LazyAttribute(lambda s: {"studio360": {"frame_count": 24}})


def images_add(session: CaptureSession, count: int) -> None:
    """``count`` pending photos in a session, enough for lists that count them."""
    Image.objects.bulk_create(
        Image(
            org_id=session.org_id,
            session=session,
            vehicle_id=session.vehicle_id,
            file_name=f"IMG_{index:04d}.jpg",
            content_type=Image.ContentType.JPEG,
            # Different photos: a photo waits for its upload once per session.
            content_sha256=hashlib.sha256(f"{session.id} {index}".encode()).hexdigest(),
            storage_key=f"org/{session.org_id}/session/{session.id}/{index}.jpg",
        )
        for index in range(count)
    )
