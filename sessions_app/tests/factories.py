import factory

from accounts.tests.factories import OrganizationFactory, SiteFactory
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
