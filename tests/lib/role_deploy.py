"""The collection's roles, run on this machine for a test or a benchmark: what ships is what is tested."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = Path(__file__).resolve().parent / "deploy_roles.yml"


class DeployError(Exception):
    """The roles failed; the message ends with the playbook's last lines."""


def run_roles(roles: list[str], variables: dict, log: Path, timeout: float = 900) -> None:
    """ansible-playbook of deploy_roles.yml with `variables` (secrets included) in a 0600 file removed after."""
    fd, vars_path = tempfile.mkstemp(prefix="role-vars-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({**variables, "deploy_roles": roles}, f)
        env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
        command = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", str(PLAYBOOK),
                   "-e", f"ansible_python_interpreter={sys.executable}", "-e", f"@{vars_path}"]
        done = subprocess.run(command, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=timeout, check=False)
    finally:
        os.unlink(vars_path)
    log.write_text(done.stdout, encoding="utf-8")
    if done.returncode != 0:
        tail = "\n".join(done.stdout.splitlines()[-30:])
        raise DeployError(f"the roles {', '.join(roles)} failed (log {log}):\n{tail}")


def standin_vars(images: dict, root: Path, stack: str, network: str, port: int, uid: int, admin_password: str,
                 users: list[dict], extra_env: dict) -> dict:
    """The xnat_standin role's variables for a stand-in under `root` (archive/, workspaces/, standin/)."""
    return {
        # The images the images layer built with the images role.
        "images_standin_image": images["standin"],
        "xnat_standin_stack_name": stack,
        "xnat_standin_network": network,
        "xnat_standin_published_port": port,
        "xnat_standin_config_dir": str(root / f"config-{stack}"),
        "xnat_standin_data_dir": str(root / "standin"),
        "xnat_standin_archive_dir": str(root / "archive"),
        "xnat_standin_workspaces_dir": str(root / "workspaces"),
        # XNAT's Tomcat user: owns the archive and creates the workspaces notebooks write to.
        "xnat_standin_uid": uid,
        "xnat_standin_gid": uid,
        "xnat_standin_admin_username": "admin",
        "xnat_standin_admin_password": admin_password,
        "xnat_standin_site_url": f"http://127.0.0.1:{port}",
        "xnat_standin_users": users,
        "xnat_standin_extra_env": {"XNAT_STANDIN_DEFAULT_COMPUTE": "false", "XNAT_STANDIN_HUB_TIMEOUT": "15",
                                   **extra_env},
    }


def hub_vars(images: dict, root: Path, stack: str, network: str, port: int, uid: int, xnat_password: str,
             service_token: str, service_prefix: str) -> dict:
    """The hub role's variables for a hub whose XNAT is the stand-in at http://xnat:8080 on `network`."""
    return {
        "images_hub_image": images["hub"],
        "images_notebook_image": images["notebook"],
        "hub_stack_name": stack,
        "hub_network": network,
        "hub_published_port": port,
        "hub_data_dir": str(root / stack),
        "hub_config_dir": str(root / f"config-{stack}"),
        "hub_xnat_url": "http://xnat:8080",
        "hub_xnat_username": "jupyterhub",
        "hub_xnat_password": xnat_password,
        "hub_xnat_service_token": service_token,
        "hub_start_timeout": 120,
        "hub_notebook_uid": uid,
        "hub_notebook_gid": uid,
        "hub_allowed_bind_prefixes": [str(root)],
        "hub_extra_env": {"JH_SERVICE_PREFIX": service_prefix},
    }
