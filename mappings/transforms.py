"""Named value transforms between a tool's field values and the unified canonical form.

Mapping files name a transform per field; this registry is the only place value formats are
decided. Every ``inbound`` is idempotent on its own output and ``inbound(outbound(v)) == v``
for a canonical ``v``: that is what keeps a value revsync wrote from looking changed when it
is read back (no echo).

A bad value in a field that identifies the record (an email) is fatal for the record
(``MappingError``); a bad value in a descriptive field (a phone, a picklist label) is dropped
and noted in the context's ``warnings``, because losing one field beats losing the person.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from dataclasses import field as _field
from functools import cache
from typing import Any

import phonenumbers

from mappings.countries import COUNTRY_NAMES
from mappings.errors import MappingError, shorten
from mappings.idlists import canonical_ids, ids_out
from mappings.scalars import (
    canonical_boolean,
    canonical_date,
    canonical_datetime,
    canonical_number,
    date_out,
    number_out,
)

__all__ = [
    "TRANSFORMS",
    "Transform",
    "TransformContext",
    "clean_name",
    "clean_text",
    "country_code",
    "country_name",
    "join_full_name",
    "normalize_domain",
    "normalize_email",
    "split_full_name",
    "to_e164",
]


@dataclass
class TransformContext:
    """What a transform may need beyond the value: the field's options and a warnings sink."""

    field: str
    options: Mapping[str, Any] = _field(default_factory=dict)
    warnings: list[str] = _field(default_factory=list)


@dataclass(frozen=True)
class Transform:
    """A pair of functions: tool value -> canonical unified string, and back.

    A *composite* transform fills one tool field from several unified fields, each naming its
    share with ``options.part`` (one of ``parts``): ``outbound`` gives one part's piece and
    ``compose`` joins the pieces (keyed by part) into the tool value.
    """

    name: str
    inbound: Callable[[object, TransformContext], str | None]
    outbound: Callable[[str, TransformContext], object]
    parts: tuple[str, ...] = ()
    compose: Callable[[Mapping[str, object]], object] | None = None


