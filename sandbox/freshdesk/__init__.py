"""The Freshdesk imitation: routes, store, seed and fault hooks."""
