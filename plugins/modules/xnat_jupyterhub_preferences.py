#!/usr/bin/python
# Copyright: Contributors to the xnat_jupyterhub.deploy collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
---
module: xnat_jupyterhub_preferences
short_description: Set the XNAT JupyterHub plugin's preferences
version_added: 1.0.0
description:
  - Sets any subset of the preferences of XNAT's JupyterHub plugin (tool id C(jupyterhub)), such as where the hub is,
    the hub's API token, path translation, timeouts and limits. Preferences not named are left as they are.
  - XNAT accepts unknown preference names and silently ignores them. This module checks every name against
    the names XNAT reports and fails on an unknown one, listing the valid names.
  - Values are checked against the preference's type and compared after normalisation, so V("180") equals
    V(180) and V("true") equals V(true). Only preferences whose value differs are sent.
  - After writing, the module reads the preferences back and fails if XNAT did not store a value.
author:
  - XNAT JupyterHub deployment maintainers (@xnat-jupyterhub)
extends_documentation_fragment:
  - xnat_jupyterhub.deploy.xnat
attributes:
  check_mode:
    support: full
    description: Reports what would change and writes nothing.
  diff_mode:
    support: full
    description: Shows the named preferences before and after; the token only as a placeholder.
  idempotent:
    support: full
    description: A second run with the same values reports no change.
options:
  preferences:
    description:
      - Preference names, exactly as XNAT spells them, mapped to their values.
      - Names this module knows, with their types, are
        C(jupyterHubHostUrl) (str, the base of browser links, without C(/jupyterhub)),
        C(jupyterHubApiUrl) (str, must include C(/jupyterhub/hub/api)),
        C(startTimeout), C(stopTimeout) (int, seconds, at least 1),
        C(startPollingInterval), C(stopPollingInterval) (int, seconds, at least 1),
        C(pathTranslationArchivePrefix), C(pathTranslationArchiveDockerPrefix),
        C(pathTranslationWorkspacePrefix), C(pathTranslationWorkspaceDockerPrefix)
        (str, set both halves of a pair or neither),
        C(workspacePath) (str), C(inactivityTimeout) (int, minutes, V(0) disables),
        C(maxServerLifetime) (int, hours, V(0) disables), C(maxNamedServers) (int, at least 1),
        C(allUsersCanStartJupyter) (bool).
      - Other names XNAT reports are accepted with the type of their current value.
      - C(jupyterHubToken) is not accepted here; use O(jupyterhub_token).
    type: dict
    default: {}
  jupyterhub_token:
    description:
      - The hub's API token for its C(xnat) service, stored as the preference C(jupyterHubToken).
        Never logged, shown in a diff or returned. Left as it is when not given.
    type: str
notes:
  - XNAT overwrites a preference at every start-up when the matching C(JH_XNAT_*) environment variable of the
    XNAT process is set; do not set both.
"""

EXAMPLES = r"""
---
- name: Point XNAT at the hub
  xnat_jupyterhub.deploy.xnat_jupyterhub_preferences:
    url: https://xnat.example.org
    auth_username: admin
    auth_password: "{{ vault_xnat_admin_password }}"
    jupyterhub_token: "{{ vault_hub_service_token }}"
    preferences:
      jupyterHubHostUrl: https://xnat.example.org
      jupyterHubApiUrl: http://hub.internal:8000/jupyterhub/hub/api
      startTimeout: 300
      allUsersCanStartJupyter: false
      pathTranslationArchivePrefix: /data/xnat/archive
      pathTranslationArchiveDockerPrefix: /srv/xnat/archive
  delegate_to: localhost
