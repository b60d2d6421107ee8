"""The plugin's dashboard frameworks and dashboard configs (contract §2.6).

Frameworks and dashboards are kept in the compute_configs table under kinds of their own; a dashboard
refers to its framework, compute environment and hardware by id, as XNAT's entities do, so renaming a
framework renames it in every dashboard. The stand-in refuses what it cannot store with 400 (XNAT answers
its IllegalArgumentExceptions with 500, defect 22) and stores nothing then.
"""

from __future__ import annotations

import re
from typing import Any

from . import compute
from .responses import DataFormatError, NotFound
from .store import Store

FRAMEWORKS, DASHBOARDS = "dashboard_frameworks", "dashboard_configs"
CUSTOM = "custom"
SCOPES = ("Site", "Project", "DataType")  # XNAT requires these three; User is accepted too
# query-string codes of /available -> scope keys (the plugin's Scope codes)
QUERY_SCOPES = compute.QUERY_SCOPES
MAX_NAME, MAX_TEXT, MAX_URL, MAX_REF, MAX_PATH = 255, 4096, 2048, 255, 1024

# Names are path segments of /frameworks/{name} and shown on pages: letters, digits, spaces and . _ ( ) + -
NAME = re.compile(r"\w[\w .()+-]*", re.UNICODE)
# The substituted values become words of a command line that is split at whitespace, so none may hold
# whitespace or start with '-' (an option of jhsingle-native-proxy or git).
GIT_URL = re.compile(r"(https?|git|ssh)://[A-Za-z0-9._~%!$&'()*+,;=:@/-]+|[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[A-Za-z0-9._~/-]+")
GIT_REF = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._/-]*")
MAIN_FILE = re.compile(r"[\w@+-][\w.@+-]*(/[\w@+-][\w.@+-]*)*", re.UNICODE)
CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# The plugin's DashboardFrameworkInitializer templates, verbatim (contract §2.6.1)
_PROXY = "jhsingle-native-proxy --port 8888 --destport {dest} --repo {{repo}} --repobranch {{repobranch}} " \
         "--repofolder /home/jovyan/dashboards "
SEEDED_FRAMEWORKS = (
    ("Panel", _PROXY.format(dest=5006) + "bokeh-root-cmd /home/jovyan/dashboards/{mainFilePath} {--}port={port} "
     "{--}allow-websocket-origin={origin_host} {--}prefix={base_url} {--}server=panel"),
    ("Streamlit", _PROXY.format(dest=8501) + "streamlit run /home/jovyan/dashboards/{mainFilePath} "
     "{--}server.port {port} {--}server.headless True {--}server.fileWatcherType none"),
    ("Voila", _PROXY.format(dest=0) + "voila /home/jovyan/dashboards/{mainFilePath} {--}port {port} "
     "{--}no-browser {--}Voila.base_url={base_url}/ {--}Voila.server_url=/ {--}Voila.ip=0.0.0.0 "
     "{--}Voila.tornado_settings allow_origin={origin_host} --progressive"),
    ("Dash", "jhsingle-native-proxy --port=8888 --destport=8050 --repo={repo} --repobranch={repobranch} "
     "--repofolder=/home/jovyan/dashboards plotlydash-tornado-cmd /home/jovyan/dashboards/{mainFilePath} "
     "{--}port={port} {--}ip 0.0.0.0"),
)


def _text(value: Any, what: str, limit: int, required: bool = False, multiline: bool = False) -> str | None:
    if value is None or value == "":
        if required:
            raise DataFormatError(f"{what} cannot be blank")
        return None
    if not isinstance(value, str):
        raise DataFormatError(f"JSON parse error: {what} must be a string")
    if len(value) > limit:
        raise DataFormatError(f"{what} is longer than {limit} characters")
    control = CONTROL.sub("", value.replace("\n", "").replace("\t", "")) if multiline else value
    if CONTROL.search(control) or "\0" in value:
        raise DataFormatError(f"{what} contains control characters")
    if required and not value.strip():
        raise DataFormatError(f"{what} cannot be blank")
    return value


def _name(value: Any, what: str) -> str:
    name = _text(value, what, MAX_NAME, required=True)
    if name is None or not NAME.fullmatch(name) or name != name.strip():
        raise DataFormatError(f"{what} must be letters, digits, spaces and . _ ( ) + - (starting with a letter or"
                              " digit, no leading or trailing space)")
    return name


