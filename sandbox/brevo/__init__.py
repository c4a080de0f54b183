"""The Brevo imitation: routes, store, seed and fault hooks."""
