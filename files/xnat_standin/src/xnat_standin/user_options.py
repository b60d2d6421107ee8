"""User options built the way DefaultUserOptionsService.storeUserOptions builds them (contract §1.3.2)."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import compute, dashboards
from .responses import XnatErrorResponse
from .state import State
from .store import Store, User

PROJECT, SUBJECT, EXPERIMENT, SCAN = "xnat:projectData", "xnat:subjectData", "xnat:experimentData", "xnat:imageScanData"
CURRENT_ARC = "arc001"


class LaunchError(XnatErrorResponse):
    """A launch that XNAT reports as a failed event rather than an HTTP error."""


@dataclass(frozen=True)
class LaunchItem:
    xsi_type: str  # generalised, as stored (§1.3.1)
    item_id: str
    project_id: str


def generalised_type(xsi_type: str) -> str:
    """Experiment subtypes become xnat:experimentData, scan subtypes xnat:imageScanData."""
    if xsi_type in (PROJECT, SUBJECT, "xdat:stored_search"):
        return xsi_type
    if xsi_type.endswith("ScanData"):
        return SCAN
    return EXPERIMENT


def translate(path: str, prefix: str, server_prefix: str) -> str:
    """XNAT's path translation: unanchored String.replace, only when both halves are non-blank (defect 19)."""
    if prefix.strip() and server_prefix.strip():
        return path.replace(prefix, server_prefix)
    return path


def can_read(store: Store, user: User, roles: Collection[str], project_id: str) -> bool:
    project = store.project(project_id)
    if project is None:
        return False
    return ("Administrator" in roles or project["accessibility"] == "public"
            or user.username in store.project_members(project_id))


def readable_projects(store: Store, user: User, roles: Collection[str]) -> list[sqlite3.Row]:
    return [p for p in store.projects() if can_read(store, user, roles, p["id"])]


def resolve_item(store: Store, xsi_type: str, item_id: str, project_id: str) -> LaunchItem:
    if xsi_type == "xdat:stored_search" or xsi_type.startswith("@"):
        raise LaunchError(f"Launching from {xsi_type} is not supported by the XNAT stand-in.")
    kind = generalised_type(xsi_type)
    found: sqlite3.Row | None = None
    found_project: str | None
    if kind == PROJECT:
        found = store.project(item_id)
        found_project = item_id
    elif kind == SUBJECT:
        found = store.subject(item_id)
        found_project = found["project_id"] if found else None
    elif kind == EXPERIMENT:
        found = store.experiment(item_id)
        found_project = found["project_id"] if found else None
    else:
        found = store.scan(int(item_id)) if item_id.isdigit() else None
        experiment = store.experiment(found["experiment_id"]) if found else None
        found_project = experiment["project_id"] if experiment else None
    if found is None or found_project != project_id:
        raise LaunchError(f"Unable to find {xsi_type} {item_id} in project {project_id}.")
    return LaunchItem(kind, item_id, project_id)


def _resolved(row: sqlite3.Row | None, item: LaunchItem) -> sqlite3.Row:
    """A row of an item resolve_item has found; the stand-in deletes no archive rows while it runs."""
    if row is None:
        raise LaunchError(f"Unable to find {item.xsi_type} {item.item_id} in project {item.project_id}.")
    return row


