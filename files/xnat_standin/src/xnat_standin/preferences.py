"""The plugin's preference bean (tool `jupyterhub`, contract §2.3) and the site settings it uses.

Values are stored as strings, the way XNAT's preference service keeps them, and typed on read.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from .responses import XnatErrorResponse
from .store import Store

TOOL = "jupyterhub"

# name -> (Java type, stored default)
JUPYTERHUB_PREFERENCES: dict[str, tuple[str, str]] = {
    "jupyterHubHostUrl": ("String", ""),
    "jupyterHubApiUrl": ("String", "http://172.17.0.1/jupyterhub/hub/api"),
    "jupyterHubToken": ("String", "secret-token"),
    "startTimeout": ("Integer", "180"),
    "stopTimeout": ("Integer", "60"),
    "startPollingInterval": ("Integer", "8"),
    "stopPollingInterval": ("Integer", "2"),
    "pathTranslationArchivePrefix": ("String", ""),
    "pathTranslationArchiveDockerPrefix": ("String", ""),
    "pathTranslationWorkspacePrefix": ("String", ""),
    "pathTranslationWorkspaceDockerPrefix": ("String", ""),
    "workspacePath": ("String", "/data/xnat/workspaces"),
    "inactivityTimeout": ("Long", "60"),
    "maxServerLifetime": ("Long", "48"),
    "maxNamedServers": ("Integer", "1"),
    "allUsersCanStartJupyter": ("Boolean", "false"),
    "dockerImages": ("List", '[{"image":"jupyter/scipy-notebook:hub-3.0.0","enabled":"true"}]'),
    "containerSpecLabels": ("Map", "{}"),
    "placementSpecConstraints": ("List", "[]"),
    "resourceSpecCpuLimit": ("Double", "0"),
    "resourceSpecCpuReservation": ("Double", "0"),
    "resourceSpecMemLimit": ("String", ""),
    "resourceSpecMemReservation": ("String", ""),
}

# XNAT site settings the stand-in knows about: name -> (type, default)
SITE_CONFIG: dict[str, tuple[str, str]] = {
    "siteId": ("String", "XNAT"),
    "siteUrl": ("String", ""),
    "processingUrl": ("String", ""),
    "aliasTokenTimeout": ("String", "2 days"),
    "restrictUserListAccessToAdmins": ("Boolean", "true"),
    "passwordComplexity": ("String", "^.*$"),
    "passwordComplexityMessage": ("String", "Password is not sufficiently complex."),
}

_JAVA_INT = re.compile(r"[+-]?\d+")
_LIMITS = {"Integer": 2**31, "Long": 2**63}


class UnreadablePreference(XnatErrorResponse):
    """A stored value its Java getter cannot parse: NumberFormatException, so HTTP 500."""


def java_to_string(value: Any) -> str:
    """Object.toString() of what Jackson makes of a JSON scalar."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isfinite(value) and value == int(value) and abs(value) < 1e7:
            return f"{value:.1f}"
        return repr(value)
    return str(value)


def typed_value(java_type: str, raw: str, name: str) -> Any:
    """The value the bean's typed getter returns for a stored string."""
    if java_type == "String":
        return raw
    if java_type == "Boolean":
        return raw.strip().lower() == "true"  # Boolean.parseBoolean: anything else is false
    if java_type in _LIMITS:
        if not _JAVA_INT.fullmatch(raw) or not -_LIMITS[java_type] <= int(raw) < _LIMITS[java_type]:
            raise UnreadablePreference(f'For input string: "{raw}" (preference {name})')
        return int(raw)
    if java_type == "Double":
        try:
            return float(raw.strip())
        except ValueError as exc:
            raise UnreadablePreference(f'For input string: "{raw}" (preference {name})') from exc
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise UnreadablePreference(f"Unable to parse preference {name} as JSON") from exc
    expected = list if java_type == "List" else dict
    if not isinstance(parsed, expected):
        raise UnreadablePreference(f"Preference {name} does not hold a {java_type}")
    if name == "dockerImages":
        parsed = [dict(item, enabled=typed_value("Boolean", str(item.get("enabled", "")), name))
                  if isinstance(item, dict) else item for item in parsed]
    return parsed


class Preferences:
    def __init__(self, store: Store) -> None:
        self.store = store

    def initialise(self) -> None:
        """Store each default once, as XNAT's preference bean does on first start."""
        for name, (_java_type, default) in JUPYTERHUB_PREFERENCES.items():
            if self.store.preference(TOOL, name) is None:
                self.store.set_preference(TOOL, name, default)
        for name, (_java_type, default) in SITE_CONFIG.items():
            if self.store.site_config(name) is None:
                self.store.set_site_config(name, default)

    def raw(self, name: str) -> str:
        value = self.store.preference(TOOL, name)
        return JUPYTERHUB_PREFERENCES[name][1] if value is None else value

    def get(self, name: str) -> Any:
        return typed_value(JUPYTERHUB_PREFERENCES[name][0], self.raw(name), name)

    def all(self) -> dict[str, Any]:
        return {name: self.get(name) for name in JUPYTERHUB_PREFERENCES}

    def set_raw(self, name: str, value: str) -> None:
        self.store.set_preference(TOOL, name, value)

    def set_from_json(self, name: str, value: Any) -> None:
        """Bulk POST semantics: lists and maps through their setters, scalars via toString()."""
        if isinstance(value, (list, dict)):
            self.set_raw(name, json.dumps(value))
        else:
            self.set_raw(name, java_to_string(value))

    def site(self, name: str) -> Any:
        java_type, default = SITE_CONFIG[name]
        raw = self.store.site_config(name)
        return typed_value(java_type, default if raw is None else raw, name)

    def set_site(self, name: str, value: str) -> None:
        self.store.set_site_config(name, value)

    def alias_token_lifetime(self) -> int:
        return parse_duration(self.site("aliasTokenTimeout"))


_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 604800}


def parse_duration(text: str) -> int:
    """Seconds in an XNAT interval such as '2 days' or '12 hours'; unknown text means 2 days."""
    match = re.fullmatch(r"\s*(\d+)\s*([a-z]+?)s?\s*", text.lower())
    if match and match.group(2) in _UNITS:
        return int(match.group(1)) * _UNITS[match.group(2)]
    return 2 * 86400
