"""Load a legacy :class:`~sandbox.seed.World` into the running sandbox (see :mod:`sandbox.world`).

Seeded records keep their ids and timestamps and skip API validation: they are what a messy
account already contains (broken emails included), not what the API would accept today.
"""

from __future__ import annotations

from typing import Any

from sandbox import world as world_mod
from sandbox.seed import World, to_tool_world
from sandbox.state import SandboxState

__all__ = ["load_world"]


def load_world(state: SandboxState, world: World | world_mod.World) -> dict[str, Any]:
    """Replace the seeded tools' data with `world`; faults, limits and the request log are kept."""
    full = world if isinstance(world, world_mod.World) else to_tool_world(world)
    return world_mod.load_world(state, full)