def archive_mounts(store: Store, archive: Path, item: LaunchItem) -> list[tuple[str, str]]:
    """(container target, source as XNAT sees it) per data mount, in XNAT's order (§1.3.2 table)."""
    project_root = archive / item.project_id
    targets = f"/data/projects/{item.project_id}"

    def experiment_mount(experiment: sqlite3.Row) -> tuple[str, str]:
        return (f"{targets}/experiments/{experiment['label']}",
                str(project_root / CURRENT_ARC / experiment["label"]))

    if item.xsi_type == PROJECT:
        candidates = [(f"{targets}/experiments", project_root / CURRENT_ARC),
                      (f"{targets}/resources", project_root / "resources"),
                      (f"{targets}/subjects", project_root / "subjects")]
        return [(target, str(source)) for target, source in candidates if source.is_dir()]
    if item.xsi_type == SUBJECT:
        subject = _resolved(store.subject(item.item_id), item)
        mounts = []
        resources = project_root / "subjects" / subject["label"]
        if resources.is_dir():
            mounts.append((f"{targets}/subject-resources/{subject['label']}", str(resources)))
        return mounts + [experiment_mount(e) for e in store.experiments(subject["id"])]
    if item.xsi_type == EXPERIMENT:
        return [experiment_mount(_resolved(store.experiment(item.item_id), item))]
    scan = _resolved(store.scan(int(item.item_id)), item)
    experiment = _resolved(store.experiment(scan["experiment_id"]), item)
    return [(f"{targets}/experiments/{experiment['label']}/SCANS/{scan['scan_id']}",
             str(project_root / CURRENT_ARC / experiment["label"] / "SCANS" / scan["scan_id"]))]


def ensure_workspace(workspace_path: str, user: User) -> str:
    """DefaultUserWorkspaceService: {workspacePath}/users/{u}, created with a git/config when missing."""
    directory = os.path.join(workspace_path, "users", user.username)
    if not os.path.isdir(directory):
        try:
            os.makedirs(os.path.join(directory, "git"), exist_ok=True)
            with open(os.path.join(directory, "git", "config"), "w", encoding="utf-8") as handle:
                name = f"{user.first_name} {user.last_name}".strip() or user.username
                handle.write(f"[user]\n\tname = {name}\n\temail = {user.email}\n")
        except OSError as exc:
            raise LaunchError(f"Unable to create the workspace for {user.username}: {exc}") from exc
    return directory


def _key_values(items: list[dict]) -> dict[str, str]:
    return {item["key"]: item["value"] or "" for item in items if item.get("key")}


def build_user_options(
    state: State, user: User, roles: Collection[str], request: dict, item: LaunchItem
) -> dict[str, Any]:
    """The UserOptionsEntity row for this launch; the stored (and served) JSON."""
    store, prefs = state.store, state.prefs
    environment = compute.require(store, compute.ENVIRONMENTS, int(request["computeEnvironmentConfigId"]))
    hardware = compute.require(store, compute.HARDWARE, int(request["hardwareConfigId"]))
    env_spec, hw_spec = environment["computeEnvironment"], hardware["hardware"]

    mounts = [{"target": m["containerPath"], "source": m["localPath"],
               "type": "volume" if m["volumeName"] else "bind", "read_only": m["readOnly"]}
              for m in env_spec["mounts"]]
    workspace = ensure_workspace(prefs.get("workspacePath"), user)
    mounts.append({"target": f"/workspace/{user.username}",
                   "source": translate(workspace, prefs.get("pathTranslationWorkspacePrefix"),
                                       prefs.get("pathTranslationWorkspaceDockerPrefix")),
                   "type": "bind", "read_only": False})
    for target, source in archive_mounts(store, state.settings.archive_path, item):
        mounts.append({"target": target,
                       "source": translate(source, prefs.get("pathTranslationArchivePrefix"),
                                           prefs.get("pathTranslationArchiveDockerPrefix")),
                       "type": "bind", "read_only": True})

    alias, secret = state.auth.issue_alias_token(user, prefs.alias_token_lifetime())
    env = {**_key_values(env_spec["environmentVariables"]), **_key_values(hw_spec["environmentVariables"])}
    env.update({
        "XNAT_HOST": prefs.site("processingUrl").strip() or prefs.site("siteUrl"),
        "XNAT_USER": alias,
        "XNAT_PASS": secret,
        "XNAT_DATA": "/data",
        "XNAT_XSI_TYPE": item.xsi_type,
        "XNAT_ITEM_ID": item.item_id,
        "JUPYTERHUB_ROOT_DIR": f"/workspace/{user.username}",
        "XDG_CONFIG_HOME": f"/workspace/{user.username}",
    })

    scope = execution_scope(state, user, request)
    constraints = [c for constraint in hw_spec["constraints"] for c in compute.constraint_strings(constraint)]
    for _id, config in store.compute_configs(compute.CONSTRAINTS):
        if compute.scopes_allow(config["scopes"], scope):
            constraints.extend(compute.constraint_strings(config["constraint"]))

    command = env_spec["command"]
    dashboard_id = request.get("dashboardConfigId")
    if dashboard_id not in (None, ""):
        # DefaultDashboardJobTemplateService.resolve: the dashboard's resolved command replaces the environment's
        command = dashboards.resolve_command(store, dashboards.require_config(store, int(dashboard_id))) or command
    options: dict[str, Any] = {
        "userId": user.id,
        "servername": request["servername"],
        "xsiType": item.xsi_type,
        "itemId": item.item_id,
        "projectId": item.project_id,
        "eventTrackingId": request["eventTrackingId"],
    }
    if dashboard_id not in (None, ""):
        options["dashboardConfigId"] = int(dashboard_id)
    return {
        **options,
        "task_template": {
            "container_spec": {"image": env_spec["image"], "command": command, "env": env,
                               "labels": {}, "mounts": mounts},
            "resources": {"cpu_limit": hw_spec["cpuLimit"], "cpu_reservation": hw_spec["cpuReservation"],
                          "mem_limit": hw_spec["memoryLimit"], "mem_reservation": hw_spec["memoryReservation"],
                          "generic_resources": {r["name"]: r["value"] for r in hw_spec["genericResources"]}},
            "placement": {"constraints": constraints},
        },
    }


