"""Vehicle identification numbers: the format rule and the check digit.

A VIN is 17 characters of A-Z and 0-9 without I, O and Q (ISO 3779). Position 9 is a check
digit in North America (49 CFR 565); elsewhere it may be anything, so a wrong check digit
is recorded on the vehicle (``vin_check_digit_ok``) but never refused.
"""

from __future__ import annotations

import re

VIN_LENGTH = 17
CHECK_DIGIT_POSITION = 8  # zero-based: the ninth character

_VIN_PATTERN = re.compile(r"[A-HJ-NPR-Z0-9]{17}")

_LETTER_VALUES = {
    **dict.fromkeys("AJ", 1),
    **dict.fromkeys("BKS", 2),
    **dict.fromkeys("CLT", 3),
    **dict.fromkeys("DMU", 4),
    **dict.fromkeys("ENV", 5),
    **dict.fromkeys("FW", 6),
    **dict.fromkeys("GPX", 7),
    **dict.fromkeys("HY", 8),
    **dict.fromkeys("RZ", 9),
}
_POSITION_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


class InvalidVin(ValueError):
    pass


def vin_normalize(raw: str) -> str:
    """The VIN upper-cased without surrounding spaces; ``InvalidVin`` if it is not one."""
    vin = raw.strip().upper()
    if not _VIN_PATTERN.fullmatch(vin):
        raise InvalidVin(
            "A VIN is 17 characters of A-Z and 0-9; the letters I, O and Q are not used."
        )
    return vin


def vin_check_digit(vin: str) -> str:
    """The check digit a well-formed VIN should carry at position 9 ("0"-"9" or "X")."""
    total = sum(
        (int(char) if char.isdigit() else _LETTER_VALUES[char]) * weight
        for char, weight in zip(vin, _POSITION_WEIGHTS, strict=True)
    )
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def vin_check_digit_ok(vin: str) -> bool:
    return vin[CHECK_DIGIT_POSITION] == vin_check_digit(vin)
