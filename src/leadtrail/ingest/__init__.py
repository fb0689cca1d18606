"""Ingest: tracker payloads → validated, enriched, scored, attributed events, written durably."""
