"""SQLite settings for the hub's database: fewer disk syncs per login.

A login commits to the hub database several times (the user, its roles, its server, its auth state);
in SQLite's default rollback-journal mode each commit syncs the disk at least twice.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

from sqlalchemy import event
from sqlalchemy.engine import Engine

if TYPE_CHECKING:
    from sqlalchemy.engine.interfaces import DBAPIConnection
    from sqlalchemy.pool import ConnectionPoolEntry


def _set_sqlite_pragmas(dbapi_connection: DBAPIConnection, _connection_record: ConnectionPoolEntry) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    cursor = dbapi_connection.cursor()
    try:
        # WAL: a commit appends to a log, and reads do not wait for writes. Stored in the file itself.
        cursor.execute("PRAGMA journal_mode=WAL")
        # NORMAL: in WAL mode, a sync at checkpoints instead of at every commit. The database survives any crash of
        # the hub process intact with every commit; a power loss or OS crash may lose the last commits, never the file.
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def tune_sqlite() -> None:
    """Apply the settings to every SQLite connection SQLAlchemy opens in this process from now on.

    Call it from jupyterhub_config.py, before JupyterHub opens its database. Other databases are left alone.
    WAL needs the database on a local filesystem (not NFS), as SQLite documents.
    """
    if not event.contains(Engine, "connect", _set_sqlite_pragmas):
        event.listen(Engine, "connect", _set_sqlite_pragmas)
