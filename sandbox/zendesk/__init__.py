"""The Zendesk imitation: routes, store, seed and fault hooks."""
