"""Everything that talks to PostgreSQL. Only this package imports the driver (asyncpg)."""

from leadtrail.storage.claims import Claims, DbRole
from leadtrail.storage.database import Connection, Database

__all__ = ["Claims", "Connection", "Database", "DbRole"]
