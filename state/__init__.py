"""The state store of revsync: every table and every query (nothing else writes SQL).

Import the concept module you need (`state.links`, `state.journal`, ...); each holds plain
functions taking a `sqlmodel.Session`. `state.db` builds the engine and the transaction scope.
"""

__all__: list[str] = []
