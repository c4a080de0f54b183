"""The Aircall imitation: routes, store, seed and fault hooks."""
