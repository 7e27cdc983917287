"""Tenants and principals: organisations, their sites, users and capture devices."""

from __future__ import annotations

import uuid

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.emails import CANONICAL_CHARACTERS, UnusableEmail, email_canonical


class Organization(models.Model):
    """A dealership group: the tenant every other row belongs to."""

    class EnrollmentPolicy(models.TextChoices):
        CODE = "code", "Enrollment code required"
        OPEN = "open", "Open: any device that knows the org id"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200, unique=True)
    enrollment_policy = models.CharField(
        max_length=8, choices=EnrollmentPolicy.choices, default=EnrollmentPolicy.CODE
    )
    # QC thresholds for this org; missing keys fall back to the pipeline defaults.
    qc_thresholds = models.JSONField(default=dict, blank=True)
    # Canonical domains (accounts.emails.domain_canonical). When set, the org's admins may
    # give users addresses at these domains only; set by platform operators.
    email_domains = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        # The console says "organisation" everywhere (the app is "Organisation").
        verbose_name = "organisation"
        verbose_name_plural = "organisations"

    def __str__(self) -> str:
        return self.name


class Site(models.Model):
    """A place where cars are photographed (a studio, a lot) within one organisation."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="sites")
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["org", "name"], name="site_unique_name_per_org")
        ]

    def __str__(self) -> str:
        return self.name


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields) -> User:
        if not email:
            raise ValueError("email is required")
        user = self.model(email=email_canonical(email), **fields)
        user.set_password(password) if password else user.set_unusable_password()
        user.save(using=self._db)
        return user

    def get_by_natural_key(self, username: str) -> User:
        """Password login: the typed address in its canonical form, matched exactly."""
        try:
            email = email_canonical(username)
        except UnusableEmail:
            raise self.model.DoesNotExist from None
        return self.get(email=email)

    async def aget_by_natural_key(self, username: str) -> User:
        try:
            email = email_canonical(username)
        except UnusableEmail:
            raise self.model.DoesNotExist from None
        return await self.aget(email=email)

    def create_superuser(self, email: str, password: str | None = None, **fields) -> User:
        fields.update(is_staff=True, is_superuser=True, role=User.Role.ADMIN)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A person: operator, reviewer or admin of one organisation (superusers may have none).

    Identity from the organisation's OIDC provider is (oidc_issuer, oidc_subject).
    """

    class Role(models.TextChoices):
        OPERATOR = "operator", "Operator"
        REVIEWER = "reviewer", "Reviewer"
        ADMIN = "admin", "Admin"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Always canonical (accounts.emails): compared with = only, never iexact.
    email = models.EmailField(
        unique=True, error_messages={"unique": "This email address cannot be used."}
    )
    name = models.CharField(max_length=200, blank=True)
    org = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="users", null=True, blank=True
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.OPERATOR)
    sites = models.ManyToManyField(Site, related_name="users", blank=True)
    oidc_issuer = models.CharField(max_length=500, null=True, blank=True)
    oidc_subject = models.CharField(max_length=255, null=True, blank=True)
    is_staff = models.BooleanField(default=False, help_text="May log in to the admin console.")
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]
        constraints = [
            models.UniqueConstraint(
                fields=["oidc_issuer", "oidc_subject"],
                condition=Q(oidc_subject__isnull=False),
                name="user_unique_oidc_identity",
                violation_error_message="This sign-in identity cannot be used.",
            ),
            models.CheckConstraint(
                condition=Q(email__regex=CANONICAL_CHARACTERS),
                name="user_email_canonical",
                violation_error_message="The email address is not in its canonical form.",
            ),
        ]

    def __str__(self) -> str:
        return self.email

    @classmethod
    def normalize_username(cls, username: str) -> str:
        # Django's default is NFKC, which folds look-alikes onto ASCII; the canonical form
        # does not. An unusable address is left for validation to refuse.
        try:
            return email_canonical(username)
        except UnusableEmail:
            return username


class Device(models.Model):
    """A capture app or studio rig enrolled in an organisation.

    Revoking sets ``revoked_at``; its tokens stop working on the next request.
    """

    class Platform(models.TextChoices):
        IOS = "ios", "iOS"
        ANDROID = "android", "Android"
        EDGE = "edge", "Edge studio rig"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="devices")
    platform = models.CharField(max_length=16, choices=Platform.choices)
    model = models.CharField(max_length=200)
    app_version = models.CharField(max_length=64)
    # Empty = every site of the org.
    sites = models.ManyToManyField(Site, related_name="devices", blank=True)
    enrolled_with = models.ForeignKey(
        "EnrollmentCode", on_delete=models.SET_NULL, null=True, blank=True, editable=False
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "id"]
        indexes = [models.Index(fields=["org", "-last_seen_at"], name="device_org_seen_idx")]

    def __str__(self) -> str:
        # "Turntable Rig (simulated) · edge": a model name may have parentheses of its own.
        return f"{self.model} · {self.platform}"

    # Lets DRF treat an authenticated device like an authenticated user.
    is_authenticated = True
    is_anonymous = False

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class EnrollmentCode(models.Model):
    """A one-time-shown code that lets new devices enroll; stored only as its SHA-256."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="enrollment_codes")
    code_hash = models.CharField(max_length=64, unique=True, editable=False)
    label = models.CharField(max_length=200, blank=True)
    expires_at = models.DateTimeField()
    uses_left = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "id"]

    def __str__(self) -> str:
        return self.label or f"code {str(self.id)[:8]}"

    @property
    def is_usable(self) -> bool:
        return self.uses_left > 0 and self.expires_at > timezone.now()


class SigningKey(models.Model):
    """A key that signs API tokens; its ``kid`` goes in every token's header.

    Exactly one key is current (``is_current``) and signs new tokens. Rotation retires it:
    ``retired_at`` is set, its private half is erased, and it keeps verifying until
    ``verify_until`` (retirement + the longest token lifetime), when the last token it
    signed has expired. Revoking sets ``verify_until`` to now. The private half is stored
    encrypted with a key derived from ``JWT_SIGNING_KEY``; the public half is published
    (``GET /v1/.well-known/jwks.json``).
    """

    class Algorithm(models.TextChoices):
        EDDSA = "EdDSA", "EdDSA (Ed25519)"
        RS256 = "RS256", "RS256 (RSA 3072)"

    kid = models.CharField(max_length=64, primary_key=True)
    algorithm = models.CharField(max_length=8, choices=Algorithm.choices)
    public_key = models.TextField(help_text="PEM, SubjectPublicKeyInfo")
    private_key_encrypted = models.TextField(blank=True, editable=False)
    # True for the one current key, NULL otherwise: a unique NULL-able column lets the
    # database refuse a second current key (two processes creating the first key at once).
    is_current = models.BooleanField(null=True, unique=True, default=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    retired_at = models.DateTimeField(null=True, blank=True, editable=False)
    verify_until = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "kid"]

    def __str__(self) -> str:
        return f"{self.kid} ({self.algorithm})"
