"""Behaviour and friction analytics: capture settings, storage of behaviour events through
the ingest writer, incremental daily rollups and the friction / click-map / scroll reports."""
