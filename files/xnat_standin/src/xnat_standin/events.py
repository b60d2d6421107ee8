"""Event tracking: what XNAT's activity tab polls at /xapi/event_tracking/{id} (contract §0.4 step 9)."""

from __future__ import annotations

import json
import logging
import sqlite3
from typing import Any

from .store import Store, now_ms

log = logging.getLogger(__name__)


class EventTracker:
    """Progress of one launch or stop under its event-tracking id; a no-op without an id."""

    def __init__(self, store: Store, key: str | None, user_id: int) -> None:
        self.store = store
        self.key = key
        self.user_id = user_id

    def _entries(self, key: str) -> list[dict[str, Any]]:
        row = self.store.event(key)
        if row is None or not row["payload"]:
            return []
        return json.loads(row["payload"]).get("entryList", [])

    def _record(self, status: str, message: str, progress: int, succeeded: bool | None) -> None:
        log.info("event %s: %s %s", self.key, status, message)
        key = self.key
        if not key:
            return
        entries = self._entries(key) + [{"status": status, "message": message, "progress": progress,
                                         "eventTime": now_ms()}]
        self.store.put_event(key, self.user_id, json.dumps({"entryList": entries}), succeeded,
                             message if succeeded is not None else None)

    def progress(self, message: str, progress: int) -> None:
        self._record("InProgress", message, progress, None)

    def succeed(self, message: str) -> None:
        self._record("Completed", message, 100, True)

    def fail(self, message: str) -> None:
        self._record("Failed", message, 100, False)


def event_json(row: sqlite3.Row) -> dict[str, Any]:
    """EventTrackingDataPojo as serialised with NON_NULL inclusion."""
    body = {"key": row["key"], "payload": row["payload"],
            "succeeded": None if row["succeeded"] is None else bool(row["succeeded"]),
            "finalMessage": row["final_message"]}
    return {key: value for key, value in body.items() if value is not None}
