"""The one world generator: a company's people and organizations, and the truth of who is who.

Every tool's seed module renders its own records from the same :class:`PeopleWorld`, so the
same person shows up in several tools with the overlaps and mess of real life, while the truth
(`"<tool>:<stream>:<record id>"` -> person or org id) is kept aside for tests and benchmarks.

People are stored column-wise in compact arrays and materialized as :class:`PersonTruth` on
access, so a million people take tens of MB, not GBs. Emails and phone numbers are unique per
person by construction (phones come from an injective function of the person's index).
Each tool gets its own `random.Random` derived from the seed and the tool's name: adding a
tool never changes another tool's data.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import random
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, overload

from sandbox.timefmt import ms_of

if TYPE_CHECKING:
    from sandbox.state import SandboxState

__all__ = [
    "ALL_TOOLS",
    "COUNTRY_NAMES",
    "LOOKALIKE_SHARE",
    "PHONE_STYLES",
    "SEED_ANCHOR",
    "TOOL_SEEDERS",
    "OrgTruth",
    "PeopleWorld",
    "PersonTruth",
    "ToolSeed",
    "ToolSeeder",
    "World",
    "broken_email",
    "company_core",
    "confusable_orgs",
    "format_phone",
    "generate_people",
    "generate_world",
    "load_world",
    "mess_company_name",
    "mess_domain",
    "mess_email",
    "mess_name",
    "nickname",
    "older_newer_timestamps",
    "pad_email",
    "random_phone_format",
    "record_times",
    "seeder",
]

logger = logging.getLogger(__name__)

SEED_ANCHOR = datetime(2026, 1, 1, tzinfo=UTC)
"""Default `now`, so a bare call is reproducible forever."""

ALL_TOOLS: tuple[str, ...] = (
    "hubspot",
    "mailchimp",
    "salesforce",
    "pipedrive",
    "brevo",
    "zendesk",
    "freshdesk",
    "intercom",
    "aircall",
)

TOOL_SEEDERS: dict[str, str] = {
    "hubspot": "sandbox.hubspot.seed",
    "mailchimp": "sandbox.mailchimp.seed",
    "salesforce": "sandbox.salesforce.seed",
    "pipedrive": "sandbox.pipedrive.seed",
    "brevo": "sandbox.brevo.seed",
    "zendesk": "sandbox.zendesk.seed",
    "freshdesk": "sandbox.freshdesk.seed",
    "intercom": "sandbox.intercom.seed",
    "aircall": "sandbox.aircall.seed",
}
"""Tool name -> module with ``render(world, rng)`` and ``load(state, seed)``, imported lazily."""

_FIRST = (
    "James", "Mary", "Robert", "Patricia", "Michael", "Jennifer", "William", "Linda",
    "David", "Elizabeth", "Richard", "Barbara", "Joseph", "Susan", "Thomas", "Jessica",
    "Charles", "Sarah", "Daniel", "Karen", "Matthew", "Nancy", "Anthony", "Margaret",
    "Katherine", "Andrew", "Jane", "Steven", "Emily", "Edward", "Rebecca", "Alexander",
    "Olivia", "Benjamin", "Sophie", "Lucas", "Amélie", "Yuki", "Priya", "Mateo",
    "Chloe", "Noah", "Fatima", "Liam", "Aisha", "Hannah", "Samuel", "Grace",
    "Nicholas", "Christopher", "Victoria", "Jonathan", "Zoë", "Björn", "Ingrid", "Kwame",
    "Mei", "Diego", "Lena", "Omar", "Chiara", "Tomás", "Anika", "Ravi",
)  # fmt: skip
_NICKNAMES = {
    "Robert": "Bob", "William": "Bill", "Richard": "Dick", "James": "Jim", "Michael": "Mike",
    "Elizabeth": "Liz", "Katherine": "Kate", "Jennifer": "Jen", "Joseph": "Joe",
    "Thomas": "Tom", "Charles": "Charlie", "Daniel": "Dan", "Matthew": "Matt",
    "Anthony": "Tony", "Margaret": "Maggie", "Andrew": "Andy", "Steven": "Steve",
    "Edward": "Ed", "Rebecca": "Becky", "Alexander": "Alex", "Benjamin": "Ben",
    "Samuel": "Sam", "Patricia": "Pat", "Susan": "Sue", "Nicholas": "Nick",
    "Christopher": "Chris", "Victoria": "Vicky", "Jonathan": "Jon",
}  # fmt: skip
_LAST = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
    "Rodriguez", "Martinez", "Hernandez", "Lopez", "Wilson", "Anderson", "Taylor", "Thomas",
    "Moore", "Jackson", "Martin", "Lee", "Thompson", "White", "Harris", "Clark", "Lewis",
    "Walker", "Young", "Allen", "King", "Wright", "Scott", "Green", "Baker", "Adams",
    "Nelson", "Hill", "Campbell", "Mitchell", "Roberts", "Carter", "Okonkwo", "Nakamura",
    "Müller", "Dubois", "Rossi", "Kowalski", "O'Brien", "Patel", "Nguyen", "Schmidt",
    "Van der Berg", "Johansson", "Fernández", "Costa", "Ivanova", "Kim", "Park", "Singh",
    "Mensah", "Haddad", "Novak", "Larsen", "Bianchi", "Yamamoto",
)  # fmt: skip
_FAMOUS_ORGS = (
    ("Acme Corp", "acme.io"), ("Globex", "globex.com"), ("Initech", "initech.net"),
    ("Umbrella Health", "umbrellahealth.com"), ("Stark Industries", "starkindustries.com"),
    ("Wayne Enterprises", "wayne-ent.com"), ("Hooli", "hooli.xyz"), ("Pied Piper", "piedpiper.io"),
    ("Vandelay Industries", "vandelay.co"), ("Soylent Foods", "soylentfoods.com"),
    ("Cyberdyne Systems", "cyberdyne.ai"), ("Tyrell Corp", "tyrell.dev"),
    ("Massive Dynamic", "massivedynamic.org"), ("Nakatomi Trading", "nakatomi.co.jp"),
    ("Oceanic Air", "oceanic-air.com"), ("Blue Sun", "bluesun.space"),
    ("Gringotts Finance", "gringotts.co.uk"), ("Bluth Company", "bluth.company"),
    ("Dunder Mifflin", "dundermifflin.com"), ("Wonka Confections", "wonka.ch"),
)  # fmt: skip
_ORG_WORDS = (
    "North", "Blue", "Bright", "Silver", "Iron", "Cedar", "Summit", "Harbor", "Nova", "Atlas",
    "Pine", "Lumen", "Vector", "Quartz", "Orbit", "Maple", "Falcon", "Zenith", "Coral", "Echo",
    "Granite", "Willow", "Aurora", "Beacon", "Delta", "Ember", "Frontier", "Horizon", "Juniper",
    "Keystone", "Meridian", "Oak", "Prairie", "Redwood", "Sterling", "Tidal", "Union", "Vista",
)  # fmt: skip
_ORG_NOUNS = (
    ("Analytics", "analytics"), ("Labs", "labs"), ("Logistics", "logistics"),
    ("Health", "health"), ("Software", "software"), ("Capital", "capital"),
    ("Foods", "foods"), ("Energy", "energy"), ("Media", "media"), ("Robotics", "robotics"),
    ("Consulting", "consulting"), ("Systems", "systems"), ("Studios", "studios"),
    ("Partners", "partners"), ("Networks", "networks"), ("Bio", "bio"),
)  # fmt: skip
_ORG_TLDS = ("com", "io", "co", "net", "ai", "dev", "org", "co.uk", "de", "fr")
_INDUSTRIES = (
    "Software", "Financial Services", "Healthcare", "Retail", "Manufacturing", "Media",
    "Logistics", "Education", "Energy", "Consulting", "Food & Beverage", "Biotechnology",
)  # fmt: skip
_PERSONAL_DOMAINS = ("gmail.com", "outlook.com", "yahoo.com", "proton.me", "icloud.com", "gmx.de")
_TITLES = (
    "CEO", "CTO", "VP Sales", "VP Marketing", "Head of Growth", "Marketing Manager",
    "Sales Director", "Account Executive", "Software Engineer", "Product Manager",
    "Operations Lead", "Customer Success Manager", "Data Analyst", "Office Manager",
    "Founder", "Consultant",
)  # fmt: skip
_LIFECYCLE = (
    "subscriber", "lead", "lead", "marketingqualifiedlead", "salesqualifiedlead",
    "opportunity", "customer", "customer", "evangelist", "other",
)  # fmt: skip
# (ISO code, country name, calling code, phone scheme, cities, NANP area codes)
_PLACES = (
    ("US", "United States", "1", "nanp",
     ("San Francisco", "New York", "Austin", "Chicago", "Seattle", "Boston"),
     ("415", "212", "512", "312", "206", "617", "646", "628", "737")),
    ("CA", "Canada", "1", "nanp", ("Toronto", "Vancouver", "Montreal"), ("416", "604", "514")),
    ("GB", "United Kingdom", "44", "gb", ("London", "Manchester", "Edinburgh"), ()),
    ("DE", "Germany", "49", "de", ("Berlin", "Munich", "Hamburg"), ()),
    ("FR", "France", "33", "fr", ("Paris", "Lyon", "Toulouse"), ()),
    ("AU", "Australia", "61", "au", ("Sydney", "Melbourne"), ()),
)  # fmt: skip
_PLACE_CUM = (60, 68, 80, 88, 95, 100)
COUNTRY_NAMES: dict[str, str] = {p[0]: p[1] for p in _PLACES}
"""ISO alpha-2 -> English country name (what CRMs usually hold in a free-text field)."""

# National significant number per (scheme, kind): prefix + zero-padded injective index.
# Kinds are disjoint ranges, so a person's landline, mobile and an org's phone never collide.
_NUMBER_PLANS: dict[str, dict[str, tuple[str, int]]] = {
    "nanp": {"landline": ("2", 6), "mobile": ("6", 6), "org": ("9", 6)},
    "gb": {"landline": ("207", 7), "mobile": ("79", 8), "org": ("203", 7)},
    "de": {"landline": ("302", 7), "mobile": ("151", 8), "org": ("309", 7)},
    "fr": {"landline": ("14", 7), "mobile": ("6", 8), "org": ("18", 7)},
    "au": {"landline": ("29", 7), "mobile": ("4", 8), "org": ("28", 7)},
}
_WORK_STYLES = ("{f}.{l}", "{fi}{l}", "{f}", "{f}_{l}", "{f}{li}")
_WORK_STYLE_WEIGHTS = (3, 2, 1, 1, 1)
_PERSONAL_STYLES = ("{f}.{l}", "{f}{l}", "{f}_{l}", "{fi}{l}")
_LANDLINE_MOD = 4_000_000  # largest per-kind index range: world size limit for unique phones
_MOBILE_MOD = 3_000_000
MAX_PEOPLE = _MOBILE_MOD
_YEAR_MS = 365 * 24 * 3600 * 1000
_ASCII = str.maketrans(
    {"ü": "u", "é": "e", "ë": "e", "ö": "o", "ó": "o", "á": "a", "ñ": "n", "ø": "o", "'": "",
     " ": "", "-": ""}
)  # fmt: skip


def _ascii(text: str) -> str:
    return text.lower().translate(_ASCII)


@dataclass(frozen=True, slots=True)
class OrgTruth:
    """An organization as it really is; `phone` is E.164.

    `lookalike_of` names the org this one is easily mistaken for (same or near-same name,
    another country and domain): a distinct organization that matching must keep apart.
    """

    id: str
    name: str
    domain: str
    industry: str
    city: str
    country: str
    phone: str
    lookalike_of: str | None = None


@dataclass(frozen=True, slots=True)
class PersonTruth:
    """A person as they really are; tools hold messy copies of (parts of) this."""

    id: str
    first_name: str
    last_name: str
    work_email: str
    personal_email: str | None
    phone: str
    mobile: str | None
    org_id: str
    job_title: str
    city: str
    country: str
    lifecycle_stage: str
    created_at: datetime
    updated_at: datetime
    index: int = 0

    @property
    def org_index(self) -> int:
        return int(self.org_id[1:]) - 1


class _People(Sequence[PersonTruth]):
    """People column-wise in compact arrays; a :class:`PersonTruth` is built on access."""

    def __init__(self, orgs: list[OrgTruth], org_styles: bytes, now_ms: int) -> None:
        self._orgs = orgs
        self._org_styles = org_styles
        self._now_ms = now_ms
        self.first = array("B")
        self.last = array("B")
        self.org = array("I")
        self.place = array("B")
        self.city = array("B")
        self.area = array("B")
        self.title = array("B")
        self.stage = array("B")
        self.work_suffix = array("I")
        self.personal = array("B")  # 0: none, else 1 + domain index
        self.personal_style = array("B")
        self.personal_suffix = array("I")
        self.has_mobile = array("B")
        self.created = array("q")
        self.updated = array("q")

    def __len__(self) -> int:
        return len(self.first)

    @overload
    def __getitem__(self, i: int) -> PersonTruth: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence[PersonTruth]: ...

    def __getitem__(self, i: int | slice) -> PersonTruth | Sequence[PersonTruth]:
        if isinstance(i, slice):
            return [self._person(j) for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self._person(i)

    def __iter__(self) -> Iterator[PersonTruth]:
        return (self._person(i) for i in range(len(self)))

    def _person(self, i: int) -> PersonTruth:
        first, last = _FIRST[self.first[i]], _LAST[self.last[i]]
        f, lname = _ascii(first), _ascii(last)
        org = self._orgs[self.org[i]]
        style = _WORK_STYLES[self._org_styles[self.org[i]]]
        work = _local(style, f, lname, self.work_suffix[i]) + "@" + org.domain
        personal = None
        if self.personal[i]:
            pstyle = _PERSONAL_STYLES[self.personal_style[i]]
            domain = _PERSONAL_DOMAINS[self.personal[i] - 1]
            personal = _local(pstyle, f, lname, self.personal_suffix[i]) + "@" + domain
        iso, _name, cc, scheme, cities, areas = _PLACES[self.place[i]]
        area = areas[self.area[i]] if areas else ""
        landline = (i * 7919 + 12_345) % _LANDLINE_MOD
        mobile = None
        if self.has_mobile[i]:
            mobile = _e164(cc, scheme, "mobile", (i * 104_729 + 777) % _MOBILE_MOD, area)
        return PersonTruth(
            id=f"p{i + 1:06d}",
            first_name=first,
            last_name=last,
            work_email=work,
            personal_email=personal,
            phone=_e164(cc, scheme, "landline", landline, area),
            mobile=mobile,
            org_id=org.id,
            job_title=_TITLES[self.title[i]],
            city=cities[self.city[i]],
            country=iso,
            lifecycle_stage=_LIFECYCLE[self.stage[i]],
            created_at=datetime.fromtimestamp(self.created[i] / 1000, UTC),
            updated_at=datetime.fromtimestamp(self.updated[i] / 1000, UTC),
            index=i,
        )


def _local(style: str, f: str, lname: str, suffix: int) -> str:
    local = style.format(f=f, l=lname, fi=f[:1], li=lname[:1])
    return local + str(suffix + 1) if suffix else local


def _e164(cc: str, scheme: str, kind: str, n: int, area: str = "") -> str:
    prefix, width = _NUMBER_PLANS[scheme][kind]
    if scheme == "nanp":
        exchange = int(prefix) * 100 + n // 10_000
        return f"+{cc}{area}{exchange:03d}{n % 10_000:04d}"
    return f"+{cc}{prefix}{n % 10**width:0{width}d}"


@dataclass
class PeopleWorld:
    """What every tool renders from: people, organizations, the clock and shared draws."""

    people: Sequence[PersonTruth]
    orgs: list[OrgTruth]
    now: datetime
    seed: int = 0

    @property
    def now_ms(self) -> int:
        return ms_of(self.now)

    def org(self, person: PersonTruth) -> OrgTruth:
        return self.orgs[person.org_index]

    def draw(self, person: PersonTruth, key: str) -> float:
        """A uniform [0, 1) fixed by (seed, person, key): lets tools correlate who they hold.

        E.g. HubSpot and Mailchimp both read ``draw(p, "crm-marketing")`` so that ~55% of people
        are in both; the world still decides nothing, each tool picks its own thresholds.
        """
        digest = hashlib.blake2b(
            f"{self.seed}:{key}:{person.index}".encode(), digest_size=7
        ).digest()
        return int.from_bytes(digest, "big") / 2**56


@dataclass
class ToolSeed:
    """One tool's generated records (in its store's own shape) and their truth."""

    streams: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    truth: dict[str, str] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {name: len(rows) for name, rows in self.streams.items()}


class ToolSeeder(Protocol):
    """What a ``sandbox/<tool>/seed.py`` module provides."""

    def render(self, world: PeopleWorld, rng: random.Random) -> ToolSeed: ...

    def load(self, state: SandboxState, seed: ToolSeed) -> None: ...


@dataclass
class World:
    """The people, each tool's seed and the merged truth."""

    people: PeopleWorld
    seeds: dict[str, ToolSeed] = field(default_factory=dict)
    truth: dict[str, str] = field(default_factory=dict)

    def counts(self) -> dict[str, Any]:
        """Flat ``<tool>_<stream>`` counts plus ``people``/``orgs`` and a per-tool breakdown."""
        out: dict[str, Any] = {
            "people": len(self.people.people),
            "orgs": len(self.people.orgs),
        }
        for tool, seed in self.seeds.items():
            for stream, n in seed.counts().items():
                out[f"{tool}_{stream}"] = n
        out["tools"] = {tool: seed.counts() for tool, seed in self.seeds.items()}
        return out


