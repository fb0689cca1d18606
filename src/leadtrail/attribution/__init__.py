"""Multi-touch attribution: pure models and channel rules, and the report built on them."""
