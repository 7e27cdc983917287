"""Shapes of the sessions endpoints. Input serializers check types; the rules are services'."""

from __future__ import annotations

import re
from typing import Any

from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema_field
from rest_framework import serializers

from imaging.api.fields import (
    StrictCharField,
    StrictDateTimeField,
    StrictUUIDField,
    ecma,
)
from imaging.api.views import LimitOffsetQuery, page_serializer
from imaging.api.writers import ResponseWriter
from sessions_app.models import CaptureSession, ShotListTemplate
from sessions_app.services import (
    FRAME_COUNT_MAX,
    FRAME_COUNT_MIN,
    STILL_NAME_MAX_LENGTH,
    STILL_NAME_PATTERN,
    STILLS_MAX,
)

# --- Input
#
# The JSON Schema of each input is exactly what the server accepts; the patterns below are
# checked by the serializers and published in the schema from the same strings.

JSON_SPACE = r"[ \t\n\r]"
# 17 characters of A-Z and 0-9 without I, O and Q, either case (stored upper-cased).
VIN_CHARACTERS = r"[A-HJ-NPR-Za-hj-npr-z0-9]{17}"
# Printable ASCII, 1-64 characters, not starting or ending with a space.
STOCK_CHARACTERS = r"[!-~](?:[ -~]{0,62}[!-~])?"
# Surrounding whitespace is dropped; a blank value counts as absent.
VIN_INPUT = rf"{JSON_SPACE}*(?:{VIN_CHARACTERS}{JSON_SPACE}*)?"
STOCK_INPUT = rf"{JSON_SPACE}*(?:{STOCK_CHARACTERS}{JSON_SPACE}*)?"
VIN_GIVEN = rf"{JSON_SPACE}*{VIN_CHARACTERS}{JSON_SPACE}*"
STOCK_GIVEN = rf"{JSON_SPACE}*{STOCK_CHARACTERS}{JSON_SPACE}*"
# A numeric stock number is taken as its decimal text.
STOCK_NUMBER_MAX = 10**18 - 1

_JSON_SPACE_CHARACTERS = " \t\n\r"
_VIN_CORE = re.compile(VIN_CHARACTERS)
_STOCK_CORE = re.compile(STOCK_CHARACTERS)


def padded_match(core: re.Pattern[str], value: str) -> bool:
    """Whether ``value`` matches ``{JSON_SPACE}*(?:{core}{JSON_SPACE}*)?``, for a ``core`` that
    neither starts nor ends with JSON whitespace (so what the strip leaves is the core).

    The padded pattern itself steps back through a long run of whitespace one character
    at a time when what follows fails (50 ms for a megabyte of it); ``str.strip`` does not.
    """
    inner = value.strip(_JSON_SPACE_CHARACTERS)
    return not inner or core.fullmatch(inner) is not None


def _stock_schema(pattern: str) -> dict[str, Any]:
    return {
        "anyOf": [
            {"type": "string", "pattern": ecma(pattern)},
            {"type": "integer", "minimum": 0, "maximum": STOCK_NUMBER_MAX},
        ]
    }


VEHICLE_KEYS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "The vehicle by VIN, stock number or both; at least one of them is given "
    "(not null, not blank). A known VIN or stock number reuses its vehicle.",
    "properties": {
        "vin": {
            "type": "string",
            "nullable": True,
            "pattern": ecma(VIN_INPUT),
            "description": "17 characters, I, O and Q excluded; stored upper-cased.",
        },
        "stock": {
            **_stock_schema(STOCK_INPUT),
            "nullable": True,
            "description": "1-64 printable ASCII characters, or a whole number.",
        },
    },
    "anyOf": [
        {
            "required": ["vin"],
            "properties": {"vin": {"type": "string", "pattern": ecma(VIN_GIVEN)}},
        },
        {"required": ["stock"], "properties": {"stock": _stock_schema(STOCK_GIVEN)}},
    ],
}


class StockNumberField(serializers.Field):
    """A stock number as text, or as a whole number (taken as its decimal text)."""

    default_error_messages = {
        "invalid": "A stock number is 1-64 printable ASCII characters or a whole number "
        f"from 0 to {STOCK_NUMBER_MAX}.",
    }

    def to_internal_value(self, data: Any) -> str:
        if isinstance(data, int) and not isinstance(data, bool):
            if 0 <= data <= STOCK_NUMBER_MAX:
                return str(data)
        elif isinstance(data, str) and padded_match(_STOCK_CORE, data):
            return data
        self.fail("invalid")

    def to_representation(self, value: Any) -> Any:
        return value