def _make_orgs(n: int, rng: random.Random) -> tuple[list[OrgTruth], bytes]:
    orgs: list[OrgTruth] = []
    styles = bytearray()
    used: set[str] = set()
    for j in range(n):
        if j < len(_FAMOUS_ORGS):
            name, domain = _FAMOUS_ORGS[j]
        else:
            word, (noun, slug) = rng.choice(_ORG_WORDS), rng.choice(_ORG_NOUNS)
            name = f"{word} {noun}"
            base, tld = f"{word.lower()}{slug}", rng.choice(_ORG_TLDS)
            domain, k = f"{base}.{tld}", 2
            while domain in used:
                domain, k = f"{base}{k}.{tld}", k + 1
            if k > 2:
                name = f"{name} {k - 1}"
        used.add(domain)
        place = _PLACES[_pick_place(rng.random())]
        orgs.append(_org(rng, j, name, domain, place, place[0]))
        styles.append(rng.choices(range(len(_WORK_STYLES)), _WORK_STYLE_WEIGHTS)[0])
    return orgs, bytes(styles)


def _pick_place(r: float) -> int:
    x = r * 100
    for k, bound in enumerate(_PLACE_CUM):
        if x < bound:
            return k
    return len(_PLACE_CUM) - 1


_CC_TLDS = {"US": "com", "CA": "ca", "GB": "co.uk", "DE": "de", "FR": "fr", "AU": "com.au"}
_LEGAL_FORMS: dict[str, tuple[str, ...]] = {
    "US": ("Inc.", "Inc", "LLC", "Corp.", "Corporation"),
    "CA": ("Inc.", "Ltd.", "Corp."),
    "GB": ("Ltd", "Limited", "PLC"),
    "DE": ("GmbH", "AG"),
    "FR": ("SAS", "SA"),
    "AU": ("Pty Ltd", "Ltd"),
}
_LEGAL_WORDS = frozenset(
    {"corp", "corporation", "inc", "llc", "ltd", "limited", "plc", "gmbh", "ag", "sa", "sas",
     "pty", "co", "company"}
)  # fmt: skip
LOOKALIKE_SHARE = 40
"""One look-alike org per this many orgs (at least 3): `Acme Corp` in the US and `Acme GmbH`."""


