#!/usr/bin/python
# Copyright: Contributors to the xnat_jupyterhub.deploy collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
---
module: xnat_dashboard_framework
short_description: Manage a dashboard framework of XNAT's JupyterHub plugin (the command template of a kind of app)
version_added: 1.0.0
description:
  - Makes sure XNAT's JupyterHub plugin knows a dashboard framework of this name with this command template,
    or that it is gone.
  - The plugin creates V(Panel), V(Streamlit), V(Voila) and V(Dash) at every start when they are missing;
    declare only the frameworks a site adds or changes.
  - XNAT resolves the template when a dashboard of this framework starts, substituting C({repo}),
    C({repobranch}) and C({mainFilePath}) from the dashboard. C({--}), C({port}), C({base_url}) and
    C({origin_host}) are left for jhsingle-native-proxy, which runs the app in the container.
  - XNAT refuses to delete a framework that dashboards still use (the XNAT stand-in answers HTTP 409);
    remove or change those dashboards first.
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
    description: Shows the framework before and after.
  idempotent:
    support: full
    description: A second run with the same arguments reports no change.
options:
  name:
    description:
      - Name of the framework; dashboards refer to it by this name. Letters, digits, spaces and C(. _ ( ) + -).
    type: str
    required: true
  state:
    description: Whether the framework exists.
    type: str
    choices: [present, absent]
    default: present
  command_template:
    description:
      - The command that starts a dashboard of this framework, with the placeholders described above.
      - Required to create a framework; when updating, an omitted template is left as it is.
    type: str
"""

EXAMPLES = r"""
---
- name: A framework for Gradio apps
  xnat_jupyterhub.deploy.xnat_dashboard_framework:
    url: https://xnat.example.org
    auth_username: admin
    auth_password: "{{ vault_xnat_admin_password }}"
    name: Gradio
    command_template: >-
      jhsingle-native-proxy --port 8888 --destport 7860 --repo {repo} --repobranch {repobranch}
      --repofolder /home/jovyan/dashboards python /home/jovyan/dashboards/{mainFilePath}
  delegate_to: localhost

- name: Remove it
  xnat_jupyterhub.deploy.xnat_dashboard_framework:
    url: https://xnat.example.org
    auth_username: admin
    auth_password: "{{ vault_xnat_admin_password }}"
    name: Gradio
    state: absent
  delegate_to: localhost
"""

RETURN = r"""
id:
  description: XNAT's id of the framework; null when it does not exist (or, in check mode, before it is created).
  returned: always
  type: int
  sample: 5
framework:
  description: The framework after the module ran (as it would be, in check mode); empty when absent.
  returned: success
  type: dict
  contains:
    name:
      description: Name.
      type: str
      sample: Gradio
    command_template:
      description: Command template.
      type: str
      sample: jhsingle-native-proxy --port 8888 --destport 7860 --repo {repo} ...
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.xnat_jupyterhub.deploy.plugins.module_utils.xnat import (
    XnatRequestError,
    XnatRestClient,
    fail_module,
    xnat_argument_spec,
)
from ansible_collections.xnat_jupyterhub.deploy.plugins.module_utils.xnat_compute import manage_compute_config
from ansible_collections.xnat_jupyterhub.deploy.plugins.module_utils.xnat_dashboard import (
    FRAMEWORKS,
    DashboardResources,
    check_name,
    check_text,
)


def framework_name(item):
    return item.get("name")


def framework_state(item):
    return dict(name=item.get("name"), command_template=item.get("commandTemplate"))


def desired_framework(params):
    def desired(before):
        if not before and not (params["command_template"] or "").strip():
            raise XnatRequestError(
                "dashboard framework {!r} does not exist; to create it, give command_template".format(params["name"]))
        after = dict(before) if before else dict(name=params["name"], command_template=None)
        if params["command_template"] is not None:
            if not params["command_template"].strip():
                raise XnatRequestError("command_template cannot be blank")
            after["command_template"] = params["command_template"]
        return after
    return desired


def framework_body(state, item):
    return dict(item, name=state["name"], commandTemplate=state["command_template"])


def main():
    argument_spec = xnat_argument_spec()
    argument_spec.update(
        name=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        command_template=dict(type="str"),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    client = XnatRestClient.from_module(module)
    try:
        check_name(module.params["name"], "dashboard framework name")
        check_text(module.params["command_template"], "command_template")
        result = manage_compute_config(module, DashboardResources(client), FRAMEWORKS, "dashboard frameworks",
                                       module.params["name"], framework_name, framework_state,
                                       desired_framework(module.params), framework_body)
    except XnatRequestError as exc:
        fail_module(module, exc, client)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
