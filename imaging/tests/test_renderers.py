"""The API's renderer writes what DRF's JSONRenderer writes, only faster."""

import datetime as dt
import decimal
import json
import uuid

from django.utils.translation import gettext_lazy
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.renderers import JSONRenderer

from imaging.api.renderers import OrjsonRenderer

_UTC = dt.UTC
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.text()
    | st.uuids()
    | st.datetimes(timezones=st.just(_UTC))
    | st.datetimes()
    | st.dates()
    | st.decimals(allow_nan=False, allow_infinity=False, places=2, max_value=10**6)
)
_documents = st.recursive(
    _scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


def _both(data, media_type="application/json"):
    return (
        OrjsonRenderer().render(data, media_type, {}),
        JSONRenderer().render(data, media_type, {}),
    )


@settings(max_examples=300, deadline=None)
@given(_documents)
def test_same_bytes_as_drf_for_what_the_api_answers(data):
    ours, drf = _both(data)
    assert ours == drf


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False)))
def test_floats_read_back_as_the_same_numbers(data):
    # Exponents are spelt 1e16 rather than 1e+16: the same JSON number.
    ours, drf = _both(data)
    assert json.loads(ours) == json.loads(drf)


def test_times_in_utc_end_in_z_like_drf():
    moment = dt.datetime(2026, 12, 6, 3, 4, 5, 123456, tzinfo=_UTC)
    assert _both({"at": moment})[0] == b'{"at":"2026-12-06T03:04:05.123456Z"}'


def test_line_separators_are_escaped_for_javascript():
    ours, drf = _both({"note": "a\u2028b\u2029c"})
    assert ours == drf == b'{"note":"a\\u2028b\\u2029c"}'


def test_what_orjson_cannot_write_falls_back_to_drf():
    huge = {"n": 2**70, "lazy": gettext_lazy("Not found."), "d": decimal.Decimal("1.5")}
    ours, drf = _both(huge)
    assert ours == drf == b'{"n":1180591620717411303424,"lazy":"Not found.","d":1.5}'


def test_an_indented_answer_is_drf_s():
    data = {"id": uuid.UUID(int=1), "items": [1, 2]}
    ours, drf = _both(data, "application/json; indent=2")
    assert ours == drf and b"\n  " in ours


def test_nothing_is_an_empty_body():
    assert OrjsonRenderer().render(None) == b""