def _lookalikes(orgs: list[OrgTruth], seed: int) -> list[OrgTruth]:
    """Distinct orgs named like big existing ones, in another country, on another domain.

    Drawn from their own `random.Random`, after the people, and never anyone's employer, so
    no person and no other tool's record changes; the tools that hold companies render them.
    """
    rng = random.Random(f"revsync-world:{seed}:lookalikes")
    count = min(len(orgs) // 2, max(3, len(orgs) // LOOKALIKE_SHARE))
    pool = min(len(orgs), max(len(_FAMOUS_ORGS), 4 * count))
    used = {o.domain for o in orgs}
    out: list[OrgTruth] = []
    for k, base_index in enumerate(sorted(rng.sample(range(pool), count))):
        base = orgs[base_index]
        place = rng.choice([p for p in _PLACES if p[0] != base.country])
        iso = place[0]
        core = company_core(base.name)
        # Every kind in every world: the very same name, another legal form, a "Group".
        name = (base.name, f"{core} {rng.choice(_LEGAL_FORMS[iso])}", f"{core} Group")[k % 3]
        slug = _ascii(core)
        tld = _CC_TLDS[iso]
        candidates = [f"{slug}.{tld}", f"{slug}{iso.lower()}.{tld}", f"{slug}-group.{tld}"]
        domain = next((d for d in candidates if d not in used), "")
        n = 2
        while not domain:
            domain = f"{slug}{n}.{tld}" if f"{slug}{n}.{tld}" not in used else ""
            n += 1
        used.add(domain)
        j = len(orgs) + len(out)
        out.append(_org(rng, j, name, domain, place, iso, lookalike_of=base.id))
    return out


def _org(
    rng: random.Random,
    j: int,
    name: str,
    domain: str,
    place: Any,
    country: str,
    *,
    lookalike_of: str | None = None,
) -> OrgTruth:
    """The ``j``-th organization, in ``place`` (draws area, industry and city, in that order)."""
    area = rng.choice(place[5]) if place[5] else ""
    return OrgTruth(
        id=f"o{j + 1:06d}",
        name=name,
        domain=domain,
        industry=rng.choice(_INDUSTRIES),
        city=rng.choice(place[4]),
        country=country,
        phone=_e164(place[2], place[3], "org", j, area),
        lookalike_of=lookalike_of,
    )


def generate_people(people: int, seed: int, *, now: datetime | None = None) -> PeopleWorld:
    """The people and organizations alone (no tool), deterministic for (people, seed, now)."""
    if people < 0:
        raise ValueError("people must be >= 0")
    if people > MAX_PEOPLE:
        raise ValueError(f"at most {MAX_PEOPLE} people (unique phone numbers)")
    now = now or SEED_ANCHOR
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now_ms = ms_of(now)
    rng = random.Random(f"revsync-world:{seed}:people")
    n_orgs = max(len(_FAMOUS_ORGS), people // 25)
    orgs, org_styles = _make_orgs(n_orgs, rng)
    table = _People(orgs, org_styles, now_ms)
    org_place = bytes(next(k for k, p in enumerate(_PLACES) if p[0] == o.country) for o in orgs)
    rand = rng.random
    n_first, n_last, n_titles, n_stages = len(_FIRST), len(_LAST), len(_TITLES), len(_LIFECYCLE)
    n_domains, n_pstyles = len(_PERSONAL_DOMAINS), len(_PERSONAL_STYLES)
    ascii_first = [_ascii(x) for x in _FIRST]
    ascii_last = [_ascii(x) for x in _LAST]
    # Keyed by the rendered address (hash: tiny and, but for a 2**-64 clash, deterministic).
    work_seen: dict[int, int] = {}
    personal_seen: dict[int, int] = {}
    low = now_ms - _YEAR_MS
    span_end = now_ms - 60_000
    t = table
    for _ in range(people):
        fi = int(rand() * n_first)
        li = int(rand() * n_last)
        oi = int(n_orgs * rand() ** 2)  # a few big orgs, a long tail of small ones
        pi = org_place[oi] if rand() < 0.9 else _pick_place(rand())
        place = _PLACES[pi]
        t.first.append(fi)
        t.last.append(li)
        t.org.append(oi)
        t.place.append(pi)
        t.city.append(int(rand() * len(place[4])))
        t.area.append(int(rand() * len(place[5])) if place[5] else 0)
        t.title.append(int(rand() * n_titles))
        t.stage.append(int(rand() * n_stages))
        # Same rendered local part + domain -> next suffix (jane.doe, jane.doe2, ...).
        wkey = hash((_local(_WORK_STYLES[org_styles[oi]], ascii_first[fi], ascii_last[li], 0), oi))
        k = work_seen.get(wkey, 0)
        work_seen[wkey] = k + 1
        t.work_suffix.append(k)
        if rand() < 0.65:
            di, si = int(rand() * n_domains), int(rand() * n_pstyles)
            pkey = hash((_local(_PERSONAL_STYLES[si], ascii_first[fi], ascii_last[li], 0), di))
            k = personal_seen.get(pkey, 0)
            personal_seen[pkey] = k + 1
            t.personal.append(di + 1)
            t.personal_style.append(si)
            t.personal_suffix.append(k)
        else:
            t.personal.append(0)
            t.personal_style.append(0)
            t.personal_suffix.append(0)
        t.has_mobile.append(rand() < 0.5)
        created = low + int(rand() * (span_end - low))
        t.created.append(created)
        t.updated.append(created + int(rand() * (span_end - created)))
    # Appended after the people: nobody works there, so every person stays as drawn.
    orgs.extend(_lookalikes(orgs, seed))
    _mark_namesakes(orgs)
    return PeopleWorld(people=table, orgs=orgs, now=now, seed=seed)


def _mark_namesakes(orgs: list[OrgTruth]) -> None:
    """Orgs drawn with a name an earlier org has (`Nova Labs` on .io and on .de) are
    look-alikes of the first one too: different domains, different people."""
    first: dict[str, str] = {}
    for j, org in enumerate(orgs):
        seen = first.setdefault(org.name, org.id)
        if seen != org.id and org.lookalike_of is None:
            orgs[j] = replace(org, lookalike_of=seen)


def seeder(tool: str) -> ToolSeeder | None:
    """The tool's seed module, or None (logged) when it does not exist yet."""
    module_path = TOOL_SEEDERS.get(tool)
    if module_path is None:
        raise KeyError(f"unknown tool {tool!r}; one of {sorted(TOOL_SEEDERS)}")
    try:
        module: Any = importlib.import_module(module_path)
    except ModuleNotFoundError as exc:
        if exc.name not in (module_path, module_path.rpartition(".")[0]):
            raise
        logger.info("no seed module %s yet: %s skipped", module_path, tool)
        return None
    return module


def tool_rng(seed: int, tool: str) -> random.Random:
    """The tool's own stream of randomness: independent of which other tools are rendered."""
    return random.Random(f"revsync-world:{seed}:tool:{tool}")


def generate_world(
    people: int,
    seed: int,
    *,
    tools: Iterable[str] = ALL_TOOLS,
    now: datetime | None = None,
) -> World:
    """People, organizations and every available tool's records; pure and deterministic."""
    world = World(people=generate_people(people, seed, now=now))
    for tool in tools:
        module = seeder(tool)
        if module is None:
            continue
        rendered = module.render(world.people, tool_rng(seed, tool))
        world.seeds[tool] = rendered
        world.truth.update(rendered.truth)
    return world


def load_world(state: SandboxState, world: World) -> dict[str, Any]:
    """Replace each seeded tool's data with its records; other tools keep theirs."""
    for tool, rendered in world.seeds.items():
        module = seeder(tool)
        if module is not None:
            module.load(state, rendered)
    with state.lock:
        truth = getattr(state, "truth", None)
        if isinstance(truth, dict):
            prefixes = tuple(f"{tool}:" for tool in world.seeds)
            for key in [k for k in truth if k.startswith(prefixes)]:
                del truth[key]
            truth.update(world.truth)
    return world.counts()


# -- the shared mess: tools use these so the same person is messy in consistent ways -----------


def nickname(first: str) -> str | None:
    """The usual short form of a first name (`Robert` -> `Bob`), if there is one."""
    return _NICKNAMES.get(first)


def mess_name(rng: random.Random, name: str) -> str:
    """Sloppy case and whitespace, as typed in a hurry or imported from a spreadsheet."""
    return rng.choice((f"  {name.lower()}  ", name.upper(), f" {name}", name.lower(), f"{name} "))


def mess_email(rng: random.Random, email: str) -> str:
    """The same address with other letter case (`Jane.Doe@Acme.io`); same subscriber hash."""
    local, _, domain = email.partition("@")
    return rng.choice(
        (
            email.upper(),
            local.capitalize() + "@" + domain.capitalize(),
            ".".join(p.capitalize() for p in local.split(".")) + "@" + domain,
        )
    )


def pad_email(rng: random.Random, email: str) -> str:
    """Leading/trailing whitespace, as imports leave it."""
    return rng.choice((f"  {email}", f"{email} ", f" {email}  "))


_BROKEN = ("{u}@@{d}", "{u} @{d}", "{u}@{host}", "{u}.{d}", "{u}@{d}.")
_FAKE = ("{u}@example.com", "{u}@test.com", "test.{u}@example.com")


def broken_email(rng: random.Random, email: str) -> str:
    """A syntactically broken address or one on a fake domain that email tools reject."""
    local, _, domain = email.partition("@")
    pattern = rng.choice(_BROKEN + _FAKE)
    return pattern.format(u=local, d=domain, host=domain.split(".")[0])


def confusable_orgs(orgs: Iterable[OrgTruth]) -> set[str]:
    """Ids of orgs on either side of a look-alike pair. Tools keep a domain on their records:
    without one, nothing but the country would tell the two apart."""
    out: set[str] = set()
    for org in orgs:
        if org.lookalike_of is not None:
            out.update((org.id, org.lookalike_of))
    return out


def company_core(name: str) -> str:
    """The name without its trailing legal form (`Acme Corp` -> `Acme`, `Globex, Inc.` ->
    `Globex`); the name itself when nothing would be left."""
    words = name.replace(",", " ").split()
    while len(words) > 1 and words[-1].lower().rstrip(".") in _LEGAL_WORDS:
        words.pop()
    return " ".join(words)


def mess_company_name(rng: random.Random, name: str, country: str) -> str:
    """The same organization's name as someone else typed it: another legal form (`Acme
    Inc.`, `Acme, Inc`, `Acme GmbH`), none (`Acme`), capitals (`ACME CORP`). Never `name`."""
    core = company_core(name)
    form = rng.choice(_LEGAL_FORMS.get(country, _LEGAL_FORMS["US"]))
    options = [f"{core} {form}", core, name.upper(), core.upper()]
    if len(form.rstrip(".")) <= 4:
        options.append(f"{core}, {form.rstrip('.')}")  # "Acme, Inc", never "Acme, Limited"
    options = [o for o in options if o != name] or [f"{name} {form}"]
    return rng.choice(options)


def mess_domain(rng: random.Random, domain: str) -> str:
    """A web domain as typed into a CRM field: with scheme, `www.`, a trailing slash, capitals."""
    return rng.choice(
        (
            f"https://www.{domain}/",
            f"http://www.{domain}",
            f"www.{domain}",
            f"https://{domain}",
            domain.upper(),
            f"{domain}/",
        )
    )


PHONE_STYLES = ("e164", "international", "spaced", "national", "dotted", "parens", "digits", "00")
"""Ways people type a number: `+14155550100`, `+1 415-555-0100`, `+44 20 71 23 45 67`,
`020…`/`(415) 555 0100`, `415.555.0100`, `(415) 555 0100`, `4155550100`, `0044…`."""


def _split_e164(e164: str) -> tuple[str, str]:
    digits = e164.lstrip("+")
    cc = "1" if digits.startswith("1") else digits[:2]
    return cc, digits[len(cc) :]


def format_phone(e164: str, style: str) -> str:
    """The number `e164` written in one of :data:`PHONE_STYLES` (all parse back to it)."""
    cc, national = _split_e164(e164)
    if cc == "1":
        a, b, c = national[:3], national[3:6], national[6:]
        return {
            "e164": e164,
            "international": f"+1 {a}-{b}-{c}",
            "spaced": f"1-{a}-{b}-{c}",
            "national": f"({a}) {b}-{c}",
            "dotted": f"{a}.{b}.{c}",
            "parens": f"({a}) {b} {c}",
            "digits": f"{a}{b}{c}",
            "00": f"+1 ({a}) {b}-{c}",
        }[style]
    spaced = " ".join(national[i : i + 2] for i in range(0, len(national), 2))
    return {
        "e164": e164,
        "international": f"+{cc} {national}",
        "spaced": f"+{cc} {spaced}",
        "national": f"0{national}",
        "dotted": f"+{cc}.{national}",
        "parens": f"+{cc} (0){national}",
        "digits": f"0{national[:2]} {national[2:6]} {national[6:]}",
        "00": f"{'0011' if cc == '61' else '00'}{cc}{national}",
    }[style]


def random_phone_format(rng: random.Random, e164: str) -> str:
    """The number in a random style (national styles only for NANP, as people there type them)."""
    cc, _ = _split_e164(e164)
    if cc == "1":
        style = rng.choice(("international", "spaced", "dotted", "parens", "digits", "e164"))
    else:
        style = rng.choice(("e164", "international", "spaced", "national", "00", "parens"))
    return format_phone(e164, style)


def record_times(
    rng: random.Random, world: PeopleWorld, *, after_ms: int | None = None
) -> tuple[int, int]:
    """(created, modified) ms epoch in the year before `now`, modified >= created."""
    now_ms = world.now_ms
    low = now_ms - _YEAR_MS if after_ms is None else after_ms
    end = max(low + 1, now_ms - 60_000)
    created = rng.randrange(low, end)
    return created, rng.randrange(created, max(created + 1, end))


def older_newer_timestamps(rng: random.Random, world: PeopleWorld) -> tuple[int, int]:
    """Two distinct moments (older, newer): give the stale value one, the fresh value the other."""
    a, b = record_times(rng, world)
    if a == b:
        b = a + 1000
    return a, b