@extend_schema_field(VEHICLE_KEYS_SCHEMA, component_name="VehicleKeysInput")
class VehicleKeysInput(serializers.Serializer):
    # VIN_INPUT, published above and checked by validate_vin.
    vin = StrictCharField(required=False, allow_null=True, allow_blank=True)
    stock = StockNumberField(required=False, allow_null=True)

    def validate_vin(self, value: str | None) -> str | None:
        if value is not None and not padded_match(_VIN_CORE, value):
            raise serializers.ValidationError(
                "A VIN is 17 characters of A-Z and 0-9; the letters I, O and Q are not used."
            )
        return value


def _still_names_schema() -> dict[str, Any]:
    return {
        "type": "array",
        "description": "Names of the stills to take, in order.",
        "maxItems": STILLS_MAX,
        "uniqueItems": True,
        "items": {
            "type": "string",
            "pattern": ecma(STILL_NAME_PATTERN.pattern),
            "description": f"1-{STILL_NAME_MAX_LENGTH} characters of a-z, 0-9, '_' and '-', "
            "starting with a letter or digit.",
        },
    }


def _shot_list_schema(mode: str) -> dict[str, Any]:
    """What ``shot_list`` accepts in a session of ``mode`` (see ``shot_list_clean``)."""
    properties: dict[str, Any] = {"stills": _still_names_schema()}
    schema: dict[str, Any] = {"type": "object", "additionalProperties": False}
    if mode in CaptureSession.SPIN_MODES:
        properties = {
            mode: {
                "type": "object",
                "additionalProperties": False,
                "required": ["frame_count"],
                "properties": {
                    "frame_count": {
                        "type": "integer",
                        "minimum": FRAME_COUNT_MIN,
                        "maximum": FRAME_COUNT_MAX,
                        "description": "Frames of the spin; frame i is at i * 360 / "
                        "frame_count degrees.",
                    }
                },
            },
            **properties,
        }
        schema["required"] = [mode]
    return {**schema, "properties": properties}


class ShotListField(serializers.DictField):
    """``shot_list`` of one mode: documentation only; ``shot_list_clean`` checks it."""

    def __init__(self, *, mode: str, **kwargs: Any) -> None:
        self._spectacular_annotation = {"field": _shot_list_schema(mode)}
        super().__init__(**kwargs)


class ModeField(serializers.CharField):
    """``mode`` of a branch of the create body: this one value."""

    def __init__(self, *, mode: str, **kwargs: Any) -> None:
        self._spectacular_annotation = {"field": {"type": "string", "enum": [mode]}}
        super().__init__(**kwargs)


class SessionCreateInput(serializers.Serializer):
    """Validates the create body; any other field (``id``, ``org_id``, ``status``,
    ``started_at``...) is ignored. The shot list is ``shot_list_clean``'s to check."""

    site_id = StrictUUIDField()
    vehicle = VehicleKeysInput()
    mode = serializers.ChoiceField(choices=CaptureSession.Mode.choices)
    shot_list = serializers.DictField(required=False, default=dict)
    shot_list_template_id = StrictUUIDField(required=False, allow_null=True)


def _create_input_of(mode: str) -> type[serializers.Serializer]:
    """The create body of a ``mode`` session, for the schema: a spin needs its frame count."""
    spin = mode in CaptureSession.SPIN_MODES
    fields = {
        "site_id": StrictUUIDField(),
        "vehicle": VehicleKeysInput(),
        "mode": ModeField(mode=mode),
        "shot_list": ShotListField(mode=mode, required=spin),
        "shot_list_template_id": StrictUUIDField(
            required=False,
            allow_null=True,
            help_text="Take the stills (and a spin's frame count, unless shot_list gives "
            "one) from this shot-list template of the organisation.",
        ),
    }
    name = f"SessionCreate{mode.capitalize()}"
    attributes = {**fields, "__doc__": f"A {mode} session."}
    return type(name, (serializers.Serializer,), attributes)


SESSION_CREATE_REQUEST = PolymorphicProxySerializer(
    component_name="SessionCreate",
    serializers={mode: _create_input_of(mode) for mode in CaptureSession.Mode.values},
    resource_type_field_name="mode",
)


# Named in the schema as SessionFinishStatusEnum (SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]).
FINISHED_STATUS_CHOICES = [(s.value, s.label) for s in CaptureSession.FINISHED]


