"""Call-tracking providers that post calls to leadtrail: signatures, payload mappings and
their per-site secrets."""
