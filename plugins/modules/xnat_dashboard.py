#!/usr/bin/python
# Copyright: Contributors to the xnat_jupyterhub.deploy collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
---
module: xnat_dashboard
short_description: Manage a dashboard of XNAT's JupyterHub plugin (a Panel, Streamlit, Voila or Dash app from git)
version_added: 1.0.0
description:
  - Makes sure XNAT's JupyterHub plugin offers a dashboard of this name, or that it is gone. A dashboard is
    an app in a git repository, run by a dashboard framework (or a custom command) on a compute environment
    and hardware size, where its scopes allow.
  - Any XNAT user who can read a project may start a dashboard that is available there; no Jupyter role is needed.
  - XNAT identifies dashboards by id; this module identifies them by O(name), which must therefore be unique.
  - The compute environment and hardware are named as in M(xnat_jupyterhub.deploy.xnat_compute_environment) and
    M(xnat_jupyterhub.deploy.xnat_hardware); the environment must offer the hardware.
  - When updating, options that are not given keep their current values.
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
    description: Shows the dashboard before and after.
  idempotent:
    support: full
    description: A second run with the same arguments reports no change.
options:
  name:
    description: Name of the dashboard, shown to users. Letters, digits, spaces and C(. _ ( ) + -).
    type: str
    required: true
  state:
    description: Whether the dashboard exists.
    type: str
    choices: [present, absent]
    default: present
  description:
    description: A description shown to users.
    type: str
  framework:
    description:
      - Name of a dashboard framework (see M(xnat_jupyterhub.deploy.xnat_dashboard_framework)), for example
        V(Panel), V(Streamlit), V(Voila) or V(Dash), or V(custom) to run O(command) instead.
      - Required to create a dashboard.
    type: str
  command:
    description:
      - The command of a V(custom) dashboard, with the placeholders of a framework's command template.
      - Ignored by XNAT when O(framework) names a framework.
    type: str
  git_repo_url:
    description:
      - The git repository of the app, cloned by the container at start (C({repo}) in the command).
        An http(s)://, git://, ssh:// or user@host:path URL.
    type: str
  git_repo_branch:
    description: The branch to check out (C({repobranch})). Defaults to V(main) when creating.
    type: str
  main_file_path:
    description: The app's main file, relative to the repository's root (C({mainFilePath})).
    type: str
  compute_environment:
    description: Name of the compute environment the dashboard runs in (its image). Required to create a dashboard.
    type: str
  hardware:
    description: Name of the hardware size the dashboard runs with. Required to create a dashboard.
    type: str
  scopes:
    description:
      - Where the dashboard is offered. XNAT checks the site, the project and the data type of a launch.
      - When creating, an omitted O(scopes) offers it everywhere; when updating, leaves the scopes as they are.
        When O(scopes) is given, a scope left out of it is open to everybody.
      - A scope without ids is open to all; a scope that lists ids is open only to those, unless
        C(enabled) is V(true).
    type: dict
    suboptions:
      site:
        description: The site scope. V(enabled=false) switches the dashboard off everywhere.
        type: dict
        suboptions:
          enabled:
            description: Defaults to V(true) when O(scopes.site.ids) is empty and to V(false) otherwise.
            type: bool
          ids:
            description: Site ids for which it is offered when not enabled for all.
            type: list
            elements: str
            default: []
      project:
        description: The project scope; its ids are XNAT project ids.
        type: dict
        suboptions:
          enabled:
            description: Defaults to V(true) when O(scopes.project.ids) is empty and to V(false) otherwise.
            type: bool
          ids:
            description: Project ids in which it is offered when not enabled for all.
            type: list
            elements: str
            default: []
      datatype:
        description: The data type scope; its ids are XNAT data types such as V(xnat:mrSessionData).
        type: dict
        suboptions:
          enabled:
            description: Defaults to V(true) when O(scopes.datatype.ids) is empty and to V(false) otherwise.
            type: bool
          ids:
            description: Data types on which it is offered when not enabled for all.
            type: list
            elements: str
            default: []
