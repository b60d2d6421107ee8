"""SQLite persistence of everything the stand-in remembers across restarts."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE COLLATE NOCASE,
    email TEXT NOT NULL DEFAULT '',
    first_name TEXT NOT NULL DEFAULT '',
    last_name TEXT NOT NULL DEFAULT '',
    password_hash TEXT,
    enabled INTEGER NOT NULL DEFAULT 0,
    verified INTEGER NOT NULL DEFAULT 0,
    last_modified INTEGER NOT NULL,
    auth_method TEXT NOT NULL DEFAULT 'localdb',
    idp_password_hash TEXT
);
CREATE TABLE IF NOT EXISTS user_roles (
    user_id INTEGER NOT NULL REFERENCES users(id),
    role TEXT NOT NULL,
    PRIMARY KEY (user_id, role)
);
CREATE TABLE IF NOT EXISTS role_definitions (
    role TEXT PRIMARY KEY,
    description TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS alias_tokens (
    alias TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users(id),
    created INTEGER NOT NULL,
    expires INTEGER NOT NULL,
    valid INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS preferences (
    tool TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (tool, name)
);
CREATE TABLE IF NOT EXISTS site_config (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS compute_configs (
    kind TEXT NOT NULL,
    id INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE TABLE IF NOT EXISTS sequences (
    name TEXT PRIMARY KEY,
    last INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS projects (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    accessibility TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS project_members (
    project_id TEXT NOT NULL,
    username TEXT NOT NULL,
    PRIMARY KEY (project_id, username)
);
CREATE TABLE IF NOT EXISTS subjects (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    label TEXT NOT NULL,
    UNIQUE (project_id, label)
);
CREATE TABLE IF NOT EXISTS experiments (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    label TEXT NOT NULL,
    xsi_type TEXT NOT NULL,
    UNIQUE (project_id, label)
);
CREATE TABLE IF NOT EXISTS scans (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    experiment_id TEXT NOT NULL,
    scan_id TEXT NOT NULL,
    xsi_type TEXT NOT NULL,
    type TEXT NOT NULL DEFAULT '',
    UNIQUE (experiment_id, scan_id)
);
CREATE TABLE IF NOT EXISTS archive_resources (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    owner TEXT NOT NULL,
    label TEXT NOT NULL,
    UNIQUE (owner, label)
);
CREATE TABLE IF NOT EXISTS user_options (
    user_id INTEGER NOT NULL,
    servername TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (user_id, servername)
);
CREATE TABLE IF NOT EXISTS event_tracking (
    key TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL,
    payload TEXT,
    succeeded INTEGER,
    final_message TEXT,
    updated INTEGER NOT NULL
);
"""

# Columns added after a table's first release, added to databases made before them: (table, column, definition)
ADDED_COLUMNS = (
    ("users", "auth_method", "TEXT NOT NULL DEFAULT 'localdb'"),
    ("users", "idp_password_hash", "TEXT"),
)
# XNAT's name for accounts with an XNAT password, and the stand-in's OpenID plugin stand-in (contract §6)
LOCALDB, OPENID = "localdb", "openid"
AUTH_METHODS = (LOCALDB, OPENID)


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class User:
    id: int
    username: str
    email: str
    first_name: str
    last_name: str
    password_hash: str | None
    enabled: bool
    verified: bool
    last_modified: int
    auth_method: str = LOCALDB
    idp_password_hash: str | None = None  # only for OPENID accounts: the password at the stand-in's IdP

    def to_json(self) -> dict[str, Any]:
        """XNAT's user model (contract §2.1 body A); password fields are suppressed when secured."""
        return {
            "id": self.id,
            "username": self.username,
            "firstName": self.first_name,
            "lastName": self.last_name,
            "email": self.email,
            "secured": True,
            "lastModified": self.last_modified,
            "enabled": self.enabled,
            "verified": self.verified,
        }


USER_COLUMNS = ("id, username, email, first_name, last_name, password_hash, enabled, verified, last_modified,"
                " auth_method, idp_password_hash")


def _user(row: sqlite3.Row | None) -> User | None:
    if row is None:
        return None
    return User(
        id=row["id"], username=row["username"], email=row["email"], first_name=row["first_name"],
        last_name=row["last_name"], password_hash=row["password_hash"], enabled=bool(row["enabled"]),
        verified=bool(row["verified"]), last_modified=row["last_modified"], auth_method=row["auth_method"],
        idp_password_hash=row["idp_password_hash"],
    )


