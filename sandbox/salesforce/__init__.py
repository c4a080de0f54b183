"""The Salesforce imitation: routes, store, seed and fault hooks."""
