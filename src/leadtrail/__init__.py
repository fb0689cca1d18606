"""leadtrail: real-time visitor tracking, identity resolution and lead attribution on PostgreSQL."""

__version__ = "0.1.0"
