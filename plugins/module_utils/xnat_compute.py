# Copyright: Contributors to the xnat_jupyterhub.deploy collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the compute modules (environments, hardware) share: XNAT's scope shape and the keycloak-style flow."""

import copy

from ansible_collections.xnat_jupyterhub.deploy.plugins.module_utils.xnat import XnatRequestError

# Option name -> XNAT's scope key. XNAT requires all three on environments and hardware.
SCOPE_KEYS = (("site", "Site"), ("project", "Project"), ("user", "User"))
# Constraints are scoped by site and project only.
CONSTRAINT_SCOPE_KEYS = SCOPE_KEYS[:2]


def scope_option_spec(keys=SCOPE_KEYS):
    one_scope = dict(
        enabled=dict(type="bool"),
        ids=dict(type="list", elements="str", default=[]),
    )
    return dict(type="dict", options=dict((option, dict(type="dict", options=one_scope)) for option, _key in keys))


def scopes_from_option(scopes, keys=SCOPE_KEYS):
    """The module's `scopes` option; a scope without ids is open to all, a scope listing ids only to those."""
    state = {}
    for option, _key in keys:
        given = (scopes or {}).get(option) or {}
        ids = sorted(set(given.get("ids") or []))
        enabled = given.get("enabled")
        state[option] = dict(enabled=not ids if enabled is None else bool(enabled), ids=ids)
    return state


def scopes_from_xnat(xnat_scopes, keys=SCOPE_KEYS):
    state = {}
    for option, key in keys:
        scope = (xnat_scopes or {}).get(key) or {}
        state[option] = dict(enabled=bool(scope.get("enabled")), ids=sorted(str(i) for i in scope.get("ids") or []))
    return state


def scopes_to_xnat(state, base=None, keys=SCOPE_KEYS):
    """XNAT's scope map for `state`, keeping scopes this module does not manage (such as DataType) from `base`."""
    xnat_scopes = copy.deepcopy(base or {})
    for option, key in keys:
        if option in state:
            xnat_scopes[key] = dict(xnat_scopes.get(key) or {}, scope=key, enabled=state[option]["enabled"],
                                    ids=list(state[option]["ids"]))
    return xnat_scopes


def unsatisfiable_constraints(constraints):
    """Swarm requires every constraint, and XNAT emits one per value, so IN with several values never matches."""
    return ["{} IN {}".format(c["key"], ", ".join(c["values"])) for c in constraints
            if c.get("operator", "IN") == "IN" and len(c["values"]) > 1]


def pairs_from_xnat(items, key_field, value_field):
    """XNAT's [{key, value}] lists as a dict of strings."""
    return dict((str(i.get(key_field)), "" if i.get(value_field) is None else str(i.get(value_field)))
                for i in items or [])


def pairs_to_xnat(mapping, key_field, value_field):
    return [{key_field: k, value_field: mapping[k]} for k in sorted(mapping)]


def strings(mapping):
    return dict((str(k), "" if v is None else str(v)) for k, v in (mapping or {}).items())


def find_by_name(items, name, name_of, what):
    matches = [item for item in items if name_of(item) == name]
    if len(matches) > 1:
        raise XnatRequestError(("XNAT holds {:d} {} named {!r} (ids {}); "
                                "names must be unique for this module to manage them").format(
            len(matches), what, name, ", ".join(str(m.get("id")) for m in matches)))
    return matches[0] if matches else None


def manage_compute_config(module, client, kind, what, name, name_of, state_of, desired_state, body_of):
    """Read -> desired -> compare -> diff -> check mode -> apply -> re-read, for the compute config called `name`.

    name_of(item) gives the identifying name of an XNAT config; state_of(item) its comparable state;
    desired_state(before) the state the module's options ask for (before is {} when the config does not
    exist); body_of(state, item) the JSON to send, keeping fields of `item` the module does not manage.
    """
    result = dict(changed=False, id=None)
    current = find_by_name(client.list_compute(kind), name, name_of, what)
    before = state_of(current) if current else {}
    if current:
        result["id"] = current.get("id")

    if module.params["state"] == "absent":
        result[kind_key(kind)] = {}
        if current:
            result["changed"] = True
            if module._diff:
                result["diff"] = dict(before=before, after={})
            if not module.check_mode:
                client.delete_compute(kind, current["id"])
        return result

    after = desired_state(before)
    result[kind_key(kind)] = after
    if after == before:
        return result
    result["changed"] = True
    if module._diff:
        result["diff"] = dict(before=before, after=after)
    if module.check_mode:
        return result
    if current:
        client.update_compute(kind, current["id"], body_of(after, current))
    else:
        client.create_compute(kind, body_of(after, {}))
    stored = find_by_name(client.list_compute(kind), name, name_of, what)
    if not stored:
        raise XnatRequestError(f"XNAT accepted the {what} {name!r} but does not list it afterwards")
    result["id"] = stored.get("id")
    result[kind_key(kind)] = state_of(stored)
    return result


def kind_key(kind):
    return {"environments": "environment", "hardware": "hardware", "constraints": "constraint",
            "frameworks": "framework", "configs": "dashboard"}[kind]
