"""Value normalization and the named key functions blocking rules are written with.

Comparisons and blocking see values through one normalization (accents folded, lowercase,
collapsed whitespace), so "Müller " and "muller" are the same key. Phonetic codes come from
``jellyfish``; the nickname table is data, small and deliberately conservative.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

import jellyfish

__all__ = [
    "KEY_FUNCTIONS",
    "LEGAL_SUFFIXES",
    "NICKNAMES",
    "canonical_first_name",
    "company_core",
    "normalize",
    "parse_key",
]

_WS = re.compile(r"\s+")
_KEY = re.compile(r"^(\w+)\((\w+)\)$")

NICKNAMES: dict[str, str] = {
    nick: full
    for full, nicks in {
        "robert": ("bob", "rob", "bobby", "robbie"),
        "william": ("bill", "will", "billy", "liam"),
        "richard": ("dick", "rick", "rich"),
        "james": ("jim", "jimmy", "jamie"),
        "michael": ("mike", "mick", "mikey"),
        "elizabeth": ("liz", "beth", "lizzie", "betty", "eliza"),
        "katherine": ("kate", "kathy", "katie", "kat"),
        "catherine": ("cathy", "cat"),
        "jennifer": ("jen", "jenny"),
        "joseph": ("joe", "joey"),
        "thomas": ("tom", "tommy"),
        "charles": ("charlie", "chuck"),
        "daniel": ("dan", "danny"),
        "matthew": ("matt",),
        "anthony": ("tony",),
        "margaret": ("maggie", "peggy", "meg"),
        "andrew": ("andy", "drew"),
        "steven": ("steve",),
        "stephen": ("steph",),
        "edward": ("ed", "eddie", "ted"),
        "rebecca": ("becky", "becca"),
        "alexander": ("alex", "sasha"),
        "benjamin": ("ben", "benny"),
        "samuel": ("sam", "sammy"),
        "patricia": ("pat", "patty", "trish"),
        "susan": ("sue", "suzy"),
        "christopher": ("chris",),
        "jonathan": ("jon",),
        "nicholas": ("nick", "nico"),
        "timothy": ("tim",),
        "deborah": ("deb", "debbie"),
        "victoria": ("vicky", "tori"),
        "abigail": ("abby",),
        "gregory": ("greg",),
        "peter": ("pete",),
        "david": ("dave",),
        "kenneth": ("ken", "kenny"),
        "ronald": ("ron", "ronnie"),
        "donald": ("don", "donnie"),
        "lawrence": ("larry",),
        "jacob": ("jake",),
        "zachary": ("zach", "zack"),
        "frederick": ("fred", "freddie"),
    }.items()
    for nick in nicks
}


def normalize(value: str | None) -> str:
    """Folded, lowercase, single-spaced text; "" for missing (the matcher's null)."""
    if value is None:
        return ""
    text = unicodedata.normalize("NFKD", value)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return _WS.sub(" ", text.lower()).strip()


def canonical_first_name(name: str) -> str:
    """The formal first name behind a nickname ("bob" -> "robert"), else the name."""
    return NICKNAMES.get(name, name)


# Legal forms and filler words that say nothing about which company it is ("Acme Inc." and
# "ACME" are one company; "Acme Robotics" is another).
LEGAL_SUFFIXES: frozenset[str] = frozenset(
    {
        "ag", "bv", "co", "company", "corp", "corporation", "gmbh", "group", "inc",
        "incorporated", "limited", "llc", "llp", "lp", "ltd", "nv", "oy", "plc", "pty",
        "sa", "sarl", "sas", "spa", "srl", "the",
    }
)  # fmt: skip
_PUNCT = re.compile(r"[^\w\s]+")


def company_core(v: str) -> str:
    """A normalized company name without punctuation, legal forms and "the"."""
    words = _PUNCT.sub(" ", v.replace("&", " and ")).split()
    core = [w for w in words if w not in LEGAL_SUFFIXES]
    return " ".join(core or words)


def _first_word(v: str) -> str:
    return company_core(v).split(" ", 1)[0]


def _initial(v: str) -> str:
    return v[:1]


def _metaphone(v: str) -> str:
    return jellyfish.metaphone(v) if v else ""


def _soundex(v: str) -> str:
    return jellyfish.soundex(v) if v else ""


def _local(v: str) -> str:
    local, at, _ = v.partition("@")
    return local if at else ""


def _domain(v: str) -> str:
    _, at, domain = v.partition("@")
    return domain if at else ""


def _nick(v: str) -> str:
    return canonical_first_name(v)


def _digits7(v: str) -> str:
    digits = "".join(ch for ch in v if ch.isdigit())
    return digits[-7:] if len(digits) >= 7 else ""


KEY_FUNCTIONS: dict[str, Callable[[str], str]] = {
    "initial": _initial,
    "metaphone": _metaphone,
    "soundex": _soundex,
    "local": _local,
    "domain": _domain,
    "nick": _nick,
    "digits7": _digits7,
    "corp": company_core,
    "first_word": _first_word,
}


def parse_key(key: str) -> tuple[str | None, str]:
    """``"metaphone(last_name)"`` -> ("metaphone", "last_name"); a bare column -> (None, col)."""
    match = _KEY.match(key.strip())
    if match is None:
        return None, key.strip()
    fn, column = match.group(1), match.group(2)
    if fn not in KEY_FUNCTIONS:
        raise ValueError(f"unknown key function {fn!r}; known: {sorted(KEY_FUNCTIONS)}")
    return fn, column