class SessionFinishInput(serializers.Serializer):
    status = serializers.ChoiceField(choices=FINISHED_STATUS_CHOICES)
    completed_at = StrictDateTimeField(
        required=False,
        allow_null=True,
        help_text="Used if not before started_at and at most 5 minutes ahead; else now.",
    )


class SessionListQuery(LimitOffsetQuery):
    site_id = StrictUUIDField(required=False)
    status = serializers.ChoiceField(choices=CaptureSession.Status.choices, required=False)
    vehicle_id = StrictUUIDField(required=False)


# --- Output


class VehicleKeysOutput(serializers.Serializer):
    vin = serializers.CharField(allow_null=True)
    stock = serializers.CharField(allow_null=True)


class VehicleOutput(VehicleKeysOutput):
    id = serializers.UUIDField()


class OperatorOutput(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()


class DeviceOutput(serializers.Serializer):
    id = serializers.UUIDField()
    model = serializers.CharField()


class SiteOutput(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()


class SessionOutput(serializers.Serializer):
    """The created session (the contract's ``Session``)."""

    id = serializers.UUIDField()
    org_id = serializers.UUIDField()
    site_id = serializers.UUIDField()
    vehicle_id = serializers.UUIDField()
    mode = serializers.ChoiceField(choices=CaptureSession.Mode.choices)
    shot_list = serializers.DictField()
    shot_list_template_id = serializers.UUIDField(allow_null=True)
    status = serializers.ChoiceField(choices=CaptureSession.Status.choices)
    started_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)


class SessionListItemOutput(serializers.Serializer):
    id = serializers.UUIDField()
    vehicle = VehicleKeysOutput()
    mode = serializers.ChoiceField(choices=CaptureSession.Mode.choices)
    status = serializers.ChoiceField(choices=CaptureSession.Status.choices)
    operator = OperatorOutput(allow_null=True, help_text="Null when a device started it.")
    site = SiteOutput()
    started_at = serializers.DateTimeField()
    image_count = serializers.IntegerField()


SessionListOutput = page_serializer("SessionListOutput", SessionListItemOutput)


class SessionDetailOutput(serializers.Serializer):
    id = serializers.UUIDField()
    org_id = serializers.UUIDField()
    site_id = serializers.UUIDField()
    vehicle = VehicleOutput()
    mode = serializers.ChoiceField(choices=CaptureSession.Mode.choices)
    shot_list = serializers.DictField()
    shot_list_template_id = serializers.UUIDField(allow_null=True)
    operator = OperatorOutput(allow_null=True)
    device = DeviceOutput(allow_null=True)
    status = serializers.ChoiceField(choices=CaptureSession.Status.choices)
    started_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)
    spin_health = serializers.DictField(
        allow_null=True,
        help_text=(
            "Spins only, null until a frame is processed: status (ok, unhealthy, unknown), "
            "direction (clockwise, counter_clockwise, null), frames, and findings (type: "
            "duplicate, out_of_order, skipped_angles; frame_index, angle, image_id, message; "
            "frame_index, angle and image_id are null on a finished session's shortfall the "
            "pictures cannot place)."
        ),
    )


# --- Output written out
#
# The list writes 50 rows a page and DRF's nested serializers cost about 30 µs a row here;
# these are generated from the serializers above (imaging.api.writers) and write the same
# data from the selectors' rows, which read exactly their ``columns``.

SESSION_LIST_ITEM = ResponseWriter(SessionListItemOutput)
SESSION_DETAIL = ResponseWriter(SessionDetailOutput)

# ``SessionListItemOutput(session).data`` from a row of ``session_list_page``.
session_list_item_data = SESSION_LIST_ITEM.write
# ``SessionDetailOutput(session).data`` from a row of ``session_detail_row``.
session_detail_data = SESSION_DETAIL.write


# --- Shot-list templates


class ShotListItemOutput(serializers.Serializer):
    code = serializers.CharField(help_text="The shot's name in a session's stills.")
    label = serializers.CharField()
    category = serializers.ChoiceField(choices=ShotListTemplate.Category.choices)
    required = serializers.BooleanField()


class ShotListTemplateOutput(serializers.Serializer):
    """An organisation's shot list; name it in ``POST /v1/sessions`` as
    ``shot_list_template_id``."""

    id = serializers.UUIDField()
    name = serializers.CharField()
    items = ShotListItemOutput(many=True)
    spin_frame_count = serializers.IntegerField(allow_null=True)
    block_publishing_below_full_coverage = serializers.BooleanField(
        help_text="Publishing waits for every required item (so it does too when the "
        "organisation's coverage policy blocks; otherwise the console warns)."
    )
