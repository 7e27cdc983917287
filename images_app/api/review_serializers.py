"""Shapes of the review loop: rejecting an image, reshoot items and their list."""

from __future__ import annotations

from rest_framework import serializers

from images_app.models import Image, ReshootItem
from images_app.review import NOTE_MAX_LENGTH
from images_app.rules import REJECT_REASONS
from imaging.api.fields import (
    TEXT,
    InputSerializer,
    StrictCharField,
    StrictIntegerField,
    StrictUUIDField,
)
from imaging.api.views import LimitOffsetQuery, page_serializer
from imaging.api.writers import ResponseWriter

REASONS_HELP = "Reason codes: " + ", ".join(REJECT_REASONS) + "."


def _reasons_field(**kwargs) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.ChoiceField(choices=list(REJECT_REASONS.items())),
        max_length=len(REJECT_REASONS),
        help_text=REASONS_HELP,
        **kwargs,
    )


def _note_field() -> StrictCharField:
    return StrictCharField(
        required=False,
        allow_blank=True,
        max_length=NOTE_MAX_LENGTH,
        pattern=TEXT,
        pattern_message="Must be text without control characters.",
        help_text="For the photographer; shown with the reshoot request.",
    )


class ImageRejectInput(InputSerializer):
    reasons = _reasons_field(min_length=1)
    note = _note_field()


class ReshootItemOutput(serializers.Serializer):
    """One frame (spins) or shot (stills) to capture again."""

    id = serializers.UUIDField()
    session_id = serializers.UUIDField()
    image_id = serializers.UUIDField(
        allow_null=True, help_text="The rejected image; null for a shot never taken."
    )
    frame_index = serializers.IntegerField(allow_null=True)
    angle_deg = serializers.IntegerField(allow_null=True)
    shot_name = serializers.CharField(allow_null=True)
    reasons = serializers.ListField(child=serializers.CharField(), help_text=REASONS_HELP)
    note = serializers.CharField()
    status = serializers.ChoiceField(choices=ReshootItem.Status.choices)
    created_at = serializers.DateTimeField()
    fulfilled_at = serializers.DateTimeField(allow_null=True)
    replacement_image_id = serializers.UUIDField(
        source="replacement_id", allow_null=True, help_text="The image that fulfilled it."
    )
    automatic = serializers.BooleanField(
        help_text="Made by the server when the image failed QC or spin health found the "
        "frame repeated or out of order (reason `wrong_angle`; the organisation's "
        "`qc_reshoot` policy), not by a reviewer."
    )
    required = serializers.BooleanField(
        help_text="The policy is `require`: the image is not published until a replacement "
        "passes QC or a reviewer dismisses the item."
    )


class FrameOutput(serializers.Serializer):
    """One image of the session as the device may see it: where it goes, how far its
    processing got and what QC said (never the picture itself)."""

    id = serializers.UUIDField()
    frame_index = serializers.IntegerField(allow_null=True, help_text="Spins: the frame.")
    angle_deg = serializers.IntegerField(allow_null=True)
    shot_name = serializers.CharField(allow_null=True, help_text="Stills: the shot.")
    status = serializers.ChoiceField(
        choices=Image.Status.choices,
        help_text="pending (waiting for its bytes or a worker), processing, processed, "
        "failed (see `error`), or where review took it: published, rejected, superseded.",
    )
    error = serializers.CharField(help_text="Why processing failed; empty otherwise.")
    qc = serializers.CharField(
        allow_null=True,
        help_text="The QC verdict, the worst of the checks: pass, warn or fail; null until "
        "processed.",
    )
    qc_reasons = serializers.ListField(
        child=serializers.CharField(),
        help_text="What a warning or failure points at: blurred, underexposed, overexposed.",
    )
    replaces_image_id = serializers.UUIDField(
        source="replaces_id", allow_null=True, help_text="The image this one replaces."
    )
    created_at = serializers.DateTimeField()


RESHOOT_ITEM = ResponseWriter(ReshootItemOutput)
# The session detail's open items and frames, read as JSON the database wrote (as_text).
RESHOOT_ITEM_AS_TEXT = ResponseWriter(ReshootItemOutput, as_text=True)
FRAME = ResponseWriter(FrameOutput, as_text=True)
ReshootList = page_serializer("ReshootList", ReshootItemOutput)


class ReshootListQuery(LimitOffsetQuery):
    status = serializers.ChoiceField(choices=ReshootItem.Status.choices, required=False)
    session_id = StrictUUIDField(required=False)


class ReshootCreateInput(InputSerializer):
    """A frame (spins: ``frame_index``) or shot (stills: ``shot_name``) to capture again,
    without an image to reject."""

    session_id = StrictUUIDField()
    frame_index = StrictIntegerField(required=False, allow_null=True, min_value=0, max_value=32767)
    shot_name = StrictCharField(
        required=False,
        allow_null=True,
        max_length=64,
        pattern=r"[a-z0-9][a-z0-9_-]{0,63}",
        pattern_message="A shot name of the session's shot list.",
    )
    reasons = _reasons_field(required=False, default=list)
    note = _note_field()


class ReshootDismissInput(InputSerializer):
    """Why the frame is accepted as it is (optional)."""

    note = _note_field()


class ImageRejected(serializers.ModelSerializer):
    reject_reasons = serializers.ListField(child=serializers.CharField())
    reshoot = ReshootItemOutput(allow_null=True, help_text="The session's open item for it.")

    class Meta:
        model = Image
        fields = ["id", "status", "reject_reasons", "reject_note", "rejected_at", "reshoot"]
        read_only_fields = fields