def _matching(value: Any, what: str, pattern: re.Pattern[str], limit: int, rule: str) -> str | None:
    text = _text(value, what, limit)
    if text is not None and (not pattern.fullmatch(text) or ".." in text.split("/")):
        raise DataFormatError(f"{what} {rule}")
    return text


def _reference(raw: Any, what: str) -> int:
    raw = compute._expect(raw, dict, what)
    config_id = (raw or {}).get("id")
    if isinstance(config_id, str) and config_id.isdigit() and len(config_id) <= 18:
        config_id = int(config_id)  # XNAT's UI sends the ids as strings; Jackson converts them
    if not isinstance(config_id, int) or isinstance(config_id, bool):
        raise DataFormatError(f"{what} cannot be null: give {{\"id\": <number>}}")
    return config_id


def normalise_framework(body: dict) -> dict:
    return {"name": _name(body.get("name"), "Dashboard framework name"),
            "commandTemplate": _text(body.get("commandTemplate"), "Command template", MAX_TEXT, required=True,
                                     multiline=True)}


def _template(store: Store, framework_id: int) -> str:
    framework = store.compute_config(FRAMEWORKS, framework_id)
    if framework is None:  # frameworks in use cannot be deleted
        raise NotFound(f"Dashboard framework {framework_id} not found.")
    template: str = framework["commandTemplate"]
    return template


def framework_by_name(store: Store, name: str) -> tuple[int, dict] | None:
    """XNAT finds frameworks by exact name (findFrameworkByName)."""
    return next(((fid, f) for fid, f in store.compute_configs(FRAMEWORKS) if f["name"] == name), None)


def render_framework(framework_id: int, framework: dict) -> dict:
    return {"id": framework_id, **framework}


def seed_frameworks(store: Store) -> None:
    """DashboardFrameworkInitializer: each seeded framework is created at start-up when its name is missing."""
    for name, template in SEEDED_FRAMEWORKS:
        if framework_by_name(store, name) is None:
            store.add_compute_config(FRAMEWORKS, {"name": name, "commandTemplate": template})


def _scopes(raw: Any) -> dict:
    scopes = compute._scopes(raw)
    for key, scope in scopes.items():
        for scope_id in scope["ids"]:
            if len(scope_id) > MAX_NAME or CONTROL.search(scope_id):
                raise DataFormatError(f"{key} scope ids must be at most {MAX_NAME} printable characters")
    missing = [key for key in SCOPES if key not in scopes]
    if missing:
        raise DataFormatError("Dashboard config is invalid: Dashboard scopes must contain " + ", ".join(missing))
    return scopes


def normalise_config(body: dict, store: Store) -> dict:
    """A DashboardConfig body as stored; every reference must exist (DefaultDashboardConfigService.validate)."""
    dashboard = compute._expect(body.get("dashboard"), dict, "dashboard")
    if dashboard is None:
        raise DataFormatError("Dashboard config is invalid: Dashboard cannot be null")
    framework = _text(dashboard.get("framework"), "Dashboard framework", MAX_NAME)
    framework_id = None
    command = _text(dashboard.get("command"), "Dashboard command", MAX_TEXT, multiline=True)
    if framework and framework.lower() != CUSTOM:
        found = framework_by_name(store, framework)
        if found is None:
            raise DataFormatError(f"Dashboard framework {framework!r} does not exist")
        framework_id = found[0]
    elif not (command or "").strip():
        raise DataFormatError("A dashboard without a framework (custom) needs a command")
    stored = {
        "name": _name(dashboard.get("name"), "Dashboard name"),
        "description": _text(dashboard.get("description"), "Dashboard description", MAX_TEXT, multiline=True),
        "frameworkId": framework_id,
        "command": command,
        "fileSource": _matching(dashboard.get("fileSource"), "fileSource", re.compile(r"[a-z]+"), 32,
                                "must be a word such as git"),
        "gitRepoUrl": _matching(dashboard.get("gitRepoUrl"), "Git repository URL", GIT_URL, MAX_URL,
                                "must be an http(s)://, git://, ssh:// or user@host:path URL without spaces"),
        "gitRepoBranch": _matching(dashboard.get("gitRepoBranch"), "Git branch", GIT_REF, MAX_REF,
                                   "must be a git branch name (letters, digits and . _ / -, not starting with -)"),
        "mainFilePath": _matching(dashboard.get("mainFilePath"), "Main file path", MAIN_FILE, MAX_PATH,
                                  "must be a relative path inside the repository, without .. or spaces"),
    }
    template = command if framework_id is None else _template(store, framework_id)
    for placeholder, field in (("{repo}", "gitRepoUrl"), ("{repobranch}", "gitRepoBranch"),
                               ("{mainFilePath}", "mainFilePath")):
        if placeholder in (template or "") and not stored[field]:
            raise DataFormatError(f"The dashboard's command uses {placeholder}: {field} cannot be blank")
    env_id = _reference(body.get("computeEnvironmentConfig"), "Compute environment config")
    hardware_id = _reference(body.get("hardwareConfig"), "Hardware config")
    if store.compute_config(compute.ENVIRONMENTS, env_id) is None:
        raise DataFormatError(f"Compute environment config {env_id} does not exist")
    if store.compute_config(compute.HARDWARE, hardware_id) is None:
        raise DataFormatError(f"Hardware config {hardware_id} does not exist")
    return {"dashboard": stored, "scopes": _scopes(body.get("scopes")),
            "computeEnvironmentConfigId": env_id, "hardwareConfigId": hardware_id}


