"""First-start and every-start set-up: role registry, accounts, seed file, plugin defaults."""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import shutil
from pathlib import Path
from typing import Any

import yaml

from . import compute, dashboards
from .auth import ADMIN_ROLE, hash_password
from .config import Settings, read_text_secret
from .preferences import JUPYTERHUB_PREFERENCES, SITE_CONFIG, Preferences, java_to_string
from .store import AUTH_METHODS, LOCALDB, OPENID, Store

log = logging.getLogger(__name__)

# XNAT core's role definitions plus the two the JupyterHub plugin ships (contract §2.1, §2.2)
BUILTIN_ROLES = {
    "Administrator": "Site Administrator",
    "NonExpiring": "Non-expiring user account",
    "DataManager": "Site-wide data manager",
    "DataAccess": "Site-wide data access",
    "JupyterHub": "JupyterHub Service Account",
    "Jupyter": "Jupyter Access",
}
SERVICE_ACCOUNT_DEFAULT_PASSWORD = "jupyterhub"  # the plugin's well-known default (§2.1, defect 4)


class SeedError(ValueError):
    pass


def load_seed(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SeedError(f"{path}: the seed must be a mapping")
    unknown = set(data) - {"roles", "users", "projects", "preferences", "siteConfig", "compute"}
    if unknown:
        raise SeedError(f"{path}: unknown seed sections {sorted(unknown)}")
    return data


def _create_account(store: Store, username: str, password: str | None, email: str, first: str, last: str,
                    enabled: bool, verified: bool, roles: list[str], auth_method: str = LOCALDB,
                    idp_password: str | None = None) -> None:
    user = store.create_user(username, email, first, last, hash_password(password) if password else None,
                             enabled, verified, auth_method, hash_password(idp_password) if idp_password else None)
    for role in roles:
        store.add_role(user.id, role)


def ensure_admin(store: Store, settings: Settings) -> None:
    if store.user_for_login(settings.admin_username) is not None:
        return
    if settings.admin_password_file:
        password = read_text_secret(settings.admin_password_file)
    else:
        password = secrets.token_urlsafe(18)
        target = settings.data_dir / "admin-password"
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(password + "\n")
        log.warning("created administrator %s; its password is in %s", settings.admin_username, target)
    _create_account(store, settings.admin_username, password, "admin@xnat.invalid", "Site", "Administrator",
                    True, True, [ADMIN_ROLE])


def ensure_service_account(store: Store, settings: Settings) -> None:
    """JupyterHubUserInitializer: create the account once, never touch an existing one (§2.1)."""
    if not settings.service_account or store.user_for_login(settings.service_account_username) is not None:
        return
    password = (read_text_secret(settings.service_account_password_file)
                if settings.service_account_password_file else SERVICE_ACCOUNT_DEFAULT_PASSWORD)
    _create_account(store, settings.service_account_username, password, "jupyterhub@jupyterhub.jupyterhub",
                    "jupyterhub", "jupyterhub", settings.service_account_enabled, True, ["JupyterHub"])


def _seed_users(store: Store, users: list[dict], base: Path) -> None:
    for entry in users:
        username = entry.get("username")
        if not isinstance(username, str) or not username:
            raise SeedError("every seeded user needs a username")
        if store.user_for_login(username) is not None:
            continue
        password = entry.get("password")
        if entry.get("password_file"):
            password = read_text_secret(base / entry["password_file"])
        auth_method, idp_password = _seed_auth_method(entry, username, base)
        if auth_method == OPENID and password:
            raise SeedError(f"user {username}: an openid account has no XNAT password; give idpPassword instead")
        roles = entry.get("roles", [])
        undefined = set(roles) - set(store.role_definitions())
        if undefined:
            raise SeedError(f"user {username}: undefined roles {sorted(undefined)}")
        _create_account(store, username, password, entry.get("email", f"{username}@example.org"),
                        entry.get("firstName", username), entry.get("lastName", ""),
                        bool(entry.get("enabled", True)), bool(entry.get("verified", True)), roles,
                        auth_method, idp_password)


def _seed_auth_method(entry: dict, username: str, base: Path) -> tuple[str, str | None]:
    """authMethod (localdb, XNAT's own passwords, or openid, signing in at the stand-in's identity provider)
    and, for openid, the password at the identity provider (idpPassword or idpPassword_file)."""
    auth_method = entry.get("authMethod", LOCALDB)
    if auth_method not in AUTH_METHODS:
        raise SeedError(f"user {username}: authMethod must be one of {list(AUTH_METHODS)}, not {auth_method!r}")
    idp_password = entry.get("idpPassword")
    if entry.get("idpPassword_file"):
        idp_password = read_text_secret(base / entry["idpPassword_file"])
    if auth_method == OPENID and not (isinstance(idp_password, str) and idp_password):
        raise SeedError(f"user {username}: an openid account needs idpPassword or idpPassword_file")
    if auth_method != OPENID and idp_password is not None:
        raise SeedError(f"user {username}: idpPassword is only for authMethod openid")
    return auth_method, idp_password


# XNAT's rule for project ids and item labels (letters, digits, - and _; scan ids also take dots): they become
# folder names in the archive and mount targets in notebooks, so a seed cannot name anything outside its project.
ARCHIVE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
SCAN_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}")


