"""Shapes of the publication endpoints."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from imaging.api.fields import InputSerializer, StrictIntegerField
from imaging.api.views import page_serializer
from publishing.feeds import CHANNELS
from publishing.models import Publication, PublicationVersion


class PublicationSummary(serializers.Serializer):
    vehicle_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=Publication.Status.choices)
    version = serializers.IntegerField(help_text="The latest version written.")
    live_version = serializers.IntegerField(
        help_text="The version the public manifest.json shows (trails `version` while the "
        "worker renders; 0 before the first one is live)."
    )
    manifest_url = serializers.URLField(help_text="The public manifest (no Django involved).")
    updated_at = serializers.DateTimeField()
    withdrawn_at = serializers.DateTimeField(allow_null=True)


def summary_data(publication: Publication, manifest_url: str) -> dict:
    return PublicationSummary(
        {
            "vehicle_id": publication.vehicle_id,
            "status": publication.status,
            "version": publication.version,
            "live_version": publication.live_version,
            "manifest_url": manifest_url,
            "updated_at": publication.updated_at,
            "withdrawn_at": publication.withdrawn_at,
        }
    ).data


@extend_schema_field(
    {
        "type": "object",
        "description": "What changed from the version before: image ids added and removed, "
        "the status change ([before, after]) and, for a rollback, the version returned to.",
        "properties": {
            "added": {"type": "array", "items": {"type": "string", "format": "uuid"}},
            "removed": {"type": "array", "items": {"type": "string", "format": "uuid"}},
            "status": {
                "type": "array",
                "items": {"type": "string", "nullable": True},
                "nullable": True,
            },
            "rolled_back_to": {"type": "integer", "nullable": True},
        },
    }
)
class DiffField(serializers.JSONField):
    pass


class PublicationVersionItem(serializers.ModelSerializer):
    version = serializers.IntegerField(source="number")
    created_by = serializers.SerializerMethodField()
    diff = DiffField()
    live = serializers.SerializerMethodField()

    class Meta:
        model = PublicationVersion
        fields = ["version", "action", "status", "created_at", "created_by", "diff", "live"]
        read_only_fields = fields

    def get_created_by(self, version: PublicationVersion) -> str | None:
        user = version.created_by
        return (user.email or user.username) if user is not None else None

    def get_live(self, version: PublicationVersion) -> bool:
        return version.number == self.context["live_version"]


PublicationVersionList = page_serializer("PublicationVersionList", PublicationVersionItem)


class RollbackInput(InputSerializer):
    version = StrictIntegerField(min_value=1, max_value=2_000_000_000)


class FeedQuery(InputSerializer):
    channel = serializers.ChoiceField(choices=sorted(CHANNELS))
