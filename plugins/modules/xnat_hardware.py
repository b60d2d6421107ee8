#!/usr/bin/python
# Copyright: Contributors to the xnat_jupyterhub.deploy collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
---
module: xnat_hardware
short_description: Manage an XNAT hardware configuration (a size users can pick for a notebook)
version_added: 1.0.0
description:
  - Makes sure XNAT offers a hardware configuration of this name, with these CPU and memory limits and
    reservations, Swarm placement constraints, generic resources and environment variables, or that it is gone.
  - XNAT identifies hardware configurations by id; this module identifies them by O(name), which must
    therefore be unique.
  - When updating, options that are not given keep their current values.
author:
  - XNAT JupyterHub deployment maintainers (@xnat-jupyterhub)
extends_documentation_fragment:
  - xnat_jupyterhub.deploy.xnat
  - xnat_jupyterhub.deploy.xnat.scopes
attributes:
  check_mode:
    support: full
    description: Reports what would change and changes nothing.
  diff_mode:
    support: full
    description: Shows the configuration before and after.
  idempotent:
    support: full
    description: A second run with the same arguments reports no change.
options:
  name:
    description: Name of the hardware configuration, shown to users in XNAT's launch dialog.
    type: str
    required: true
  state:
    description: Whether the configuration exists.
    type: str
    choices: [present, absent]
    default: present
  cpu_limit:
    description: Most CPUs a notebook may use, for example V(2) or V(0.5).
    type: float
  cpu_reservation:
    description: CPUs reserved for a notebook on its node.
    type: float
  memory_limit:
    description: Most memory a notebook may use, in Docker's notation, for example V(4G).
    type: str
  memory_reservation:
    description: Memory reserved for a notebook on its node, for example V(4G).
    type: str
  constraints:
    description:
      - Swarm placement constraints. Each becomes one C(key==value) (V(IN)) or C(key!=value) (V(NOT_IN)) per value,
        and Swarm requires all of them, so an V(IN) constraint with two values can never be met;
        the module warns about that.
    type: list
    elements: dict
    suboptions:
      key:
        description: A Swarm node attribute, for example V(node.role) or V(node.labels.gpu).
        type: str
        required: true
      values:
        description: Values to compare with.
        type: list
        elements: str
        required: true
      operator:
        description: V(IN) for equal, V(NOT_IN) for not equal.
        type: str
        choices: [IN, NOT_IN]
        default: IN
  environment_variables:
    description: Environment variables set in the notebook container, name to value.
    type: dict
  generic_resources:
    description: Swarm generic resources a notebook needs, name to value, for example C(gpu) to V(1).
    type: dict
"""

EXAMPLES = r"""
---
- name: Offer a small and a GPU size
  xnat_jupyterhub.deploy.xnat_hardware:
    url: https://xnat.example.org
    auth_username: admin
    auth_password: "{{ vault_xnat_admin_password }}"
    name: "{{ item.name }}"
    cpu_limit: "{{ item.cpu }}"
    cpu_reservation: "{{ item.cpu }}"
    memory_limit: "{{ item.memory }}"
    memory_reservation: "{{ item.memory }}"
    generic_resources: "{{ item.generic_resources | default({}) }}"
    constraints:
      - key: node.role
        values: [worker]
  loop:
    - {name: Small, cpu: 2, memory: 2G}
    - {name: GPU, cpu: 4, memory: 16G, generic_resources: {gpu: "1"}}
  delegate_to: localhost

- name: Offer the GPU size only in one project
  xnat_jupyterhub.deploy.xnat_hardware:
    url: https://xnat.example.org
    auth_username: admin
    auth_password: "{{ vault_xnat_admin_password }}"
    name: GPU
    scopes:
      project:
        ids: [NEURO01]
  delegate_to: localhost

- name: Stop offering the plugin's default XLarge size
  xnat_jupyterhub.deploy.xnat_hardware:
    url: https://xnat.example.org
    auth_username: admin
    auth_password: "{{ vault_xnat_admin_password }}"
    name: XLarge
    state: absent
  delegate_to: localhost
"""

RETURN = r"""
id:
  description: XNAT's id of the configuration; null when it does not exist (or, in check mode, before it is created).
  returned: always
  type: int
  sample: 3
