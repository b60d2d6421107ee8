#!/usr/bin/python
# Copyright: Contributors to the xnat_jupyterhub.deploy collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
---
module: xnat_compute_environment
short_description: Manage an XNAT compute environment (a notebook image users can pick)
version_added: 1.0.0
description:
  - Makes sure XNAT offers a compute environment of this name, with this image, command, environment variables,
    extra mounts, scopes and allowed hardware, or that it is gone.
  - XNAT identifies compute environments by id; this module identifies them by O(name), which must therefore be unique.
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
    description: Shows the environment before and after.
  idempotent:
    support: full
    description: A second run with the same arguments reports no change.
options:
  name:
    description: Name of the environment, shown to users in XNAT's launch dialog.
    type: str
    required: true
  state:
    description: Whether the environment exists.
    type: str
    choices: [present, absent]
    default: present
  image:
    description:
      - The notebook image, for example V(xnat/datascience-notebook:latest). Required to create the environment.
      - Every Swarm node that may run notebooks must have it (pulled from a registry or loaded).
    type: str
  command:
    description: Command of the notebook container; empty means the image's own.
    type: str
  config_types:
    description: What XNAT uses the environment for. Defaults to V([JUPYTERHUB]) when the environment is created.
    type: list
    elements: str
    choices: [JUPYTERHUB, CONTAINER_SERVICE, GENERAL]
  environment_variables:
    description: Environment variables set in the notebook container, name to value.
    type: dict
  mounts:
    description: Extra mounts for the notebook container, besides the workspace and data mounts XNAT adds itself.
    type: list
    elements: dict
    suboptions:
      local_path:
        description: The path as XNAT sees it; XNAT applies no path translation to these mounts.
        type: str
        required: true
      container_path:
        description: Where the path appears in the container.
        type: str
        required: true
      read_only:
        description: Whether the container may only read it.
        type: bool
        default: true
      volume_name:
        description: A Docker volume to mount instead of a host path.
        type: str
        default: ""
  hardware:
    description:
      - Names of the hardware configurations (see M(xnat_jupyterhub.deploy.xnat_hardware)) users may combine
        with this environment. An unknown name is an error.
      - Giving it turns O(allow_all_hardware) off.
    type: list
    elements: str
  allow_all_hardware:
    description:
      - Whether users may combine the environment with every hardware configuration.
        Defaults to V(true) when the environment is created without O(hardware).
    type: bool
"""

EXAMPLES = r"""
---
- name: Offer the data-science notebook image with two sizes
  xnat_jupyterhub.deploy.xnat_compute_environment:
    url: https://xnat.example.org
    auth_username: admin
    auth_password: "{{ vault_xnat_admin_password }}"
    name: XNAT Datascience Notebook
    image: xnat/datascience-notebook:latest
    environment_variables:
      TZ: Europe/London
    mounts:
      - local_path: /srv/shared/refdata
        container_path: /refdata
    hardware: [Small, Medium]
  delegate_to: localhost

- name: Remove an environment
  xnat_jupyterhub.deploy.xnat_compute_environment:
    url: https://xnat.example.org
    auth_username: admin
    auth_password: "{{ vault_xnat_admin_password }}"
    name: Old Notebook
    state: absent
  delegate_to: localhost
"""

RETURN = r"""
id:
  description: XNAT's id of the environment; null when it does not exist (or, in check mode, before it is created).
  returned: always
  type: int
  sample: 1
environment:
  description: The environment after the module ran (as it would be, in check mode); empty when absent.
  returned: success
  type: dict
  contains:
    name:
      description: Name.
      type: str
      sample: XNAT Datascience Notebook
    image:
      description: Image.
      type: str
      sample: xnat/datascience-notebook:latest
    command:
      description: Command, or null for the image's own.
      type: str
      sample: null
    config_types:
      description: What XNAT uses it for, sorted.
      type: list
      elements: str
      sample: [JUPYTERHUB]
    environment_variables:
      description: Environment variables.
      type: dict
      sample: {TZ: Europe/London}
    mounts:
      description: Extra mounts, sorted by container path.
      type: list
      elements: dict
      sample: [{container_path: /refdata, local_path: /srv/shared/refdata, read_only: true, volume_name: ""}]
    scopes:
      description: Where it is offered, per scope C(site), C(project), C(user), each with C(enabled) and C(ids).
      type: dict
      sample: {site: {enabled: true, ids: []}, project: {enabled: true, ids: []}, user: {enabled: true, ids: []}}
    allow_all_hardware:
      description: Whether every hardware configuration may be used with it.
      type: bool
      sample: false
    hardware:
      description: Names of the hardware configurations allowed with it, sorted.
      type: list
      elements: str
      sample: [Medium, Small]
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
)


def environment_name(item):
    return (item.get("computeEnvironment") or {}).get("name")


def mounts_state(mounts, option_names=False):
    def one(m):
        if option_names:
            return dict(local_path=m["local_path"], container_path=m["container_path"], read_only=bool(m["read_only"]),
                        volume_name=m.get("volume_name") or "")
        return dict(local_path=m.get("localPath"), container_path=m.get("containerPath"),
                    read_only=bool(m.get("readOnly")), volume_name=m.get("volumeName") or "")
    return sorted((one(m) for m in mounts or []), key=lambda m: (m["container_path"], m["local_path"]))


