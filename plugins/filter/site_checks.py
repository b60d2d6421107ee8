# Copyright: XNAT JupyterHub deployment maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Checks of a site's inventory values, one readable line per wrong value, with the rules the product
applies later: the hub's settings readers (files/hub/src/xnat_jupyterhub_hub/settings.py) and its
translation of XNAT's launch options (service_spec.py), loaded from this collection's own tree, and the
roles' argument specs."""

from __future__ import annotations

import importlib.util
import ipaddress
import re
import sys
from pathlib import Path

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.xnat_jupyterhub.deploy.plugins.module_utils.xnat import XnatRequestError
from ansible_collections.xnat_jupyterhub.deploy.plugins.module_utils.xnat_dashboard import (
    check_git,
    check_name,
    check_text,
)

HUB_SOURCE = Path(__file__).resolve().parents[2] / "files" / "hub" / "src" / "xnat_jupyterhub_hub"


def _hub_module(name):
    """A module of the hub package by file: both are standard-library only and import nothing of the package."""
    qualified = f"xnat_jupyterhub_site_checks_{name}"
    if qualified not in sys.modules:
        path = HUB_SOURCE / f"{name}.py"
        spec = importlib.util.spec_from_file_location(qualified, path)
        if spec is None or spec.loader is None or not path.is_file():
            raise AnsibleFilterError(f"the hub package's {name}.py is missing from the collection ({path})")
        module = importlib.util.module_from_spec(spec)
        sys.modules[qualified] = module
        spec.loader.exec_module(module)
    return sys.modules[qualified]


