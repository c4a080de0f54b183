"""The HubSpot imitation: routes, store, seed and fault hooks."""
