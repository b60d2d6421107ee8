"""XNAT core compute services: environments, hardware and constraints (contract §2.4).

Bodies are normalised into XNAT's shape when they are stored; validation failures are
IllegalArgumentException (500), malformed JSON or wrong JSON types are 400, as in XNAT.
"""

from __future__ import annotations

from typing import Any

from .responses import DataFormatError, IllegalArgument, NotFound
from .store import Store

ENVIRONMENTS, HARDWARE, CONSTRAINTS = "environments", "hardware", "constraints"
CONFIG_TYPES = ("JUPYTERHUB", "CONTAINER_SERVICE", "GENERAL")
SCOPES = ("Site", "Project", "User", "DataType")
OPERATORS = {"IN": "==", "NOT_IN": "!="}
# query-string scope codes of /available -> JSON scope keys
QUERY_SCOPES = {"site": "Site", "prj": "Project", "user": "User", "datatype": "DataType"}
REQUIRED_SCOPES = {
    ENVIRONMENTS: ("Site", "Project", "User"),
    HARDWARE: ("Site", "Project", "User"),
    CONSTRAINTS: ("Site", "Project"),
}


def _expect(value: Any, kind: type | tuple, what: str) -> Any:
    if value is not None and not isinstance(value, kind):
        raise DataFormatError(f"JSON parse error: {what} has the wrong type")
    return value


def _number(value: Any, what: str) -> float | None:
    if isinstance(value, bool):
        raise DataFormatError(f"JSON parse error: {what} must be a number")
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError as exc:
            raise DataFormatError(f"JSON parse error: {what} must be a number") from exc
    return None if value is None else float(_expect(value, (int, float), what))


def _text(value: Any, what: str) -> str | None:
    return None if value is None else str(_expect(value, (str, int, float), what))


def _scopes(raw: Any) -> dict:
    scopes = {}
    for key, scope in (_expect(raw, dict, "scopes") or {}).items():
        if key not in SCOPES:
            raise DataFormatError(f"JSON parse error: unknown scope {key}")
        scope = _expect(scope, dict, f"scope {key}") or {}
        ids = _expect(scope.get("ids"), list, f"scope {key} ids") or []
        scopes[key] = {"scope": key, "enabled": bool(scope.get("enabled", False)), "ids": [str(i) for i in ids]}
    return scopes


def _key_values(raw: Any, what: str) -> list[dict]:
    items = _expect(raw, list, what) or []
    return [{"key": _text(item.get("key"), what), "value": _text(item.get("value"), what)}
            for item in (_expect(item, dict, what) for item in items)]


def _constraint(raw: Any) -> dict:
    raw = _expect(raw, dict, "constraint") or {}
    operator = raw.get("operator")
    if operator is not None and operator not in OPERATORS:
        raise DataFormatError(f"JSON parse error: unknown constraint operator {operator}")
    values = _expect(raw.get("values"), list, "constraint values")
    return {"key": _text(raw.get("key"), "constraint key"),
            "values": None if values is None else [str(v) for v in values],
            "operator": operator}


def constraint_problems(constraint: dict) -> list[str]:
    problems = []
    if not (constraint["key"] or "").strip():
        problems.append("Constraint key cannot be blank")
    if not constraint["values"]:
        problems.append("Constraint values cannot be empty")
    if not constraint["operator"]:
        problems.append("Constraint operator cannot be null")
    return problems


