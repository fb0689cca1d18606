"""A/B and multivariate experiments: pure statistics, deterministic assignment, the service
that stores tests and exposures, and the named queries that aggregate sufficient statistics."""
