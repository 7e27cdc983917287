import factory

from accounts.models import Device, Organization, Site, User


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Dealer Group {n}")


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site

    org = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Studio {n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@dealer.example")
    name = factory.Sequence(lambda n: f"User {n}")
    org = factory.SubFactory(OrganizationFactory)
    role = User.Role.OPERATOR
    is_staff = True

    @factory.post_generation
    def sites(self, create, extracted, **kwargs):
        if create and extracted:
            self.sites.set(extracted)


class DeviceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Device
        skip_postgeneration_save = True

    org = factory.SubFactory(OrganizationFactory)
    platform = Device.Platform.IOS
    model = "iPhone 15 Pro"
    app_version = "1.0.0"

    @factory.post_generation
    def sites(self, create, extracted, **kwargs):
        if create and extracted:
            self.sites.set(extracted)