def _shown(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _env_text(value):
    """A value as the hub role's stack template hands it to the hub."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(str(item) for item in value)
    return str(value)


def hub_setting_problems(values):
    """One line per hub role variable whose value the hub would refuse at start-up."""
    if not isinstance(values, dict):
        raise AnsibleFilterError("hub_setting_problems expects a dictionary of hub role variables")
    settings = _hub_module("settings")
    problems = []
    for setting in settings.SETTINGS:
        if setting.role_var is None or setting.role_var not in values:
            continue
        value = values[setting.role_var]
        if value in (None, "") and setting.default is None:
            problems.append(f"{setting.role_var}: must be set: {setting.meaning}")
            continue
        problem = settings.problem_with(setting, _env_text(value))
        if problem:
            problems.append(f"{setting.role_var}: {_shown(value)} must be {problem} (the hub's {setting.env})")
    return problems


def _size_problem(service_spec, value):
    try:
        service_spec.parse_memory(value, "size")
    except ValueError:
        return "a size such as 4G, 512M or 2GiB, at least 4M"
    return None


def hardware_problems(hardware, variable="xnat_registration_hardware"):
    """One line per wrong value in hardware sizes: memory, CPUs and placement, as the hub will read them."""
    if not isinstance(hardware, list):
        return [f"{variable}: must be a list of hardware sizes, not {_shown(hardware)}"]
    service_spec = _hub_module("service_spec")
    problems = []
    for index, entry in enumerate(hardware):
        where = f"{variable}[{index}]"
        if not isinstance(entry, dict):
            problems.append(f"{where}: must be a hardware size (a dictionary), not {_shown(entry)}")
            continue
        where = f"{where} ({entry.get('name', '?')})"
        for key in ("memory_limit", "memory_reservation"):
            if entry.get(key) not in (None, ""):
                problem = _size_problem(service_spec, entry[key])
                if problem:
                    problems.append(f"{where}.{key}: {_shown(entry[key])} must be {problem}")
        cpus = {}
        for key in ("cpu_limit", "cpu_reservation"):
            value = entry.get(key)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                problems.append(f"{where}.{key}: {_shown(value)} must be a number of CPUs, at least 0")
            else:
                cpus[key] = value
        if cpus.get("cpu_limit") and cpus.get("cpu_reservation", 0) > cpus["cpu_limit"]:
            problems.append(f"{where}.cpu_reservation: {cpus['cpu_reservation']} must not exceed cpu_limit"
                            f" {cpus['cpu_limit']}")
        for number, constraint in enumerate(entry.get("constraints") or []):
            problems += _constraint_problems(service_spec, constraint, f"{where}.constraints[{number}]")
    return problems


def _constraint_problems(service_spec, constraint, where):
    if not isinstance(constraint, dict):
        return [f"{where}: must be a dictionary with key, values and operator, not {_shown(constraint)}"]
    operator = {"IN": "==", "NOT_IN": "!="}.get(constraint.get("operator", "IN"))
    if operator is None:
        return [f"{where}.operator: {_shown(constraint.get('operator'))} must be IN or NOT_IN"]
    values = constraint.get("values")
    if not isinstance(values, list) or not values:
        return [f"{where}.values: {_shown(values)} must be a list of at least one value"]
    try:
        service_spec.user_options_to_service_spec({"task_template": {
            "container_spec": {"image": "constraint/check"},
            "placement": {"constraints": [f"{constraint.get('key')}{operator}{value}" for value in values]}}})
    except ValueError:
        return [f"{where}: {_shown(constraint.get('key'))} with {_shown(values)} must be a swarm constraint such as"
                " node.role IN [worker] or node.labels.<name> IN [<value>]"]
    return []


def _ipv4_cidr(value):
    if "/" not in str(value):
        raise ValueError
    ipaddress.IPv4Network(str(value), strict=False)


def _ipv4(value):
    ipaddress.IPv4Address(str(value))


def _port(value):
    if isinstance(value, bool) or not 1 <= int(value) <= 65535:
        raise ValueError


def _matching(pattern):
    def check(value):
        if not isinstance(value, str) or not re.fullmatch(pattern, value):
            raise ValueError
    return check


def _url(value):
    _hub_module("settings").Url().read(str(value))


def _dashboard_rule(check):
    """A rule of the dashboard modules (contract §2.6.5), so the role refuses what they would, before any write."""
    def run(value):
        if not isinstance(value, str):
            raise TypeError
        try:
            check(value)
        except XnatRequestError as exc:
            raise ValueError(str(exc)) from None
    return run


# Kind -> (check that raises for a wrong value, what is expected).
FORMAT_KINDS = {
    "duration": (_matching(r"[0-9]+(us|ms|s|m|h|d)?"), "a time such as 500ms, 30s, 10m or 1h"),
    "ipv4_cidr": (_ipv4_cidr, "an IPv4 network such as 10.240.0.0/16"),
    "ipv4": (_ipv4, "an IPv4 address such as 10.20.0.11"),
    "port": (_port, "a port from 1 to 65535"),
    "absolute_path": (_matching(r"/[^\0]*"), "an absolute path"),
    "url_path": (_matching(r"/[A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*"), "a URL path such as /jupyterhub (no trailing /)"),
    "http_path": (_matching(r"/[^ ]*"), "a path starting with /"),
    "url": (_url, "an http(s) URL without credentials, query or fragment, such as https://xnat.example.org"),
    "docker_size": (_matching(r"[0-9]+[kmg]"), "a size such as 10m or 1g"),
    "network_name": (_matching(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*"), "a Docker network name"),
    "cookie_name": (_matching(r"[A-Za-z0-9_.-]{1,128}"), "a cookie name (letters, digits, _ . -)"),
    "dashboard_name": (_dashboard_rule(lambda value: check_name(value, "name")),
                       "a name of letters, digits, spaces and . _ ( ) + -, starting with a letter or digit"),
    "dashboard_text": (_dashboard_rule(lambda value: check_text(value, "text")),
                       "a text of at most 4096 characters without control characters"),
    "git_url": (_dashboard_rule(lambda value: check_git(value, None, None)),
                "an http(s)://, git://, ssh:// or user@host:path git URL without spaces"),
    "git_branch": (_dashboard_rule(lambda value: check_git(None, value, None)),
                   "a branch name of letters, digits and . _ / -, not starting with '-', without '..'"),
    "repository_path": (_dashboard_rule(lambda value: check_git(None, None, value)),
                        "a relative path inside the repository, without '..', spaces or a leading '/'"),
}
# Variable (name, name[] for each element of a list, name[].key for a key of each element) -> kind.
# Empty values pass: a variable that is needed has a check of its own.
SITE_FORMATS = {
    "site_url": "url", "xnat_url": "url", "site_archive_dir": "absolute_path", "site_workspaces_dir": "absolute_path",
    "docker_host_daemon_default_address_pools[].base": "ipv4_cidr", "docker_host_daemon_log_max_size": "docker_size",
    "docker_host_daemon_registry_mirrors[]": "url", "docker_host_docker_ce_repo_url": "url",
    "swarm_default_addr_pool[]": "ipv4_cidr", "swarm_overlay_network_subnet": "ipv4_cidr",
    "swarm_published_ports_address": "ipv4", "swarm_advertise_addr": "ipv4", "swarm_listen_port": "port",
    "swarm_overlay_network": "network_name",
    "haproxy_http_port": "port", "haproxy_https_port": "port", "haproxy_hub_path": "url_path",
    "haproxy_hub_health_check_path": "http_path", "haproxy_xnat_health_check_path": "http_path",
    "haproxy_tls_cert_path": "absolute_path", "haproxy_tls_key_path": "absolute_path",
    "haproxy_xnat_session_cookie": "cookie_name",
    "haproxy_hub_servers[].port": "port", "haproxy_xnat_servers[].port": "port",
    "haproxy_timeout_connect": "duration", "haproxy_timeout_client": "duration", "haproxy_timeout_server": "duration",
    "haproxy_timeout_http_request": "duration", "haproxy_timeout_client_fin": "duration",
    "haproxy_timeout_tunnel": "duration",
    "hub_data_dir": "absolute_path", "hub_config_dir": "absolute_path", "hub_published_port": "port",
    "xnat_registration_url": "url", "xnat_registration_hub_api_url": "url", "xnat_registration_hub_host_url": "url",
    "xnat_registration_archive_prefix": "absolute_path", "xnat_registration_archive_server_prefix": "absolute_path",
    "xnat_registration_workspace_prefix": "absolute_path", "xnat_registration_workspace_server_prefix": "absolute_path",
    "xnat_registration_workspace_path": "absolute_path",
    "xnat_registration_dashboard_frameworks[].name": "dashboard_name",
    "xnat_registration_dashboard_frameworks[].command_template": "dashboard_text",
    "xnat_registration_dashboards[].name": "dashboard_name",
    "xnat_registration_dashboards[].description": "dashboard_text",
    "xnat_registration_dashboards[].command": "dashboard_text",
    "xnat_registration_dashboards[].git_repo_url": "git_url",
    "xnat_registration_dashboards[].git_repo_branch": "git_branch",
    "xnat_registration_dashboards[].main_file_path": "repository_path",
}


def _format_targets(values, spec):
    """(label, value) pairs a SITE_FORMATS key names in values."""
    name, _sep, rest = spec.partition("[]")
    if name not in values:
        return []
    if not _sep:
        return [(name, values[name])]
    items = values[name] if isinstance(values[name], list) else []
    key = rest.lstrip(".")
    if not key:
        return [(f"{name}[{i}]", item) for i, item in enumerate(items)]
    return [(f"{name}[{i}].{key}", item.get(key)) for i, item in enumerate(items) if isinstance(item, dict)]


def site_format_problems(values):
    """One line per value with a format (times, networks, addresses, ports, paths, URLs) that is wrong."""
    problems = []
    for spec, kind in SITE_FORMATS.items():
        check, expected = FORMAT_KINDS[kind]
        for label, value in _format_targets(values or {}, spec):
            if value in (None, ""):
                continue
            try:
                check(value)
            except (ValueError, TypeError):
                problems.append(f"{label}: {_shown(value)} must be {expected}")
    return problems


def argument_spec_problems(values, spec, role):
    """One line per variable that the role's argument spec refuses (type, choices, options of dictionaries)."""
    lines = []
    for name, value in dict(values).items():
        if name not in spec:
            continue
        result = ArgumentSpecValidator({name: spec[name]}).validate({name: value})
        for error in result.errors:
            message = str(getattr(error, "msg", error))
            choices = re.match(r"value of \S+ must be one of: (.*), got: .*", message)
            if choices:
                message = f"must be one of: {choices.group(1)}"
            elif "is of type" in message:
                message = f"must be of type {spec[name].get('type', 'str')}"
                if spec[name].get("elements"):
                    message += f" with {spec[name]['elements']} elements"
            lines.append(f"{name}: {_shown(value)} {message} (the {role} role's argument spec)")
    return lines


def first_per_variable(lines):
    """The first line about each variable (lines start with "<variable>: " or "<variable>[i]..."): one line per
    wrong value even when two checks refuse it."""
    seen, kept = set(), []
    for line in lines:
        key = line.split(":", 1)[0]
        if key not in seen:
            seen.add(key)
            kept.append(line)
    return kept


class FilterModule:
    """Site value checks."""

    def filters(self):
        return {
            "hub_setting_problems": hub_setting_problems,
            "hardware_problems": hardware_problems,
            "argument_spec_problems": argument_spec_problems,
            "first_per_variable": first_per_variable,
            "site_format_problems": site_format_problems,
        }