def execution_scope(state: State, user: User, request: dict) -> dict[str, str]:
    return {"Site": state.prefs.site("siteId"), "Project": request["projectId"], "User": user.username,
            "DataType": request["xsiType"]}


def check_compute_available(state: State, user: User, request: dict) -> None:
    """The environment and hardware must be available for the launch scope, and go together (§3.2 step 2)."""
    store = state.store
    scope = execution_scope(state, user, request)
    env_id, hardware_id = int(request["computeEnvironmentConfigId"]), int(request["hardwareConfigId"])
    environment = store.compute_config(compute.ENVIRONMENTS, env_id)
    if environment is None or "JUPYTERHUB" not in environment["configTypes"] or \
            not compute.scopes_allow(environment["scopes"], scope):
        raise LaunchError(f"Compute environment {env_id} is not available for this launch.")
    if hardware_id not in [hid for hid, _hardware in compute.available_hardware(store, environment, scope)]:
        raise LaunchError(f"Hardware {hardware_id} is not available for this launch.")


def check_dashboard_available(state: State, user: User, request: dict, dashboard_id: int) -> None:
    """DefaultDashboardJobTemplateService.isAvailable (§2.6.4): the dashboard's scopes admit the launch, the
    request names the dashboard's own environment and hardware, and the environment allows that hardware.
    The environment's and hardware's own scopes are not consulted, as in XNAT."""
    store = state.store
    config = store.compute_config(dashboards.DASHBOARDS, dashboard_id)
    if config is None or not compute.scopes_allow(config["scopes"], execution_scope(state, user, request)):
        raise LaunchError("The dashboard is not available to the user.")
    env_id, hardware_id = int(request["computeEnvironmentConfigId"]), int(request["hardwareConfigId"])
    if (env_id, hardware_id) != (config["computeEnvironmentConfigId"], config["hardwareConfigId"]):
        raise LaunchError("The dashboard is not available to the user: the request's compute environment and "
                          "hardware are not the dashboard's.")
    environment = compute.require(store, compute.ENVIRONMENTS, env_id)
    options = environment.get("hardwareOptions") or {}
    if not options.get("allowAllHardware") and hardware_id not in (options.get("hardwareConfigs") or []):
        raise LaunchError(f"Hardware {hardware_id} is not available for this launch.")
