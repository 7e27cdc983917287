"""How email addresses are compared: one canonical form, stored and matched exactly.

An address names a person's account, and a verified email from the OIDC provider links that
account on first login, so two addresses must be "the same" only when they reach the same
mailbox. Case-insensitive comparison in the database (``iexact``, ``UPPER``) and Unicode
case folding or NFKC do more than that: they map letters that only look like ASCII onto
ASCII (dotless i U+0131 -> I, long s U+017F -> s, Kelvin sign U+212A -> k, Angstrom sign
U+212B -> U+00E5, fullwidth letters -> ASCII, sharp s U+00DF -> ss, Turkish capital dotted
I U+0130 -> i + dot), so an "admin" spelt with a dotless i would sign in as the real one.

The canonical form therefore ignores ASCII case and nothing else:

- the local part (before the last ``@``) must be an ASCII dot-atom (letters, digits and
  ``!#$%&'*+/=?^_`{|}~-``, separated by single dots); it is lowercased, ASCII letters only.
  Internationalised or quoted local parts are not accepted: they are rare in company
  directories, and they are where the look-alikes live;
- the domain is lowercased (ASCII letters only) and each label written as its IDNA2008
  A-label (``xn--…``). A non-ASCII label must already be a valid IDNA2008 U-label: no
  compatibility or case mapping is applied, so the Kelvin sign, long s or fullwidth letters make an
  address unusable instead of turning into another domain's letters.

Users' ``email`` column holds this form (a check constraint keeps it ASCII and lowercase), so
every lookup is an exact ``email = %s``.
"""

from __future__ import annotations

import re

import idna
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_ATOM = r"[-a-z0-9!#$%&'*+/=?^_`{|}~]+"
_LOCAL_PART = re.compile(rf"{_ATOM}(?:\.{_ATOM})*\Z")
_ASCII_LABEL = re.compile(r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?\Z")
# What a canonical address is made of; the User table's check constraint says the same.
CANONICAL_CHARACTERS = r"^[-a-z0-9!#$%&'*+/=?^_`{|}~.]+@[-a-z0-9.]+$"


class UnusableEmail(ValueError):
    """Not an address we can compare safely; the message says why, for the provisioner."""


def ascii_lower(text: str) -> str:
    """Lowercase ASCII letters only: ``str.lower`` would also turn K (Kelvin) into k."""
    return text.translate(_ASCII_LOWER)


def domain_canonical(domain: str) -> str:
    """``domain`` as lowercase IDNA2008 A-labels, or ``UnusableEmail``."""
    labels = ascii_lower(domain.strip()).split(".")
    canonical = []
    for label in labels:
        if label.isascii():
            if not _ASCII_LABEL.match(label):
                raise UnusableEmail(f"{domain!r} is not a domain name.")
            if label.startswith("xn--"):
                try:  # an A-label must be the A-label of a valid U-label
                    valid = idna.alabel(idna.ulabel(label)).decode() == label
                except (idna.IDNAError, UnicodeError):
                    valid = False
                if not valid:
                    raise UnusableEmail(f"{domain!r} is not a valid internationalised domain.")
            canonical.append(label)
            continue
        try:
            canonical.append(idna.alabel(label).decode())
        except (idna.IDNAError, UnicodeError) as exc:
            raise UnusableEmail(
                f"{domain!r} is not a valid internationalised domain (IDNA2008): write it in "
                "lowercase, without look-alike or fullwidth characters."
            ) from exc
    if len(canonical) < 2:
        raise UnusableEmail(f"{domain!r} is not a domain name.")
    return ".".join(canonical)


def email_canonical(email: str) -> str:
    """The one form of ``email`` that is stored and compared, or ``UnusableEmail``."""
    if not isinstance(email, str):
        raise UnusableEmail("An email address is text.")
    local, at, domain = email.strip().rpartition("@")
    if not at or not local or not domain:
        raise UnusableEmail(f"{email!r} is not an email address.")
    if not local.isascii():
        raise UnusableEmail(
            "The part before @ must be plain ASCII (letters, digits, . _ - +); "
            "internationalised addresses are not accepted."
        )
    local = ascii_lower(local)
    if not _LOCAL_PART.match(local):
        raise UnusableEmail(f"{email!r} is not an email address.")
    canonical = f"{local}@{domain_canonical(domain)}"
    try:
        validate_email(canonical)
    except ValidationError as exc:
        raise UnusableEmail(f"{email!r} is not an email address.") from exc
    return canonical


def email_domain(canonical: str) -> str:
    return canonical.rpartition("@")[2]
