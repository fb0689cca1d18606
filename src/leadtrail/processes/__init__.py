"""Several processes per machine: roles, the API-worker supervisor, cross-process cache
invalidation (docs/processes.md)."""
