"""Addresses that only look like a provisioned admin's, built from the letters that Unicode
case folding, NFKC or PostgreSQL's UPPER() map onto others."""

from __future__ import annotations

from accounts.models import User

# The admin whose identity the look-alikes are after, and the genuine ways to write theirs.
ADMIN_EMAIL = "kit.sims@strasse.example"
GENUINE = ["kit.sims@strasse.example", "Kit.Sims@Strasse.EXAMPLE", "  KIT.SIMS@STRASSE.EXAMPLE "]
# An admin at an internationalised domain (åland, with U+00E5).
IDN_ADMIN_EMAIL = "sales@\u00e5land.example"
IDN_GENUINE = ["sales@\u00e5land.example", "SALES@xn--land-poa.example"]

LOOKALIKES = {
    "dotless i U+0131": "k\u0131t.sims@strasse.example",
    "long s U+017F": "kit.\u017fims@strasse.example",
    "long s in the domain": "kit.sims@\u017ftrasse.example",
    "Kelvin sign U+212A": "\u212ait.sims@strasse.example",
    "Kelvin sign in the domain": "kit.sims@strasse.e\u212aample",
    "sharp s for ss": "kit.sims@stra\u00dfe.example",
    "fullwidth k": "\uff4bit.sims@strasse.example",
    "fullwidth domain": "kit.sims@\uff53trasse.example",
    "fullwidth at sign": "kit.sims\uff20strasse.example",
    "fullwidth full stop": "kit.sims@strasse\uff0eexample",
    "Turkish dotted I U+0130": "k\u0130t.sims@strasse.example",
    "Angstrom sign U+212B": "sales@\u212bland.example",
    "A with ring for a": "s\u00e5les@\u00e5land.example",
}


def victim_of(email: str, victims: dict[str, User]) -> User:
    return victims[IDN_ADMIN_EMAIL if "land" in email else ADMIN_EMAIL]
