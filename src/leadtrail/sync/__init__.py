"""Sync from DynamoDB: stream reader, Lambda payloads, bulk imports, checksums, DLQ."""
