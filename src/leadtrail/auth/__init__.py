"""Users, passwords, API keys, dashboard sessions, and the claims a caller gets."""
