"""The VIN format rule and the position-9 check digit, as pure functions."""

import pytest

from sessions_app.vin import InvalidVin, vin_check_digit, vin_check_digit_ok, vin_normalize


@pytest.mark.parametrize(
    ("vin", "digit"),
    [
        ("1HGCM82633A004352", "3"),  # Honda Accord, a commonly cited valid VIN
        ("1M8GDM9AXKP042788", "X"),  # the usual textbook example: remainder 10 is written X
        ("11111111111111111", "1"),
    ],
)
def test_check_digit_of_known_vins(vin, digit):
    assert vin_check_digit(vin) == digit
    assert vin_check_digit_ok(vin)


def test_a_wrong_check_digit_is_reported_not_refused():
    assert vin_normalize("1HGCM82633A123456") == "1HGCM82633A123456"
    assert vin_check_digit("1HGCM82633A123456") == "7"
    assert not vin_check_digit_ok("1HGCM82633A123456")


def test_normalizing_upper_cases_and_strips():
    assert vin_normalize(" 1m8gdm9axkp042788\n") == "1M8GDM9AXKP042788"


@pytest.mark.parametrize(
    "raw", ["", "1HGCM82633A00435", "1HGCM82633A0043520", "IHGCM82633A004352", "1HGCM8263-A004352"]
)
def test_anything_but_17_allowed_characters_is_invalid(raw):
    with pytest.raises(InvalidVin):
        vin_normalize(raw)
