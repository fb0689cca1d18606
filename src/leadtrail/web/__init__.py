"""HTTP layer: routes, error bodies, middleware, static files."""
