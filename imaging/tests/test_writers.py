"""A response writer says what its serializer says, or refuses to be made."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from rest_framework import serializers

from imaging.api.writers import ResponseWriter


class Owner(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()


class Thing(serializers.Serializer):
    id = serializers.UUIDField()
    owner = Owner(allow_null=True)
    tags = serializers.DictField(child=serializers.CharField())
    made_at = serializers.DateTimeField(allow_null=True)


def test_a_row_is_written_as_the_serializer_writes_the_object():
    writer = ResponseWriter(Thing)
    thing_id, owner_id = uuid.uuid4(), uuid.uuid4()
    made_at = dt.datetime(2025, 1, 15, 10, 0, tzinfo=dt.UTC)
    row = {
        "id": thing_id,
        "owner__id": owner_id,
        "owner__name": "Olga",
        "tags": {"a": "b"},
        "made_at": made_at,
    }
    instance = {
        "id": thing_id,
        "owner": {"id": owner_id, "name": "Olga"},
        "tags": {"a": "b"},
        "made_at": made_at,
    }

    assert writer.columns == ("id", "owner__id", "owner__name", "tags", "made_at")
    assert writer.write(row) == Thing(instance).data


def test_an_embedded_object_is_null_when_its_id_is():
    row = {"id": uuid.uuid4(), "owner__id": None, "owner__name": None, "tags": {}, "made_at": None}

    written = ResponseWriter(Thing).write(row)

    assert written["owner"] is None and written["made_at"] is None


def test_a_serializer_with_its_own_to_representation_cannot_have_a_writer():
    class Custom(Thing):
        def to_representation(self, instance):
            return {**super().to_representation(instance), "extra": 1}

    with pytest.raises(TypeError, match="to_representation"):
        ResponseWriter(Custom)


def test_a_field_the_writer_does_not_know_cannot_have_a_writer():
    class WithDecimal(serializers.Serializer):
        price = serializers.DecimalField(max_digits=6, decimal_places=2)

    with pytest.raises(TypeError, match="no writer for DecimalField"):
        ResponseWriter(WithDecimal)


def test_a_list_of_text_is_written_as_read():
    class Tagged(serializers.Serializer):
        labels = serializers.ListField(child=serializers.CharField())
        maybe = serializers.ListField(child=serializers.IntegerField(), allow_null=True)

    row = {"labels": ["glare", "blurred"], "maybe": None}

    assert ResponseWriter(Tagged).write(row) == Tagged(row).data


def test_a_list_of_objects_cannot_have_a_writer():
    class Nested(serializers.Serializer):
        owners = serializers.ListField(child=Owner())

    with pytest.raises(TypeError, match="no writer for a list of Owner"):
        ResponseWriter(Nested)