def _archive_name(value: Any, what: str, pattern: re.Pattern[str] = ARCHIVE_NAME) -> str:
    if not isinstance(value, (str, int)) or isinstance(value, bool) or not pattern.fullmatch(str(value)):
        raise SeedError(f"{what} {value!r}: use letters, digits, - and _ only (at most 64), as XNAT does")
    return str(value)


def _seed_projects(store: Store, projects: list[dict]) -> None:
    for project in projects:
        project_id = _archive_name(project["id"], "project id")
        for subject in project.get("subjects", []):
            _archive_name(subject["label"], f"project {project_id}: subject label")
            for experiment in subject.get("experiments", []):
                _archive_name(experiment["label"], f"project {project_id}: experiment label")
                for scan in experiment.get("scans", []):
                    _archive_name(scan["id"], f"experiment {experiment['label']}: scan id", SCAN_ID)
    for project in projects:
        project_id = project["id"]
        store.upsert_project(project_id, project.get("name", project_id), project.get("accessibility", "private"),
                             list(project.get("members", [])))
        for subject in project.get("subjects", []):
            subject_id = store.upsert_subject(subject.get("id"), project_id, subject["label"])
            for experiment in subject.get("experiments", []):
                experiment_id = store.upsert_experiment(
                    experiment.get("id"), project_id, subject_id, experiment["label"],
                    experiment.get("xsiType", "xnat:mrSessionData"))
                for scan in experiment.get("scans", []):
                    store.upsert_scan(experiment_id, str(scan["id"]), scan.get("xsiType", "xnat:mrScanData"),
                                      scan.get("type", ""))


def _seed_compute(store: Store, seeded: dict) -> bool:
    """Seeded compute configs take the place of the plugin defaults, under the same condition."""
    has_env = any("JUPYTERHUB" in env["configTypes"] for _id, env in store.compute_configs(compute.ENVIRONMENTS))
    if has_env or store.compute_configs(compute.HARDWARE):
        return False
    for kind in (compute.HARDWARE, compute.CONSTRAINTS, compute.ENVIRONMENTS):
        for body in seeded.get(kind, []):
            config = compute.NORMALISERS[kind](body)
            compute.validate(kind, config, store)
            store.add_compute_config(kind, config)
    return True


def merge_seeds(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """`second` seeded after `first`: its lists (users, projects) extend first's, its mappings update first's."""
    merged = dict(first)
    for section, value in second.items():
        if isinstance(merged.get(section), list) and isinstance(value, list):
            merged[section] = [*merged[section], *value]
        elif isinstance(merged.get(section), dict) and isinstance(value, dict):
            merged[section] = {**merged[section], **value}
        else:
            merged[section] = value
    return merged


def copy_sample_archive(source: Path, archive: Path) -> int:
    """Copy the sample's archive files that the archive does not have yet; returns how many were copied."""
    copied = 0
    for path in sorted(source.rglob("*")):
        target = archive / path.relative_to(source)
        if path.is_dir():
            target.mkdir(mode=0o755, exist_ok=True)
        elif not target.exists():
            shutil.copyfile(path, target)
            target.chmod(0o644)
            copied += 1
    return copied


def initialise(store: Store, prefs: Preferences, settings: Settings) -> None:
    seed = load_seed(settings.seed) if settings.seed else {}
    if settings.sample_dir:
        seed = merge_seeds(load_seed(settings.sample_dir / "seed.yml"), seed)
        copied = copy_sample_archive(settings.sample_dir / "archive", settings.archive_path)
        log.info("sample %s: %d archive files copied", settings.sample_dir, copied)
    base = settings.seed.parent if settings.seed else Path.cwd()
    for role, description in {**BUILTIN_ROLES, **seed.get("roles", {})}.items():
        store.define_role(role, description)
    prefs.initialise()
    ensure_admin(store, settings)
    ensure_service_account(store, settings)
    _seed_users(store, seed.get("users", []), base)
    _seed_projects(store, seed.get("projects", []))

    # like the plugin's environment seeding, these overwrite stored values at every start (§2.3, defect 17)
    for name, value in seed.get("siteConfig", {}).items():
        if name not in SITE_CONFIG:
            raise SeedError(f"unknown site configuration property {name}")
        prefs.set_site(name, java_to_string(value))
    for name, value in (("siteUrl", settings.site_url), ("processingUrl", settings.processing_url)):
        if value:
            prefs.set_site(name, value)
    for name, value in seed.get("preferences", {}).items():
        if name not in JUPYTERHUB_PREFERENCES:
            raise SeedError(f"unknown jupyterhub preference {name}")
        prefs.set_from_json(name, value)
    if settings.jupyterhub_token_file:
        prefs.set_raw("jupyterHubToken", read_text_secret(settings.jupyterhub_token_file))
    if not prefs.raw("jupyterHubHostUrl").strip():
        prefs.set_raw("jupyterHubHostUrl", prefs.site("siteUrl"))

    if "compute" in seed:
        _seed_compute(store, seed["compute"])
    elif settings.default_compute:
        compute.create_plugin_defaults(store)
    dashboards.seed_frameworks(store)