class HardwareNames:
    """Translates between hardware names (what the module speaks) and ids (what XNAT stores)."""

    def __init__(self, client):
        self.client = client
        self._items = None

    def items(self):
        if self._items is None:
            self._items = self.client.list_compute("hardware")
        return self._items

    def name_of(self, ref):
        ref_id = ref.get("id") if isinstance(ref, dict) else ref
        for item in self.items():
            if item.get("id") == ref_id:
                return (item.get("hardware") or {}).get("name")
        return f"#{ref_id}"

    def ids_of(self, names):
        by_name = {}
        for item in self.items():
            by_name.setdefault((item.get("hardware") or {}).get("name"), []).append(item.get("id"))
        unknown = sorted(n for n in names if n not in by_name)
        if unknown:
            raise XnatRequestError("unknown hardware configuration(s): {}. Known: {}".format(
                ", ".join(unknown), ", ".join(sorted(str(n) for n in by_name)) or "none"))
        duplicated = sorted(n for n in names if len(by_name[n]) > 1)
        if duplicated:
            raise XnatRequestError("hardware name(s) used more than once in XNAT: {}".format(", ".join(duplicated)))
        return [by_name[n][0] for n in names]


def environment_state(hardware_names):
    def state(item):
        env = item.get("computeEnvironment") or {}
        options = item.get("hardwareOptions") or {}
        return dict(
            name=env.get("name"),
            image=env.get("image"),
            command=env.get("command") or None,
            config_types=sorted(item.get("configTypes") or []),
            environment_variables=pairs_from_xnat(env.get("environmentVariables"), "key", "value"),
            mounts=mounts_state(env.get("mounts")),
            scopes=scopes_from_xnat(item.get("scopes")),
            allow_all_hardware=bool(options.get("allowAllHardware")),
            hardware=sorted(hardware_names.name_of(ref) for ref in options.get("hardwareConfigs") or []),
        )
    return state


def desired_environment(params, hardware_names):
    def desired(before):
        if not before and not params["image"]:
            raise XnatRequestError(
                "compute environment {!r} does not exist; to create it, give image".format(params["name"]))
        after = dict(before) if before else dict(
            name=params["name"], image=None, command=None, config_types=["JUPYTERHUB"], environment_variables={},
            mounts=[], scopes=scopes_from_option(None), allow_all_hardware=True, hardware=[])
        if params["image"] is not None:
            after["image"] = params["image"]
        if params["command"] is not None:
            after["command"] = params["command"] or None
        if params["config_types"] is not None:
            after["config_types"] = sorted(set(params["config_types"]))
        if params["environment_variables"] is not None:
            after["environment_variables"] = strings(params["environment_variables"])
        if params["mounts"] is not None:
            after["mounts"] = mounts_state(params["mounts"], option_names=True)
        if params["scopes"] is not None:
            after["scopes"] = scopes_from_option(params["scopes"])
        if params["hardware"] is not None:
            hardware_names.ids_of(params["hardware"])
            after["hardware"] = sorted(set(params["hardware"]))
            after["allow_all_hardware"] = False
        if params["allow_all_hardware"] is not None:
            after["allow_all_hardware"] = params["allow_all_hardware"]
        return after
    return desired


def environment_body(hardware_names):
    def body_of(state, item):
        body = dict(item)
        env = dict(item.get("computeEnvironment") or {})
        env.update(
            name=state["name"],
            image=state["image"],
            command=state["command"],
            environmentVariables=pairs_to_xnat(state["environment_variables"], "key", "value"),
            mounts=[dict(volumeName=m["volume_name"], localPath=m["local_path"], containerPath=m["container_path"],
                         readOnly=m["read_only"]) for m in state["mounts"]],
        )
        body["computeEnvironment"] = env
        body["configTypes"] = state["config_types"]
        body["scopes"] = scopes_to_xnat(state["scopes"], item.get("scopes"))
        options = dict(item.get("hardwareOptions") or {})
        options["allowAllHardware"] = state["allow_all_hardware"]
        options["hardwareConfigs"] = [dict(id=i) for i in hardware_names.ids_of(state["hardware"])]
        body["hardwareOptions"] = options
        return body
    return body_of


def main():
    argument_spec = xnat_argument_spec()
    argument_spec.update(
        name=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        image=dict(type="str"),
        command=dict(type="str"),
        config_types=dict(type="list", elements="str", choices=["JUPYTERHUB", "CONTAINER_SERVICE", "GENERAL"]),
        environment_variables=dict(type="dict"),
        mounts=dict(type="list", elements="dict", options=dict(
            local_path=dict(type="str", required=True),
            container_path=dict(type="str", required=True),
            read_only=dict(type="bool", default=True),
            volume_name=dict(type="str", default=""),
        )),
        hardware=dict(type="list", elements="str"),
        allow_all_hardware=dict(type="bool"),
        scopes=scope_option_spec(),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    client = XnatRestClient.from_module(module)
    hardware_names = HardwareNames(client)
    try:
        result = manage_compute_config(module, client, "environments", "compute environments", module.params["name"],
                                       environment_name,
                                       environment_state(hardware_names),
                                       desired_environment(module.params, hardware_names),
                                       environment_body(hardware_names))
    except XnatRequestError as exc:
        fail_module(module, exc, client)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
