"""Heartbeats of components (leadtrail's own and a site's) and the system's health."""
