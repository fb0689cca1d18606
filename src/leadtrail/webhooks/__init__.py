"""Outbound webhooks: endpoints, the transactional outbox, signed delivery with retries."""