"""

RETURN = r"""
preferences:
  description:
    - All JupyterHub plugin preferences as XNAT reports them after the module ran (before, in check mode).
    - The token is replaced by a placeholder.
  returned: success
  type: dict
  contains:
    jupyterHubHostUrl:
      description: Base URL of browser links to notebooks.
      type: str
      sample: https://xnat.example.org
    jupyterHubApiUrl:
      description: Base URL of XNAT's calls to the hub API.
      type: str
      sample: http://hub.internal:8000/jupyterhub/hub/api
    jupyterHubToken:
      description: Always a placeholder, never the token.
      type: str
      sample: <hidden>
    startTimeout:
      description: Seconds XNAT waits for a server to become ready.
      type: int
      sample: 180
    allUsersCanStartJupyter:
      description: Whether every user may use JupyterHub.
      type: bool
      sample: false
changed_preferences:
  description: Names of the preferences that were (or, in check mode, would be) changed, sorted.
  returned: always
  type: list
  elements: str
  sample: [jupyterHubApiUrl, startTimeout]
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.module_utils.six import integer_types, string_types

from ansible_collections.xnat_jupyterhub.deploy.plugins.module_utils.xnat import (
    SECRET_CHANGED,
    SECRET_UNCHANGED,
    XnatRequestError,
    XnatRestClient,
    fail_module,
    xnat_argument_spec,
)

TOKEN = "jupyterHubToken"

# name -> (type, smallest allowed value); types follow the plugin's JupyterHubPreferences bean.
KNOWN_PREFERENCES = {
    "jupyterHubHostUrl": ("url", None),
    "jupyterHubApiUrl": ("url", None),
    "startTimeout": ("int", 1),
    "stopTimeout": ("int", 1),
    "startPollingInterval": ("int", 1),
    "stopPollingInterval": ("int", 1),
    "pathTranslationArchivePrefix": ("str", None),
    "pathTranslationArchiveDockerPrefix": ("str", None),
    "pathTranslationWorkspacePrefix": ("str", None),
    "pathTranslationWorkspaceDockerPrefix": ("str", None),
    "workspacePath": ("str", None),
    "inactivityTimeout": ("int", 0),
    "maxServerLifetime": ("int", 0),
    # XNAT's REST path skips the bean's own check; 0 would make every launch fail.
    "maxNamedServers": ("int", 1),
    "allUsersCanStartJupyter": ("bool", None),
    "dockerImages": ("list", None),
    "containerSpecLabels": ("dict", None),
    "placementSpecConstraints": ("list", None),
    "resourceSpecCpuLimit": ("float", 0),
    "resourceSpecCpuReservation": ("float", 0),
    "resourceSpecMemLimit": ("str", None),
    "resourceSpecMemReservation": ("str", None),
}

# XNAT translates paths only when both halves of a pair are set, and silently does nothing otherwise.
PATH_PAIRS = (
    ("pathTranslationArchivePrefix", "pathTranslationArchiveDockerPrefix"),
    ("pathTranslationWorkspacePrefix", "pathTranslationWorkspaceDockerPrefix"),
)


def type_of_value(value):
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, integer_types):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "dict"
    if isinstance(value, string_types):
        return "str"
    return "any"


def normalise(kind, value):
    """Value as the preference's type; raises ValueError with the reason when it cannot be one."""
    if kind == "any":
        return value
    if kind == "bool":
        try:
            return boolean(value, strict=True)
        except TypeError as exc:
            raise ValueError("must be a boolean") from exc
    if kind == "int":
        if isinstance(value, bool):
            raise ValueError("must be an integer")
        if isinstance(value, integer_types):
            return int(value)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, string_types) and value.strip().lstrip("-").isdigit():
            return int(value.strip())
        raise ValueError("must be an integer")
    if kind == "float":
        if isinstance(value, bool):
            raise ValueError("must be a number")
        try:
            return float(value)
        except (TypeError, ValueError) as exc:
            raise ValueError("must be a number") from exc
    if kind in ("str", "url"):
        if value is None:
            return ""
        if not isinstance(value, string_types):
            raise ValueError("must be a string")
        if kind == "url" and value and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value
    if kind == "list" and not isinstance(value, list):
        raise ValueError("must be a list")
    if kind == "dict" and not isinstance(value, dict):
        raise ValueError("must be a mapping")
    return value