"""

EXAMPLES = r"""
---
- name: A Panel dashboard in two projects
  xnat_jupyterhub.deploy.xnat_dashboard:
    url: https://xnat.example.org
    auth_username: admin
    auth_password: "{{ vault_xnat_admin_password }}"
    name: Volume explorer
    description: Explore the volumes of a session
    framework: Panel
    git_repo_url: https://git.example.org/apps/volume-explorer.git
    git_repo_branch: main
    main_file_path: app.py
    compute_environment: Dashboards
    hardware: Small
    scopes:
      project:
        ids: [NEURO01, NEURO02]
      datatype:
        ids: [xnat:mrSessionData]
  delegate_to: localhost

- name: Remove it
  xnat_jupyterhub.deploy.xnat_dashboard:
    url: https://xnat.example.org
    auth_username: admin
    auth_password: "{{ vault_xnat_admin_password }}"
    name: Volume explorer
    state: absent
  delegate_to: localhost
"""

RETURN = r"""
id:
  description: XNAT's id of the dashboard; null when it does not exist (or, in check mode, before it is created).
  returned: always
  type: int
  sample: 2
dashboard:
  description: The dashboard after the module ran (as it would be, in check mode); empty when absent.
  returned: success
  type: dict
  contains:
    name:
      description: Name.
      type: str
      sample: Volume explorer
    description:
      description: Description.
      type: str
      sample: Explore the volumes of a session
    framework:
      description: The framework's name, or V(custom).
      type: str
      sample: Panel
    command:
      description: The custom command, or null.
      type: str
      sample: null
    git_repo_url:
      description: Git repository.
      type: str
      sample: https://git.example.org/apps/volume-explorer.git
    git_repo_branch:
      description: Branch.
      type: str
      sample: main
    main_file_path:
      description: Main file.
      type: str
      sample: app.py
    compute_environment:
      description: Name of the compute environment.
      type: str
      sample: Dashboards
    hardware:
      description: Name of the hardware size.
      type: str
      sample: Small
    scopes:
      description: Where it is offered, per scope C(site), C(project), C(datatype), each with C(enabled) and C(ids).
      type: dict
      sample: {site: {enabled: true, ids: []}, project: {enabled: false, ids: [NEURO01]},
               datatype: {enabled: true, ids: []}}
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
    scope_option_spec,
    scopes_from_option,
    scopes_from_xnat,
    scopes_to_xnat,
)
from ansible_collections.xnat_jupyterhub.deploy.plugins.module_utils.xnat_dashboard import (
    CUSTOM,
    DASHBOARD_SCOPE_KEYS,
    DASHBOARDS,
    FRAMEWORKS,
    DashboardResources,
    NamedConfigs,
    check_git,
    check_name,
    check_text,
)

PLACEHOLDERS = (("{repo}", "git_repo_url"), ("{repobranch}", "git_repo_branch"), ("{mainFilePath}", "main_file_path"))


def dashboard_name(item):
    return (item.get("dashboard") or {}).get("name")


def environment_name(item):
    return (item.get("computeEnvironment") or {}).get("name")


def hardware_name(item):
    return (item.get("hardware") or {}).get("name")


class References:
    """The frameworks, compute environments and hardware a dashboard names, read once per run."""

    def __init__(self, client):
        self.client = client
        self.environments = NamedConfigs(client, "environments", "compute environment", environment_name)
        self.hardware = NamedConfigs(client, "hardware", "hardware configuration", hardware_name)
        self._frameworks = None

    def frameworks(self):
        if self._frameworks is None:
            self._frameworks = dict((f.get("name"), f) for f in self.client.list_dashboards(FRAMEWORKS))
        return self._frameworks

    def template(self, framework, command):
        if framework == CUSTOM:
            return command or ""
        if framework not in self.frameworks():
            raise XnatRequestError("unknown dashboard framework {!r}. Known: {} (or custom)".format(
                framework, ", ".join(sorted(str(n) for n in self.frameworks())) or "none"))
        return self.frameworks()[framework].get("commandTemplate") or ""


def dashboard_state(references):
    def state(item):
        dashboard = item.get("dashboard") or {}
        framework = dashboard.get("framework")
        return dict(
            name=dashboard.get("name"),
            description=dashboard.get("description") or None,
            framework=CUSTOM if not framework or framework.lower() == CUSTOM else framework,
            command=dashboard.get("command") or None,
            git_repo_url=dashboard.get("gitRepoUrl") or None,
            git_repo_branch=dashboard.get("gitRepoBranch") or None,
            main_file_path=dashboard.get("mainFilePath") or None,
            compute_environment=references.environments.name((item.get("computeEnvironmentConfig") or {}).get("id")),
            hardware=references.hardware.name((item.get("hardwareConfig") or {}).get("id")),
            scopes=scopes_from_xnat(item.get("scopes"), DASHBOARD_SCOPE_KEYS),
        )
    return state