hardware:
  description: The configuration after the module ran (as it would be, in check mode); empty when absent.
  returned: success
  type: dict
  contains:
    name:
      description: Name.
      type: str
      sample: Small
    cpu_limit:
      description: CPU limit.
      type: float
      sample: 2.0
    cpu_reservation:
      description: CPU reservation.
      type: float
      sample: 2.0
    memory_limit:
      description: Memory limit.
      type: str
      sample: 2G
    memory_reservation:
      description: Memory reservation.
      type: str
      sample: 2G
    constraints:
      description: Placement constraints, sorted by key and operator.
      type: list
      elements: dict
      sample: [{key: node.role, operator: IN, values: [worker]}]
    environment_variables:
      description: Environment variables.
      type: dict
      sample: {}
    generic_resources:
      description: Generic resources.
      type: dict
      sample: {gpu: "1"}
    scopes:
      description: Where it is offered, per scope C(site), C(project), C(user), each with C(enabled) and C(ids).
      type: dict
      sample: {site: {enabled: true, ids: []}, project: {enabled: true, ids: []}, user: {enabled: true, ids: []}}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.xnat_jupyterhub.deploy.plugins.module_utils.xnat import (
    XnatRequestError,
    XnatRestClient,
    fail_module,
    xnat_argument_spec,
)
from ansible_collections.xnat_jupyterhub.deploy.plugins.module_utils.xnat_compute import (
    manage_compute_config,
    pairs_from_xnat,
    pairs_to_xnat,
    scope_option_spec,
    scopes_from_option,
    scopes_from_xnat,
    scopes_to_xnat,
    strings,
    unsatisfiable_constraints,
)


def hardware_name(item):
    return (item.get("hardware") or {}).get("name")


def number(value):
    return None if value is None else float(value)


def constraints_state(constraints):
    normalised = [dict(key=c.get("key"), operator=c.get("operator") or "IN",
                       values=sorted(str(v) for v in c.get("values") or []))
                  for c in constraints or []]
    return sorted(normalised, key=lambda c: (c["key"], c["operator"], c["values"]))


def hardware_state(item):
    hardware = item.get("hardware") or {}
    return dict(
        name=hardware.get("name"),
        cpu_limit=number(hardware.get("cpuLimit")),
        cpu_reservation=number(hardware.get("cpuReservation")),
        memory_limit=hardware.get("memoryLimit") or None,
        memory_reservation=hardware.get("memoryReservation") or None,
        constraints=constraints_state(hardware.get("constraints")),
        environment_variables=pairs_from_xnat(hardware.get("environmentVariables"), "key", "value"),
        generic_resources=pairs_from_xnat(hardware.get("genericResources"), "name", "value"),
        scopes=scopes_from_xnat(item.get("scopes")),
    )


def desired_hardware(params):
    def desired(before):
        after = dict(before) if before else dict(
            name=params["name"], cpu_limit=None, cpu_reservation=None, memory_limit=None, memory_reservation=None,
            constraints=[], environment_variables={}, generic_resources={}, scopes=scopes_from_option(None))
        for option in ("cpu_limit", "cpu_reservation"):
            if params[option] is not None:
                after[option] = float(params[option])
        for option in ("memory_limit", "memory_reservation"):
            if params[option] is not None:
                after[option] = params[option] or None
        if params["constraints"] is not None:
            after["constraints"] = constraints_state(params["constraints"])
        for option in ("environment_variables", "generic_resources"):
            if params[option] is not None:
                after[option] = strings(params[option])
        if params["scopes"] is not None:
            after["scopes"] = scopes_from_option(params["scopes"])
        return after
    return desired


def hardware_body(state, item):
    body = dict(item)
    hardware = dict(item.get("hardware") or {})
    hardware.update(
        name=state["name"],
        cpuLimit=state["cpu_limit"],
        cpuReservation=state["cpu_reservation"],
        memoryLimit=state["memory_limit"],
        memoryReservation=state["memory_reservation"],
        constraints=[dict(key=c["key"], values=c["values"], operator=c["operator"]) for c in state["constraints"]],
        environmentVariables=pairs_to_xnat(state["environment_variables"], "key", "value"),
        genericResources=pairs_to_xnat(state["generic_resources"], "name", "value"),
    )
    body["hardware"] = hardware
    body["scopes"] = scopes_to_xnat(state["scopes"], item.get("scopes"))
    return body


def main():
    argument_spec = xnat_argument_spec()
    argument_spec.update(
        name=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        cpu_limit=dict(type="float"),
        cpu_reservation=dict(type="float"),
        memory_limit=dict(type="str"),
        memory_reservation=dict(type="str"),
        constraints=dict(type="list", elements="dict", options=dict(
            key=dict(type="str", required=True, no_log=False),
            values=dict(type="list", elements="str", required=True),
            operator=dict(type="str", default="IN", choices=["IN", "NOT_IN"]),
        )),
        environment_variables=dict(type="dict"),
        generic_resources=dict(type="dict"),
        scopes=scope_option_spec(),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    client = XnatRestClient.from_module(module)
    try:
        result = manage_compute_config(module, client, "hardware", "hardware configurations", module.params["name"],
                                       hardware_name, hardware_state, desired_hardware(module.params), hardware_body)
    except XnatRequestError as exc:
        fail_module(module, exc, client)
    for text in unsatisfiable_constraints((result.get("hardware") or {}).get("constraints") or []):
        module.warn(f"Swarm can never satisfy {text}: XNAT turns it into one required constraint per value")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
