"""User-defined funnels: definitions, the pure step matcher, per-session ``conversion_funnels``
rows kept current, reports, and ``completed`` for other domains (experiment goals)."""
