"""Marketing consent: which recorded state wins, and which writes revsync may never make.

Tools rarely say *when* a person's consent changed (a record's modification time moves with
any edit, revsync's own writes included), so time cannot settle a disagreement safely. The
rules therefore order the states by how much they restrict:

- the golden value is the most restrictive state any linked record holds (``cleaned`` over
  ``unsubscribed`` over ``subscribed`` over ``never_asked``; the most recent breaks a tie), so
  an unsubscribe in one tool reaches every tool;
- a write may only take permission away: ``subscribed`` is never written over anything, and
  ``never_asked`` never over an opt-out, so revsync never (re-)subscribes anyone.

Lifting an opt-out is the person's act in each tool that holds it, never revsync's.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "CONSENT_FIELDS",
    "CONSENT_REASONS",
    "CONSENT_VALUES",
    "OPTED_OUT",
    "loosens",
    "restrictiveness",
]

CONSENT_FIELDS: Final = frozenset({"email_consent"})
"""Unified fields holding a consent state (one per channel)."""

CONSENT_REASONS: Final = {"email_consent_reason": "email_consent"}
"""Reason field -> the consent field it explains (what an emailing tool records with an
unsubscribe). A reason belongs to the state it was given with: it is taken from a record
holding the winning state, never from another, so an unsubscribe is never shown with a reason
given for something else."""

CONSENT_VALUES: Final = ("cleaned", "unsubscribed", "subscribed", "never_asked")
"""Every consent state, most restrictive first."""

OPTED_OUT: Final = frozenset({"cleaned", "unsubscribed"})
"""States in which no marketing email may be sent."""

# What a state lets a sender do: higher means more.
_PERMISSION: Final = {"cleaned": 0, "unsubscribed": 1, "never_asked": 2, "subscribed": 3}


def restrictiveness(value: str) -> int:
    """Survivorship rank of a consent state: higher wins; an unknown state ranks lowest."""
    try:
        return len(CONSENT_VALUES) - CONSENT_VALUES.index(value)
    except ValueError:
        return 0


def loosens(old: str | None, new: str | None) -> bool:
    """True when writing ``new`` over a tool's ``old`` state would grant more than it holds.

    A record with no state is taken as never asked: writing ``subscribed`` there is
    subscribing someone. Unknown states are never written over, nor written.
    """
    if new is None:
        return False
    before = _PERMISSION.get(old or "never_asked")
    after = _PERMISSION.get(new)
    if before is None or after is None:
        return True
    return after > before