class Store:
    """One SQLite connection used from the event loop; every call is short."""

    def __init__(self, path: Path) -> None:
        # password hashes and the alias-token secrets inside user options live here: owner-only
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)
        for table, column, definition in ADDED_COLUMNS:
            if column not in {row["name"] for row in self._all(f"PRAGMA table_info({table})")}:
                self.db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")

    def close(self) -> None:
        self.db.close()

    def _one(self, sql: str, *args: Any) -> sqlite3.Row | None:
        return self.db.execute(sql, args).fetchone()

    def _all(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        return self.db.execute(sql, args).fetchall()

    # users

    def user_for_login(self, login: str) -> User | None:
        """Login lookup ignores case, like XNAT's XdatUserAuthDAO (see README, 'Username case')."""
        return _user(self._one(f"SELECT {USER_COLUMNS} FROM users WHERE username = ? COLLATE NOCASE", login))

    def user(self, username: str) -> User | None:
        """Path lookup is exact-case."""
        return _user(self._one(f"SELECT {USER_COLUMNS} FROM users WHERE username = ? COLLATE BINARY", username))

    def user_by_id(self, user_id: int) -> User | None:
        return _user(self._one(f"SELECT {USER_COLUMNS} FROM users WHERE id = ?", user_id))

    def usernames(self) -> list[str]:
        return [row[0] for row in self._all("SELECT username FROM users ORDER BY username COLLATE BINARY")]

    def create_user(self, username: str, email: str, first_name: str, last_name: str,
                    password_hash: str | None, enabled: bool, verified: bool, auth_method: str = LOCALDB,
                    idp_password_hash: str | None = None) -> User:
        cursor = self.db.execute(
            "INSERT INTO users (username, email, first_name, last_name, password_hash, enabled, verified,"
            " last_modified, auth_method, idp_password_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (username, email, first_name, last_name, password_hash, int(enabled), int(verified), now_ms(),
             auth_method, idp_password_hash),
        )
        # an INSERT sets lastrowid to the new row's id
        return self._stored_user(cursor.lastrowid)

    def update_user(self, user_id: int, **fields: Any) -> User:
        columns = {"email", "first_name", "last_name", "password_hash", "idp_password_hash", "enabled", "verified"}
        unknown = set(fields) - columns
        if unknown:
            raise ValueError(f"unknown user fields {unknown}")
        if fields:
            assignments = ", ".join(f"{name} = ?" for name in fields)
            values = [int(v) if isinstance(v, bool) else v for v in fields.values()]
            self.db.execute(
                f"UPDATE users SET {assignments}, last_modified = ? WHERE id = ?", (*values, now_ms(), user_id)
            )
        return self._stored_user(user_id)

    def _stored_user(self, user_id: int | None) -> User:
        """A user this connection has just written; the stand-in never deletes users, so it is there."""
        user = None if user_id is None else self.user_by_id(user_id)
        if user is None:
            raise LookupError(f"user {user_id} is not stored")
        return user

    # roles

    def roles(self, user_id: int) -> list[str]:
        return [row[0] for row in self._all("SELECT role FROM user_roles WHERE user_id = ? ORDER BY role", user_id)]

    def add_role(self, user_id: int, role: str) -> None:
        self.db.execute("INSERT OR IGNORE INTO user_roles (user_id, role) VALUES (?, ?)", (user_id, role))

    def remove_role(self, user_id: int, role: str) -> None:
        self.db.execute("DELETE FROM user_roles WHERE user_id = ? AND role = ?", (user_id, role))

    def users_with_role(self, role: str) -> list[str]:
        return [row[0] for row in self._all(
            "SELECT u.username FROM users u JOIN user_roles r ON r.user_id = u.id WHERE r.role = ?"
            " ORDER BY u.username COLLATE BINARY", role)]

    def role_map(self) -> dict[str, list[str]]:
        result: dict[str, list[str]] = {}
        for row in self._all("SELECT r.role, u.username FROM user_roles r JOIN users u ON r.user_id = u.id"
                             " ORDER BY r.role, u.username COLLATE BINARY"):
            result.setdefault(row[0], []).append(row[1])
        return result

    def role_definitions(self) -> dict[str, str]:
        return {row[0]: row[1] for row in self._all("SELECT role, description FROM role_definitions ORDER BY role")}

    def define_role(self, role: str, description: str) -> None:
        self.db.execute("INSERT OR IGNORE INTO role_definitions (role, description) VALUES (?, ?)",
                        (role, description))

    # alias tokens

    def add_alias_token(self, alias: str, secret_hash: str, user_id: int, expires: int) -> None:
        self.db.execute(
            "INSERT INTO alias_tokens (alias, secret_hash, user_id, created, expires) VALUES (?, ?, ?, ?, ?)",
            (alias, secret_hash, user_id, now_ms(), expires),
        )

    def alias_token(self, alias: str) -> sqlite3.Row | None:
        return self._one("SELECT rowid AS id, * FROM alias_tokens WHERE alias = ?", alias)

    def alias_token_by_id(self, token_id: int) -> sqlite3.Row | None:
        return self._one("SELECT rowid AS id, * FROM alias_tokens WHERE rowid = ?", token_id)

    def alias_tokens_of(self, user_id: int) -> list[sqlite3.Row]:
        return self._all("SELECT rowid AS id, * FROM alias_tokens WHERE user_id = ? ORDER BY rowid", user_id)

    def delete_alias_token(self, alias: str) -> None:
        """XNAT's invalidate deletes the token (HibernateAliasTokenService.invalidateToken)."""
        self.db.execute("DELETE FROM alias_tokens WHERE alias = ?", (alias,))

    def deactivate_alias_tokens(self, user_id: int) -> None:
        self.db.execute("UPDATE alias_tokens SET valid = 0 WHERE user_id = ?", (user_id,))

    # preferences and site configuration

    def preference(self, tool: str, name: str) -> str | None:
        row = self._one("SELECT value FROM preferences WHERE tool = ? AND name = ?", tool, name)
        return None if row is None else row[0]

    def set_preference(self, tool: str, name: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO preferences (tool, name, value) VALUES (?, ?, ?)", (tool, name, value))

    def site_config(self, name: str) -> str | None:
        row = self._one("SELECT value FROM site_config WHERE name = ?", name)
        return None if row is None else row[0]

    def set_site_config(self, name: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO site_config (name, value) VALUES (?, ?)", (name, value))

    # compute configurations (environments, hardware, constraints)

    def compute_configs(self, kind: str) -> list[tuple[int, dict]]:
        return [(row[0], json.loads(row[1]))
                for row in self._all("SELECT id, body FROM compute_configs WHERE kind = ? ORDER BY id", kind)]

    def compute_config(self, kind: str, config_id: int) -> dict | None:
        row = self._one("SELECT body FROM compute_configs WHERE kind = ? AND id = ?", kind, config_id)
        return None if row is None else json.loads(row[0])

    def add_compute_config(self, kind: str, body: dict) -> int:
        """Each kind has its own id sequence, and ids are never reused, as with XNAT's tables."""
        self.db.execute("INSERT INTO sequences (name, last) VALUES (?, 1)"
                        " ON CONFLICT (name) DO UPDATE SET last = last + 1", (kind,))
        row = self._one("SELECT last FROM sequences WHERE name = ?", kind)
        if row is None:  # the statement above has just written it
            raise LookupError(f"no id sequence for {kind}")
        config_id: int = row[0]
        self.db.execute("INSERT INTO compute_configs (kind, id, body) VALUES (?, ?, ?)",
                        (kind, config_id, json.dumps(body)))
        return config_id

    def replace_compute_config(self, kind: str, config_id: int, body: dict) -> None:
        self.db.execute("UPDATE compute_configs SET body = ? WHERE kind = ? AND id = ?",
                        (json.dumps(body), kind, config_id))

    def delete_compute_config(self, kind: str, config_id: int) -> None:
        self.db.execute("DELETE FROM compute_configs WHERE kind = ? AND id = ?", (kind, config_id))

    # archive data model

    def upsert_project(self, project_id: str, name: str, accessibility: str, members: list[str]) -> None:
        self.db.execute("INSERT OR REPLACE INTO projects (id, name, accessibility) VALUES (?, ?, ?)",
                        (project_id, name, accessibility))
        self.db.execute("DELETE FROM project_members WHERE project_id = ?", (project_id,))
        for member in members:
            self.db.execute("INSERT OR IGNORE INTO project_members VALUES (?, ?)", (project_id, member))

    def upsert_subject(self, subject_id: str | None, project_id: str, label: str) -> str:
        existing = self._one("SELECT id FROM subjects WHERE project_id = ? AND label = ?", project_id, label)
        subject_id = subject_id or (existing[0] if existing else self._next_id("subjects", "XNAT_S"))
        self.db.execute("INSERT OR REPLACE INTO subjects (id, project_id, label) VALUES (?, ?, ?)",
                        (subject_id, project_id, label))
        return subject_id

    def upsert_experiment(self, experiment_id: str | None, project_id: str, subject_id: str, label: str,
                          xsi_type: str) -> str:
        existing = self._one("SELECT id FROM experiments WHERE project_id = ? AND label = ?", project_id, label)
        experiment_id = experiment_id or (existing[0] if existing else self._next_id("experiments", "XNAT_E"))
        self.db.execute("INSERT OR REPLACE INTO experiments (id, project_id, subject_id, label, xsi_type)"
                        " VALUES (?, ?, ?, ?, ?)", (experiment_id, project_id, subject_id, label, xsi_type))
        return experiment_id

    def upsert_scan(self, experiment_id: str, scan_id: str, xsi_type: str, scan_type: str) -> None:
        self.db.execute(
            "INSERT INTO scans (experiment_id, scan_id, xsi_type, type) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (experiment_id, scan_id) DO UPDATE SET xsi_type = excluded.xsi_type, type = excluded.type",
            (experiment_id, scan_id, xsi_type, scan_type),
        )

    def _next_id(self, table: str, prefix: str) -> str:
        numbers = [int(row[0][len(prefix):]) for row in self._all(f"SELECT id FROM {table}")
                   if row[0].startswith(prefix) and row[0][len(prefix):].isdigit()]
        return f"{prefix}{max(numbers, default=0) + 1:05d}"

    def projects(self) -> list[sqlite3.Row]:
        return self._all("SELECT * FROM projects ORDER BY id")

    def project(self, project_id: str) -> sqlite3.Row | None:
        return self._one("SELECT * FROM projects WHERE id = ?", project_id)

    def project_members(self, project_id: str) -> list[str]:
        return [row[0] for row in self._all("SELECT username FROM project_members WHERE project_id = ?", project_id)]

    def subjects(self, project_id: str) -> list[sqlite3.Row]:
        return self._all("SELECT * FROM subjects WHERE project_id = ? ORDER BY label", project_id)

    def subject(self, subject_id: str) -> sqlite3.Row | None:
        return self._one("SELECT * FROM subjects WHERE id = ?", subject_id)

    def experiments(self, subject_id: str) -> list[sqlite3.Row]:
        return self._all("SELECT * FROM experiments WHERE subject_id = ? ORDER BY label", subject_id)

    def experiment(self, experiment_id: str) -> sqlite3.Row | None:
        return self._one("SELECT * FROM experiments WHERE id = ?", experiment_id)

    def scans(self, experiment_id: str) -> list[sqlite3.Row]:
        return self._all("SELECT * FROM scans WHERE experiment_id = ? ORDER BY id", experiment_id)

    def scan(self, scan_pk: int) -> sqlite3.Row | None:
        return self._one("SELECT * FROM scans WHERE id = ?", scan_pk)

    def subject_in_project(self, project_id: str, id_or_label: str) -> sqlite3.Row | None:
        """XNAT finds a project's subject by ID, then by label."""
        return self._one("SELECT * FROM subjects WHERE project_id = ? AND (id = ? OR label = ?)"
                         " ORDER BY id = ? DESC LIMIT 1", project_id, id_or_label, id_or_label, id_or_label)

    def experiment_in_project(self, project_id: str, id_or_label: str) -> sqlite3.Row | None:
        return self._one("SELECT * FROM experiments WHERE project_id = ? AND (id = ? OR label = ?)"
                         " ORDER BY id = ? DESC LIMIT 1", project_id, id_or_label, id_or_label, id_or_label)

    def project_experiments(self, project_id: str) -> list[sqlite3.Row]:
        return self._all("SELECT * FROM experiments WHERE project_id = ? ORDER BY label", project_id)

    def experiment_scan(self, experiment_id: str, scan_id: str) -> sqlite3.Row | None:
        return self._one("SELECT * FROM scans WHERE experiment_id = ? AND scan_id = ?", experiment_id, scan_id)

    def resource_id(self, owner: str, label: str) -> int:
        """The stable number XNAT would call xnat_abstractresource_id for a resource folder of `owner`."""
        self.db.execute("INSERT OR IGNORE INTO archive_resources (owner, label) VALUES (?, ?)", (owner, label))
        row = self._one("SELECT id FROM archive_resources WHERE owner = ? AND label = ?", owner, label)
        if row is None:  # the statement above has just written it
            raise LookupError(f"no resource id for {owner} {label}")
        resource_id: int = row[0]
        return resource_id

    def resource_label(self, owner: str, resource_id: int) -> str | None:
        row = self._one("SELECT label FROM archive_resources WHERE owner = ? AND id = ?", owner, resource_id)
        return None if row is None else row[0]

    # user options and event tracking

    def put_user_options(self, user_id: int, servername: str, body: dict) -> None:
        self.db.execute("INSERT OR REPLACE INTO user_options (user_id, servername, body) VALUES (?, ?, ?)",
                        (user_id, servername, json.dumps(body)))

    def user_options(self, user_id: int, servername: str) -> dict | None:
        row = self._one("SELECT body FROM user_options WHERE user_id = ? AND servername = ?", user_id, servername)
        return None if row is None else json.loads(row[0])

    def delete_user_options(self, user_id: int, servername: str) -> None:
        self.db.execute("DELETE FROM user_options WHERE user_id = ? AND servername = ?", (user_id, servername))

    def put_event(self, key: str, user_id: int, payload: str | None, succeeded: bool | None,
                  final_message: str | None) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO event_tracking (key, user_id, payload, succeeded, final_message, updated)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (key, user_id, payload, None if succeeded is None else int(succeeded), final_message, now_ms()),
        )

    def event(self, key: str) -> sqlite3.Row | None:
        return self._one("SELECT * FROM event_tracking WHERE key = ?", key)
