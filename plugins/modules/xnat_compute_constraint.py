#!/usr/bin/python
# Copyright: Contributors to the xnat_jupyterhub.deploy collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
---
module: xnat_compute_constraint
short_description: Manage an XNAT compute constraint (a Swarm placement rule for every notebook)
version_added: 1.0.0
description:
  - Makes sure XNAT applies a placement constraint on a Swarm node attribute to the notebooks it launches,
    on top of the constraints of the chosen hardware, or that it is gone.
  - XNAT identifies constraint configurations by id; this module identifies them by O(key), so it manages
    one constraint configuration per node attribute.
author:
  - XNAT JupyterHub deployment maintainers (@xnat-jupyterhub)
extends_documentation_fragment:
  - xnat_jupyterhub.deploy.xnat
attributes:
  check_mode:
    support: full
    description: Reports what would change and changes nothing.
  diff_mode:
    support: full
    description: Shows the constraint before and after.
  idempotent:
    support: full
    description: A second run with the same arguments reports no change.
options:
  key:
    description: A Swarm node attribute, for example V(node.labels.jupyter) or V(node.role).
    type: str
    required: true
  state:
    description: Whether the constraint exists.
    type: str
    choices: [present, absent]
    default: present
  values:
    description:
      - Values to compare the attribute with. Required to create the constraint.
      - XNAT emits one Swarm constraint per value and Swarm requires all of them, so V(IN) with more than
        one value can never be met; the module warns about that.
    type: list
    elements: str
  operator:
    description: V(IN) for equal (C(==)), V(NOT_IN) for not equal (C(!=)).
    type: str
    choices: [IN, NOT_IN]
    default: IN
  scopes:
    description:
      - Where the constraint applies. When creating, an omitted O(scopes) applies it everywhere; when updating,
        leaves the scopes as they are. When O(scopes) is given, a scope left out of it is open to everybody.
    type: dict
    suboptions:
      site:
        description: The site scope.
        type: dict
        suboptions:
          enabled:
            description: V(true) applies it for the whole site. Defaults to V(true) when O(scopes.site.ids) is empty.
            type: bool
          ids:
            description: Site ids for which it applies when not enabled for all.
            type: list
            elements: str
            default: []
      project:
        description: The project scope; its ids are XNAT project ids.
        type: dict
        suboptions:
          enabled:
            description:
              - V(true) applies it in every project; V(false) only in the projects in O(scopes.project.ids).
              - Defaults to V(true) when O(scopes.project.ids) is empty and to V(false) otherwise.
            type: bool
          ids:
            description: Project ids for which it applies when not enabled for all.
            type: list
            elements: str
            default: []
"""

EXAMPLES = r"""
---
- name: Run notebooks only on nodes labelled for them
  xnat_jupyterhub.deploy.xnat_compute_constraint:
    url: https://xnat.example.org
    auth_username: admin
    auth_password: "{{ vault_xnat_admin_password }}"
    key: node.labels.jupyter
    values: ["true"]
  delegate_to: localhost

- name: Keep notebooks off the managers
  xnat_jupyterhub.deploy.xnat_compute_constraint:
    url: https://xnat.example.org
    auth_username: admin
    auth_password: "{{ vault_xnat_admin_password }}"
    key: node.role
    operator: NOT_IN
    values: [manager]
  delegate_to: localhost
"""

RETURN = r"""
id:
  description: XNAT's id of the constraint; null when it does not exist (or, in check mode, before it is created).
  returned: always
  type: int
  sample: 2
constraint:
  description: The constraint after the module ran (as it would be, in check mode); empty when absent.
  returned: success
  type: dict
  contains:
    key:
      description: The node attribute.
      type: str
      sample: node.labels.jupyter
    operator:
      description: V(IN) or V(NOT_IN).
      type: str
      sample: IN
    values:
      description: The values, sorted.
      type: list
      elements: str
      sample: ["true"]
    scopes:
      description: Where it applies, per scope C(site) and C(project), each with C(enabled) and C(ids).
      type: dict
      sample: {site: {enabled: true, ids: []}, project: {enabled: true, ids: []}}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.xnat_jupyterhub.deploy.plugins.module_utils.xnat import (
    XnatRequestError,
    XnatRestClient,
    fail_module,
    xnat_argument_spec,
)
from ansible_collections.xnat_jupyterhub.deploy.plugins.module_utils.xnat_compute import (
    CONSTRAINT_SCOPE_KEYS,
    manage_compute_config,
    scope_option_spec,
    scopes_from_option,
    scopes_from_xnat,
    scopes_to_xnat,
    unsatisfiable_constraints,
)


def constraint_key(item):
    return (item.get("constraint") or {}).get("key")


def constraint_state(item):
    constraint = item.get("constraint") or {}
    return dict(
        key=constraint.get("key"),
        operator=constraint.get("operator") or "IN",
        values=sorted(str(v) for v in constraint.get("values") or []),
        scopes=scopes_from_xnat(item.get("scopes"), CONSTRAINT_SCOPE_KEYS),
    )


def desired_constraint(params):
    def desired(before):
        if not before and not params["values"]:
            raise XnatRequestError("compute constraint on {!r} does not exist; to create it, give values".format(
                params["key"]))
        after = dict(before) if before else dict(
            key=params["key"], operator="IN", values=[], scopes=scopes_from_option(None, CONSTRAINT_SCOPE_KEYS))
        after["operator"] = params["operator"]
        if params["values"] is not None:
            if not params["values"]:
                raise XnatRequestError("values must not be empty; XNAT rejects a constraint without values")
            after["values"] = sorted(set(params["values"]))
        if params["scopes"] is not None:
            after["scopes"] = scopes_from_option(params["scopes"], CONSTRAINT_SCOPE_KEYS)
        return after
    return desired


def constraint_body(state, item):
    body = dict(item)
    body["constraint"] = dict(item.get("constraint") or {}, key=state["key"], operator=state["operator"],
                              values=state["values"])
    body["scopes"] = scopes_to_xnat(state["scopes"], item.get("scopes"))
    return body


def main():
    argument_spec = xnat_argument_spec()
    argument_spec.update(
        key=dict(type="str", required=True, no_log=False),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        values=dict(type="list", elements="str"),
        operator=dict(type="str", default="IN", choices=["IN", "NOT_IN"]),
        scopes=scope_option_spec(CONSTRAINT_SCOPE_KEYS),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    client = XnatRestClient.from_module(module)
    try:
        result = manage_compute_config(module, client, "constraints", "compute constraints", module.params["key"],
                                       constraint_key, constraint_state, desired_constraint(module.params),
                                       constraint_body)
    except XnatRequestError as exc:
        fail_module(module, exc, client)
    for text in unsatisfiable_constraints([result["constraint"]] if result.get("constraint") else []):
        module.warn(f"Swarm can never satisfy {text}: XNAT turns it into one required constraint per value")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