def normalise_environment(body: dict) -> dict:
    config_types = _expect(body.get("configTypes"), list, "configTypes") or []
    for config_type in config_types:
        if config_type not in CONFIG_TYPES:
            raise DataFormatError(f"JSON parse error: unknown config type {config_type}")
    env = _expect(body.get("computeEnvironment"), dict, "computeEnvironment")
    mounts = []
    for mount in _expect((env or {}).get("mounts"), list, "mounts") or []:
        mount = _expect(mount, dict, "mount") or {}
        mounts.append({"volumeName": _text(mount.get("volumeName"), "volumeName") or "",
                       "localPath": _text(mount.get("localPath"), "localPath") or "",
                       "containerPath": _text(mount.get("containerPath"), "containerPath") or "",
                       "readOnly": bool(mount.get("readOnly", False))})
    options = _expect(body.get("hardwareOptions"), dict, "hardwareOptions")
    hardware_refs = None
    if options is not None and options.get("hardwareConfigs") is not None:
        hardware_refs = []
        for ref in _expect(options["hardwareConfigs"], list, "hardwareConfigs"):
            ref = _expect(ref, dict, "hardware reference") or {}
            if not isinstance(ref.get("id"), int) or isinstance(ref.get("id"), bool):
                raise IllegalArgument("Hardware references need a numeric id")
            hardware_refs.append(ref["id"])
    return {
        "configTypes": list(dict.fromkeys(config_types)),
        "computeEnvironment": None if env is None else {
            "name": _text(env.get("name"), "name"),
            "image": _text(env.get("image"), "image"),
            "command": _text(env.get("command"), "command"),
            "environmentVariables": _key_values(env.get("environmentVariables"), "environmentVariables"),
            "mounts": mounts,
        },
        "scopes": _scopes(body.get("scopes")),
        "hardwareOptions": None if options is None else {
            "allowAllHardware": bool(options.get("allowAllHardware", False)),
            "hardwareConfigs": hardware_refs,
        },
    }


def normalise_hardware(body: dict) -> dict:
    hardware = _expect(body.get("hardware"), dict, "hardware")
    resources = []
    for item in _expect((hardware or {}).get("genericResources"), list, "genericResources") or []:
        item = _expect(item, dict, "generic resource") or {}
        resources.append({"name": _text(item.get("name"), "name"), "value": _text(item.get("value"), "value")})
    return {
        "hardware": None if hardware is None else {
            "name": _text(hardware.get("name"), "name"),
            "cpuLimit": _number(hardware.get("cpuLimit"), "cpuLimit"),
            "cpuReservation": _number(hardware.get("cpuReservation"), "cpuReservation"),
            "memoryLimit": _text(hardware.get("memoryLimit"), "memoryLimit"),
            "memoryReservation": _text(hardware.get("memoryReservation"), "memoryReservation"),
            "constraints": [_constraint(c) for c in _expect(hardware.get("constraints"), list, "constraints") or []],
            "environmentVariables": _key_values(hardware.get("environmentVariables"), "environmentVariables"),
            "genericResources": resources,
        },
        "scopes": _scopes(body.get("scopes")),
    }


def normalise_constraint(body: dict) -> dict:
    raw = _expect(body.get("constraint"), dict, "constraint")
    return {"constraint": None if raw is None else _constraint(raw), "scopes": _scopes(body.get("scopes"))}


NORMALISERS = {ENVIRONMENTS: normalise_environment, HARDWARE: normalise_hardware, CONSTRAINTS: normalise_constraint}


def validate(kind: str, config: dict, store: Store) -> None:
    """The validate() of XNAT's Default*ConfigService; any problem is an IllegalArgumentException."""
    problems = []
    missing = [scope for scope in REQUIRED_SCOPES[kind] if scope not in config["scopes"]]
    if missing:
        problems.append("Scopes missing: " + ", ".join(missing))
    if kind == ENVIRONMENTS:
        if not config["configTypes"]:
            problems.append("Compute environment must have at least one config type")
        env = config["computeEnvironment"]
        if env is None:
            problems.append("Compute environment cannot be null")
        else:
            if not (env["name"] or "").strip():
                problems.append("Compute environment name cannot be blank")
            if not (env["image"] or "").strip():
                problems.append("Compute environment image cannot be blank")
        options = config["hardwareOptions"]
        if options is None or options["hardwareConfigs"] is None:
            problems.append("Hardware options and their hardware configs cannot be null")
        else:
            for hardware_id in options["hardwareConfigs"]:
                if store.compute_config(HARDWARE, hardware_id) is None:
                    problems.append(f"Hardware config {hardware_id} does not exist")
    elif kind == HARDWARE:
        hardware = config["hardware"]
        if hardware is None or not (hardware["name"] or "").strip():
            problems.append("Hardware name cannot be blank")
        else:
            for constraint in hardware["constraints"]:
                problems.extend(constraint_problems(constraint))
    else:
        if config["constraint"] is None:
            problems.append("Constraint cannot be null")
        else:
            problems.extend(constraint_problems(config["constraint"]))
    if problems:
        raise IllegalArgument("Invalid configuration: " + "; ".join(problems))


