"""The sync's domain logic, pure: what changed, which golden records it makes, what to write.

Beside ``mappings`` (one tool's records <-> the unified model) and ``matching`` (which
records are one person), this package decides the rest of a run without touching a database,
a network or Prefect: ``flows`` feeds it what ``state`` loaded and the connectors read, and
stores or sends what it returns.
"""

__all__: list[str] = []