def desired_dashboard(params, references):
    def desired(before):
        if not before:
            missing = [o for o in ("framework", "compute_environment", "hardware") if not params[o]]
            if missing:
                raise XnatRequestError("dashboard {!r} does not exist; to create it, give {}".format(
                    params["name"], ", ".join(missing)))
        after = dict(before) if before else dict(
            name=params["name"], description=None, framework=None, command=None, git_repo_url=None,
            git_repo_branch="main", main_file_path=None, compute_environment=None, hardware=None,
            scopes=scopes_from_option(None, DASHBOARD_SCOPE_KEYS))
        for option in ("description", "command", "git_repo_url", "git_repo_branch", "main_file_path"):
            if params[option] is not None:
                after[option] = params[option] or None
        if params["framework"] is not None:
            after["framework"] = CUSTOM if params["framework"].lower() == CUSTOM else params["framework"]
        for option in ("compute_environment", "hardware"):
            if params[option] is not None:
                after[option] = params[option]
        if params["scopes"] is not None:
            after["scopes"] = scopes_from_option(params["scopes"], DASHBOARD_SCOPE_KEYS)
        check_dashboard(after, references)
        return after
    return desired


def check_dashboard(state, references):
    """The dashboard must be startable: its command complete, its environment offering its hardware."""
    check_git(state["git_repo_url"], state["git_repo_branch"], state["main_file_path"])
    template = references.template(state["framework"], state["command"])
    if state["framework"] == CUSTOM and not template.strip():
        raise XnatRequestError("a custom dashboard needs a command")
    missing = [option for placeholder, option in PLACEHOLDERS if placeholder in template and not state[option]]
    if missing:
        raise XnatRequestError("the command of dashboard {!r} uses {}: give {}".format(
            state["name"], ", ".join(p for p, o in PLACEHOLDERS if o in missing), ", ".join(missing)))
    environment = references.environments.find(state["compute_environment"])
    hardware = references.hardware.find(state["hardware"])
    options = environment.get("hardwareOptions") or {}
    offered = [ref.get("id") if isinstance(ref, dict) else ref for ref in options.get("hardwareConfigs") or []]
    if not options.get("allowAllHardware") and hardware.get("id") not in offered:
        raise XnatRequestError("compute environment {!r} does not offer hardware {!r}: XNAT would refuse to start "
                               "the dashboard".format(state["compute_environment"], state["hardware"]))


def dashboard_body(references):
    def body_of(state, item):
        body = dict(item)
        body["dashboard"] = dict(
            item.get("dashboard") or {}, name=state["name"], description=state["description"],
            framework=state["framework"], command=state["command"], fileSource="git",
            gitRepoUrl=state["git_repo_url"], gitRepoBranch=state["git_repo_branch"],
            mainFilePath=state["main_file_path"])
        body["scopes"] = scopes_to_xnat(state["scopes"], item.get("scopes"), DASHBOARD_SCOPE_KEYS)
        body["computeEnvironmentConfig"] = dict(id=references.environments.find(state["compute_environment"])["id"])
        body["hardwareConfig"] = dict(id=references.hardware.find(state["hardware"])["id"])
        return body
    return body_of


def main():
    argument_spec = xnat_argument_spec()
    argument_spec.update(
        name=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        description=dict(type="str"),
        framework=dict(type="str"),
        command=dict(type="str"),
        git_repo_url=dict(type="str"),
        git_repo_branch=dict(type="str"),
        main_file_path=dict(type="str"),
        compute_environment=dict(type="str"),
        hardware=dict(type="str"),
        scopes=scope_option_spec(DASHBOARD_SCOPE_KEYS),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    client = XnatRestClient.from_module(module)
    references = References(client)
    try:
        check_name(module.params["name"], "dashboard name")
        check_text(module.params["description"], "description")
        check_text(module.params["command"], "command")
        result = manage_compute_config(module, DashboardResources(client), DASHBOARDS, "dashboards",
                                       module.params["name"], dashboard_name, dashboard_state(references),
                                       desired_dashboard(module.params, references), dashboard_body(references))
    except XnatRequestError as exc:
        fail_module(module, exc, client)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
