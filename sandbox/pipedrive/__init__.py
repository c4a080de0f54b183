"""The Pipedrive imitation: routes, store, seed and fault hooks."""
