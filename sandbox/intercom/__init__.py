"""The Intercom imitation: routes, store, seed and fault hooks."""
