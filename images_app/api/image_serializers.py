"""Shapes of ``/images``: list items, detail, publish result and the list's query."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from images_app import storage
from images_app.models import Image
from images_app.rules import THUMB_KEYS
from imaging.api.fields import (
    InputSerializer,
    QueryIntegerField,
    StrictUUIDField,
)
from imaging.api.views import page_serializer
from imaging.api.writers import ResponseWriter


class ImageListQuery(InputSerializer):
    """``session_id`` is required; ``limit``/``offset`` are additive (a 360-frame spin fits
    in one page by default)."""

    session_id = StrictUUIDField()
    status = serializers.ChoiceField(choices=Image.Status.choices, required=False)
    limit = QueryIntegerField(min_value=1, max_value=1000, default=500)
    offset = QueryIntegerField(min_value=0, max_value=10_000_000, default=0)


@extend_schema_field(
    {
        "type": "object",
        "description": "Short-lived presigned GET URLs of the thumbnails, keyed by size.",
        "properties": {size: {"type": "string", "format": "uri"} for size in THUMB_KEYS},
    }
)
class ThumbUrlsField(serializers.Field):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(source="thumb_keys", read_only=True, **kwargs)

    def to_representation(self, thumb_keys: dict[str, str]) -> dict[str, str]:
        return {size: storage.presigned_get(key=key) for size, key in (thumb_keys or {}).items()}

    @staticmethod
    def write_value(thumb_keys: dict[str, str], sign: Callable[[str], str]) -> dict[str, str]:
        """``to_representation`` for a writer whose context is a page's signer
        (``storage.presigned_getter()``, made once for the whole list)."""
        return {size: sign(key) for size, key in thumb_keys.items()}


class ImageListItem(serializers.ModelSerializer):
    thumb_keys = serializers.DictField(child=serializers.CharField())
    qc = serializers.DictField()
    thumb_urls = ThumbUrlsField()

    class Meta:
        model = Image
        fields = ["id", "angle_deg", "shot_name", "thumb_keys", "qc", "status", "created_at"]
        fields += ["thumb_urls"]
        read_only_fields = fields


# A 360-frame spin is 360 items, and DRF costs about 40 µs an item here: the items are
# written by a function generated from ``ImageListItem`` (imaging.api.writers) from rows
# that ``selectors.session_image_page`` reads with exactly its ``columns``.
IMAGE_LIST_ITEM = ResponseWriter(ImageListItem)


def image_list_item_data(
    row: dict[str, Any], *, sign: Callable[[str], str] | None = None
) -> dict[str, Any]:
    """``ImageListItem(image).data`` from a row of ``selectors.session_image_page``.
    ``sign``: ``storage.presigned_getter()``, made once for a whole list."""
    return IMAGE_LIST_ITEM.write(row, sign or storage.presigned_getter())


ImageList = page_serializer("ImageList", ImageListItem)


class DuplicateOutput(serializers.Serializer):
    image_id = serializers.UUIDField()
    session_id = serializers.UUIDField()
    vehicle_id = serializers.UUIDField()
    vin = serializers.CharField(allow_null=True)
    stock = serializers.CharField(allow_null=True)
    distance = serializers.IntegerField(help_text="Bits of 64 that differ; 0 when exact.")
    kind = serializers.ChoiceField(choices=["exact", "near"])
    reason = serializers.ChoiceField(choices=["re_upload", "possible_wrong_vehicle"])


class ImageDetail(serializers.ModelSerializer):
    session_id = serializers.UUIDField()
    vehicle_id = serializers.UUIDField()
    thumb_keys = serializers.DictField(child=serializers.CharField())
    exif = serializers.DictField()
    qc = serializers.DictField()
    thumb_urls = ThumbUrlsField()
    error = serializers.CharField(allow_null=True, help_text="Why processing failed, or null.")
    duplicates = DuplicateOutput(
        many=True,
        source="duplicate_list",
        read_only=True,
        default=list,
        help_text="The same photo elsewhere in the org (images_app/duplicates.py).",
    )

    class Meta:
        model = Image
        fields = [
            "id",
            "session_id",
            "vehicle_id",
            "angle_deg",
            "shot_name",
            "storage_key",
            "thumb_keys",
            "width",
            "height",
            "exif",
            "qc",
            "status",
            "created_at",
            "published_at",
        ]
        fields += ["thumb_urls", "error", "duplicates"]
        read_only_fields = fields

    def to_representation(self, instance: Image) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["error"] = instance.error or None
        return data


class ImagePublished(serializers.ModelSerializer):
    class Meta:
        model = Image
        fields = ["id", "status", "published_at"]
        read_only_fields = fields