def render(kind: str, config_id: int, config: dict, store: Store) -> dict:
    """The stored configuration as XNAT returns it; environments embed their hardware configs."""
    result = {"id": config_id, **config}
    if kind == ENVIRONMENTS and config.get("hardwareOptions") is not None:
        hardware = []
        for hardware_id in config["hardwareOptions"]["hardwareConfigs"] or []:
            stored = store.compute_config(HARDWARE, hardware_id)
            if stored is not None:
                hardware.append(render(HARDWARE, hardware_id, stored, store))
        result["hardwareOptions"] = {**config["hardwareOptions"], "hardwareConfigs": hardware}
    return result


def scopes_allow(scopes: dict, execution_scope: dict[str, str]) -> bool:
    """AccessScope: each scope on the config is enabled, or lists the execution scope's id."""
    return all(scope["enabled"] or execution_scope.get(key) in scope["ids"] for key, scope in scopes.items())


def available_hardware(store: Store, environment: dict, execution_scope: dict[str, str]) -> list[tuple[int, dict]]:
    options = environment.get("hardwareOptions") or {}
    allowed = set(options.get("hardwareConfigs") or [])
    return [(hardware_id, hardware) for hardware_id, hardware in store.compute_configs(HARDWARE)
            if (options.get("allowAllHardware") or hardware_id in allowed)
            and scopes_allow(hardware["scopes"], execution_scope)]


def available_environments(store: Store, config_type: str | None, execution_scope: dict[str, str]) -> list[dict]:
    result = []
    for env_id, env in store.compute_configs(ENVIRONMENTS):
        if config_type and config_type not in env["configTypes"]:
            continue
        if not scopes_allow(env["scopes"], execution_scope):
            continue
        rendered = render(ENVIRONMENTS, env_id, env, store)
        rendered["hardwareOptions"] = {
            **rendered["hardwareOptions"],
            "hardwareConfigs": [render(HARDWARE, hid, hw, store)
                                for hid, hw in available_hardware(store, env, execution_scope)],
        }
        result.append(rendered)
    return result


def require(store: Store, kind: str, config_id: int) -> dict:
    config = store.compute_config(kind, config_id)
    if config is None:
        raise NotFound(f"No {kind} config with id {config_id}.")
    return config


def constraint_strings(constraint: dict) -> list[str]:
    """Constraint.toList(): one Docker constraint per value (contract §1.3.2, defect 21)."""
    operator = OPERATORS.get(constraint.get("operator") or "IN", "==")
    return [f"{constraint['key']}{operator}{value}" for value in constraint.get("values") or []]


ALL_SCOPES: dict[str, dict[str, Any]] = {
    key: {"scope": key, "enabled": True, "ids": []} for key in ("Site", "Project", "User")
}
DEFAULT_HARDWARE = (("Small", 2.0, "2G"), ("Medium", 2.0, "4G"), ("Large", 2.0, "8G"), ("XLarge", 4.0, "16G"))


def create_plugin_defaults(store: Store) -> bool:
    """JupyterHubEnvironmentsAndHardwareInitializer: only when no JUPYTERHUB environment and no hardware exist."""
    has_env = any("JUPYTERHUB" in env["configTypes"] for _id, env in store.compute_configs(ENVIRONMENTS))
    if has_env or store.compute_configs(HARDWARE):
        return False
    for name, cpu, memory in DEFAULT_HARDWARE:
        store.add_compute_config(HARDWARE, normalise_hardware({
            "hardware": {"name": name, "cpuLimit": cpu, "cpuReservation": cpu, "memoryLimit": memory,
                         "memoryReservation": memory, "constraints": [], "environmentVariables": [],
                         "genericResources": []},
            "scopes": ALL_SCOPES}))
    store.add_compute_config(ENVIRONMENTS, normalise_environment({
        "configTypes": ["JUPYTERHUB"],
        "computeEnvironment": {"name": "XNAT Datascience Notebook", "image": "xnat/datascience-notebook:latest",
                               "command": None, "environmentVariables": [], "mounts": []},
        "scopes": ALL_SCOPES,
        "hardwareOptions": {"allowAllHardware": True, "hardwareConfigs": []}}))
    return True