def _as_text(value: object) -> str | None:
    """Tool values arrive as strings, sometimes numbers; anything else is a wrong type."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    raise MappingError(f"expected text, got {type(value).__name__} {shorten(value)}")


def clean_text(value: object) -> str | None:
    """Trimmed text; blank is None (tools send "" for unset fields)."""
    text = _as_text(value)
    if text is None:
        return None
    text = text.strip()
    return text or None


# --- email -------------------------------------------------------------------------------

_EMAIL_RE = re.compile(
    r"^(?!\.)(?!.*\.\.)[a-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}(?<!\.)"
    r"@(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+"
    r"(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$"
)


def normalize_email(value: object) -> str | None:
    """Lowercase trimmed email, None when blank; ``MappingError`` on invalid syntax.

    Lowercasing the local part is technically lossy but every tool we sync treats emails
    case-insensitively (emailing tools hash the lowercase form), and it is the person's key.
    """
    text = clean_text(value)
    if text is None:
        return None
    email = text.lower()
    if len(email) > 254 or not _EMAIL_RE.match(email):
        raise MappingError(f"invalid email syntax: {shorten(text)}")
    return email


# --- phone -------------------------------------------------------------------------------


def to_e164(phone: object, default_region: str = "US") -> str | None:
    """E.164 form (``+14155550100``) of a valid number, else None.

    Numbers without a country prefix are read in ``default_region``. Extensions are dropped
    (E.164 has none). Only numbers valid per libphonenumber's metadata are kept: a "possible"
    number such as a bare 7-digit local number would become a wrong international key.
    """
    text = clean_text(phone)
    if text is None:
        return None
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _phone_in(value: object, ctx: TransformContext) -> str | None:
    text = clean_text(value)
    if text is None:
        return None
    e164 = to_e164(text, str(ctx.options.get("default_region", "US")))
    if e164 is None:
        ctx.warnings.append(f"{ctx.field}: unparseable phone {shorten(text)} dropped")
    return e164


# --- names -------------------------------------------------------------------------------

_WS_RE = re.compile(r"\s+")
_PARTS_RE = re.compile("([\\-'.\u2019])")  # hyphen, apostrophes, dot
_PARTICLES = frozenset(
    {
        "van",
        "von",
        "der",
        "den",
        "de",
        "del",
        "della",
        "da",
        "das",
        "dos",
        "du",
        "la",
        "le",
        "di",
        "ter",
        "ten",
        "zu",
        "af",
        "y",
    }
)


def _cap(part: str) -> str:
    if part.startswith("mc") and len(part) > 2:
        return "Mc" + part[2:].capitalize()
    return part.capitalize()


def _title_word(word: str) -> str:
    pieces = _PARTS_RE.split(word)
    return "".join(p if _PARTS_RE.fullmatch(p) else _cap(p) for p in pieces)


def clean_name(value: object) -> str | None:
    """Trimmed, whitespace-collapsed name; re-cased only when it was typed all in one case.

    Mixed case is trusted as the person wrote it ("deBoer", "McDonald"). For "JOHN O'NEIL"
    or "van der berg": words are capitalized around hyphens and apostrophes, "mc" gets the
    Scottish form, and nobility particles stay lowercase unless they are the last word.
    """
    text = clean_text(value)
    if text is None:
        return None
    text = _WS_RE.sub(" ", text)
    if not (text.islower() or text.isupper()):
        return text
    words = text.lower().split(" ")
    last = len(words) - 1
    return " ".join(
        w if (w in _PARTICLES and i != last) else _title_word(w) for i, w in enumerate(words)
    )


# --- full name (one tool field <-> first and last name) -----------------------------------


def split_full_name(value: object) -> tuple[str | None, str | None]:
    """``(first, last)`` from one full-name field, by a fixed rule so writes read back alike.

    The name is cleaned as :func:`clean_name` does; the last word is the last name, together
    with the nobility particles right before it ("Ludwig van Beethoven" -> "Ludwig",
    "van Beethoven"); everything before is the first name ("Mary Ann Smith" -> "Mary Ann",
    "Smith"). A single word is a first name. The first word always stays the first name.
    """
    text = clean_name(value)
    if text is None:
        return None, None
    words = text.split(" ")
    if len(words) == 1:
        return text, None
    cut = len(words) - 1
    while cut > 1 and words[cut - 1].lower() in _PARTICLES:
        cut -= 1
    # Each part is cleaned on its own as well: "karen Smith" gives "Karen", the first name
    # a tool with two name fields would read from "karen" (one canonical form per field).
    return clean_name(" ".join(words[:cut])), clean_name(" ".join(words[cut:]))


def join_full_name(first: str | None, last: str | None) -> str | None:
    """ "first last" from the parts that are known (one of them alone when the other is not)."""
    pieces = [p.strip() for p in (first, last) if p and p.strip()]
    return " ".join(pieces) or None


def _full_name_in(value: object, ctx: TransformContext) -> str | None:
    """The ``part`` asked for; without one (never in a mapping), the whole cleaned name."""
    part = ctx.options.get("part")
    if part not in ("first", "last"):
        return clean_name(value)
    first, last = split_full_name(value)
    return first if part == "first" else last


def _full_name_compose(pieces: Mapping[str, object]) -> object:
    first, last = pieces.get("first"), pieces.get("last")
    return join_full_name(
        first if isinstance(first, str) else None, last if isinstance(last, str) else None
    )


# --- country -----------------------------------------------------------------------------

_COUNTRY_ALIASES = {
    "usa": "US",
    "us": "US",
    "u.s.": "US",
    "u.s.a.": "US",
    "united states of america": "US",
    "america": "US",
    "uk": "GB",
    "u.k.": "GB",
    "great britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "deutschland": "DE",
    "holland": "NL",
    "the netherlands": "NL",
    "españa": "ES",
    "ivory coast": "CI",
    "korea": "KR",
    "republic of korea": "KR",
    "czech republic": "CZ",
    "russian federation": "RU",
}


@cache
def _country_lookup() -> dict[str, str]:
    """Lowercase English name or alias -> alpha-2 code."""
    lookup = {name.lower(): code for code, name in COUNTRY_NAMES.items()}
    lookup.update(_COUNTRY_ALIASES)
    return lookup


def country_code(value: object) -> str | None:
    """ISO 3166-1 alpha-2 code for a code, English name or common alias; else the trimmed text.

    Unknown text is kept rather than dropped: a human typed it and may fix it in the tool.
    """
    text = clean_text(value)
    if text is None:
        return None
    text = _WS_RE.sub(" ", text)
    if len(text) == 2 and text.upper() in COUNTRY_NAMES:
        return text.upper()
    return _country_lookup().get(text.lower(), text)


def country_name(code: str) -> str:
    """English name for a known alpha-2 code; other text passes through unchanged."""
    return COUNTRY_NAMES.get(code, code)


def _country_out(value: str, ctx: TransformContext) -> object:
    if ctx.options.get("format", "name") == "alpha2":
        return value
    return country_name(value)


# --- picklist ----------------------------------------------------------------------------

_KEY_RE = re.compile(r"[^0-9a-z]+")


def _pick_key(text: object) -> str:
    """Loose key of a label; a JSON boolean (a tool's checkbox) is ``true``/``false``."""
    if isinstance(text, bool):
        return "true" if text else "false"
    return _KEY_RE.sub("", str(text).lower())


def _table(ctx: TransformContext) -> Mapping[str, object]:
    table = ctx.options.get("table")
    if not isinstance(table, Mapping):
        raise MappingError(f"{ctx.field}: picklist transform without a table")
    return table


def _tool_values(entry: object) -> list[object]:
    """A table entry: one tool value, or several that all read as the unified value (the
    first is the one written). Values are labels, or booleans for a tool's checkbox."""
    return list(entry) if isinstance(entry, list) else [entry]


def _picklist_in(value: object, ctx: TransformContext) -> str | None:
    """Tool label or internal value -> unified value, matching case and punctuation loosely.

    "Marketing Qualified Lead", "marketingqualifiedlead" and "marketing_qualified_lead" all
    land on the same unified value. An unknown label is dropped with a warning. A boolean
    reads as ``true``/``false`` (a checkbox mapped to states, such as an opt-out flag).
    """
    text = _pick_key(value) if isinstance(value, bool) else clean_text(value)
    if text is None:
        return None
    table = _table(ctx)
    key = _pick_key(text)
    for unified, entry in table.items():
        if key == _pick_key(unified) or key in map(_pick_key, _tool_values(entry)):
            return unified
    ctx.warnings.append(f"{ctx.field}: unknown picklist value {shorten(text)} dropped")
    return None


def _picklist_out(value: str, ctx: TransformContext) -> object:
    table = _table(ctx)
    try:
        return _tool_values(table[value])[0]
    except (KeyError, IndexError):
        raise MappingError(
            f"{ctx.field}: unified value {shorten(value)} has no entry in this tool's picklist"
        ) from None


# --- domain ------------------------------------------------------------------------------

_DOMAIN_RE = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_SCHEME_RE = re.compile(r"^[a-z][a-z0-9+.-]*://")


def normalize_domain(value: object) -> str | None:
    """Bare lowercase web domain (``acme.com``) from what people type into a domain field.

    Scheme, ``www.``, credentials, port, path, query and a trailing dot go. Anything that is
    still not a host name is None: a company's domain is descriptive, never the record's id.
    """
    text = clean_text(value)
    if text is None:
        return None
    host = _SCHEME_RE.sub("", text.lower())
    host = re.split(r"[/?#]", host, maxsplit=1)[0]
    host = host.rsplit("@", 1)[-1].split(":", 1)[0].strip().rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    return host if _DOMAIN_RE.match(host) else None


def _domain_in(value: object, ctx: TransformContext) -> str | None:
    """A domain, or the first valid one of a list (a helpdesk's ``domain_names``)."""
    values = value if isinstance(value, list) else [value]
    for item in values:
        domain = normalize_domain(item)
        if domain is not None:
            return domain
        if clean_text(item) is not None:
            ctx.warnings.append(f"{ctx.field}: invalid domain {shorten(item)} dropped")
    return None


def _domain_out(value: str, ctx: TransformContext) -> object:
    return [value] if ctx.options.get("list") else value


# --- registry ----------------------------------------------------------------------------


def _identity_out(value: str, ctx: TransformContext) -> object:
    return value


def _email_out(value: str, ctx: TransformContext) -> object:
    return normalize_email(value)


def _dropping(
    parse: Callable[[object, TransformContext], str | None],
) -> Callable[[object, TransformContext], str | None]:
    """A descriptive value that does not parse is dropped with a warning, never fatal."""

    def inbound(value: object, ctx: TransformContext) -> str | None:
        try:
            return parse(value, ctx)
        except MappingError as exc:
            ctx.warnings.append(f"{ctx.field}: {exc} dropped")
            return None

    return inbound


def _boolean_out(value: str, ctx: TransformContext) -> object:
    return value if ctx.options.get("as_text") else value == "true"


def _date_format(ctx: TransformContext) -> str | None:
    fmt = ctx.options.get("format")
    return str(fmt) if fmt else None


TRANSFORMS: dict[str, Transform] = {
    t.name: t
    for t in (
        Transform("text", lambda v, ctx: clean_text(v), _identity_out),
        Transform("email", lambda v, ctx: normalize_email(v), _email_out),
        Transform("phone_e164", _phone_in, _identity_out),
        Transform("name", lambda v, ctx: clean_name(v), _identity_out),
        Transform("country", lambda v, ctx: country_code(v), _country_out),
        Transform("picklist", _picklist_in, _picklist_out),
        Transform("domain", _domain_in, _domain_out),
        Transform(
            "number",
            _dropping(lambda v, ctx: canonical_number(v)),
            lambda v, ctx: number_out(v, as_text=bool(ctx.options.get("as_text"))),
        ),
        # A set of record ids (a reference to many); ``key`` picks the id in a list of objects,
        # ``within`` the list in a wrapping object.
        Transform(
            "id_list",
            _dropping(
                lambda v, ctx: canonical_ids(v, ctx.options.get("key"), ctx.options.get("within"))
            ),
            lambda v, ctx: ids_out(v, as_numbers=bool(ctx.options.get("as_numbers"))),
        ),
        Transform("boolean", _dropping(lambda v, ctx: canonical_boolean(v)), _boolean_out),
        Transform(
            "date",
            _dropping(lambda v, ctx: canonical_date(v, _date_format(ctx))),
            lambda v, ctx: date_out(v, _date_format(ctx)),
        ),
        # Read only in practice (ticket times): written back as the canonical ISO text.
        Transform("datetime", _dropping(lambda v, ctx: canonical_datetime(v)), _identity_out),
        Transform(
            "full_name",
            _full_name_in,
            _identity_out,
            parts=("first", "last"),
            compose=_full_name_compose,
        ),
    )
}