def render_config(config_id: int, config: dict, store: Store) -> dict:
    """DashboardConfigEntity.toPojo: the environment and hardware as id and name only."""
    stored = config["dashboard"]
    framework = store.compute_config(FRAMEWORKS, stored["frameworkId"]) if stored["frameworkId"] else None
    env = store.compute_config(compute.ENVIRONMENTS, config["computeEnvironmentConfigId"]) or {}
    hardware = store.compute_config(compute.HARDWARE, config["hardwareConfigId"]) or {}
    dashboard = {key: value for key, value in stored.items() if key != "frameworkId"}
    return {
        "id": config_id,
        "dashboard": {**dashboard, "framework": framework["name"] if framework else None},
        "scopes": config["scopes"],
        "computeEnvironmentConfig": {"id": config["computeEnvironmentConfigId"],
                                     "computeEnvironment": {"name": (env.get("computeEnvironment") or {}).get("name")}},
        "hardwareConfig": {"id": config["hardwareConfigId"],
                           "hardware": {"name": (hardware.get("hardware") or {}).get("name")}},
    }


def require_config(store: Store, config_id: int) -> dict:
    config = store.compute_config(DASHBOARDS, config_id)
    if config is None:
        raise NotFound(f"Dashboard config {config_id} not found.")
    return config


def available(store: Store, execution_scope: dict[str, str]) -> list[tuple[int, dict]]:
    """DefaultDashboardConfigService.getAvailable: every scope on the dashboard admits the execution scope."""
    return [(config_id, config) for config_id, config in store.compute_configs(DASHBOARDS)
            if compute.scopes_allow(config["scopes"], execution_scope)]


def users_of(store: Store, kind: str, config_id: int) -> list[str]:
    """Names of the dashboards that refer to this framework, environment or hardware."""
    field = {FRAMEWORKS: "frameworkId", compute.ENVIRONMENTS: "computeEnvironmentConfigId",
             compute.HARDWARE: "hardwareConfigId"}[kind]
    return [config["dashboard"]["name"] for _id, config in store.compute_configs(DASHBOARDS)
            if (config["dashboard"] if kind == FRAMEWORKS else config).get(field) == config_id]


def resolve_command(store: Store, config: dict) -> str:
    """DefaultDashboardFrameworkService.resolveCommand: the framework's template (or the custom command) with
    {repo}, {repobranch} and {mainFilePath} substituted and runs of whitespace made one space; the
    jhsingle-native-proxy placeholders {--}, {port}, {base_url} and {origin_host} stay."""
    dashboard = config["dashboard"]
    command = _template(store, dashboard["frameworkId"]) if dashboard["frameworkId"] else dashboard["command"] or ""
    for placeholder, field in (("{repo}", "gitRepoUrl"), ("{repobranch}", "gitRepoBranch"),
                               ("{mainFilePath}", "mainFilePath")):
        command = command.replace(placeholder, dashboard[field] or "")
    return re.sub(r"\s+", " ", command)