def kind_of(name, current):
    if name in KNOWN_PREFERENCES:
        return KNOWN_PREFERENCES[name][0]
    return type_of_value(current.get(name))


def validate(requested, current):
    """Normalised requested values; raises XnatRequestError naming every bad preference before anything is written."""
    if TOKEN in requested:
        raise XnatRequestError(f"{TOKEN} is a secret: set it with the jupyterhub_token option, which is never logged")
    unknown = sorted(name for name in requested if name not in current)
    if unknown:
        raise XnatRequestError("unknown JupyterHub preference(s): {}. Valid names: {}".format(
            ", ".join(unknown), ", ".join(sorted(n for n in current if n != TOKEN))))
    problems = []
    desired = {}
    for name in sorted(requested):
        kind = kind_of(name, current)
        try:
            value = normalise(kind, requested[name])
        except ValueError as exc:
            problems.append(f"{name} {exc} (got {requested[name]!r})")
            continue
        minimum = KNOWN_PREFERENCES.get(name, (None, None))[1]
        if minimum is not None and value < minimum:
            problems.append(f"{name} must be at least {minimum} (got {requested[name]!r})")
            continue
        desired[name] = value
    for first, second in PATH_PAIRS:
        if first in desired or second in desired:
            merged = [desired.get(n, current.get(n)) or "" for n in (first, second)]
            if bool(merged[0]) != bool(merged[1]):
                problems.append(f"{first} and {second} must both be set or both be empty (XNAT ignores half a pair)")
    if problems:
        raise XnatRequestError("invalid JupyterHub preference value(s): " + "; ".join(problems))
    return desired


def current_normalised(current, names):
    values = {}
    for name in names:
        try:
            values[name] = normalise(kind_of(name, current), current.get(name))
        except ValueError:
            values[name] = current.get(name)
    return values


def masked(prefs, token_marker=SECRET_UNCHANGED):
    shown = dict(prefs)
    if TOKEN in shown:
        shown[TOKEN] = token_marker
    return shown


def main():
    argument_spec = xnat_argument_spec()
    argument_spec.update(
        preferences=dict(type="dict", default={}),
        jupyterhub_token=dict(type="str", no_log=True),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    token = module.params["jupyterhub_token"]
    client = XnatRestClient.from_module(module, secrets=[token])
    result = dict(changed=False, changed_preferences=[])
    try:
        current = client.get_jupyterhub_preferences()
        desired = validate(module.params["preferences"], current)
        before = current_normalised(current, desired)
        changes = dict((n, v) for n, v in desired.items() if before[n] != v)
        token_changes = token is not None and current.get(TOKEN) != token
        if token is not None and TOKEN not in current:
            raise XnatRequestError(f"XNAT does not report the preference {TOKEN}; is the JupyterHub plugin installed?")

        result["changed_preferences"] = sorted(list(changes) + ([TOKEN] if token_changes else []))
        result["changed"] = bool(result["changed_preferences"])
        result["preferences"] = masked(current)
        if result["changed"] and module._diff:
            shown_before = dict(before)
            shown_after = dict(before, **changes)
            if token is not None:
                shown_before[TOKEN] = SECRET_UNCHANGED
                shown_after[TOKEN] = SECRET_CHANGED if token_changes else SECRET_UNCHANGED
            result["diff"] = dict(before=shown_before, after=shown_after)
        if result["changed"] and not module.check_mode:
            body = dict(changes)
            if token_changes:
                body[TOKEN] = token
            client.set_jupyterhub_preferences(body)
            stored = client.get_jupyterhub_preferences()
            after = current_normalised(stored, changes)
            not_stored = sorted(n for n in changes if after[n] != changes[n])
            if token_changes and stored.get(TOKEN) != token:
                not_stored.append(TOKEN)
            if not_stored:
                raise XnatRequestError(
                    "XNAT answered 200 but did not store preference(s): {}".format(", ".join(not_stored)))
            result["preferences"] = masked(stored)
    except XnatRequestError as exc:
        fail_module(module, exc, client)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
