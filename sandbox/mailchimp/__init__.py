"""The Mailchimp imitation: routes, store, seed and fault hooks."""
