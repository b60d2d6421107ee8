"""playbooks/teardown.yml removes what the collection deployed and keeps the users' data; site.yml then brings the
site back with that data. Last, because it takes the site down: the suite's clean-up runs on the redeployed site."""

from __future__ import annotations

import secrets
import socket
from pathlib import Path

import docker
import pytest
from docker.errors import NotFound

from local_site import (
    ALICE,
    EXPERIMENT_ARCHIVE,
    SERVER_LABEL,
    hub_is_healthy,
    inventory_vars,
    run_playbook,
    run_site_playbook,
    wait_until,
    write_workspace_file,
)

MARKER_FILE = "e2e-teardown-marker.txt"


def _haproxy_listens() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 443), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def torn_down(site, alice_launch):
    """A marker in alice's workspace, then teardown.yml. The site is deployed again at the end in any case."""
    state = {"marker": secrets.token_hex(8), "redeployed": False}
    write_workspace_file(alice_launch, MARKER_FILE, state["marker"])
    state["run"] = run_playbook(site.logs / "teardown.log", "playbooks/teardown.yml")
    yield state
    if not state["redeployed"]:
        redeploy = run_site_playbook(site.logs / "redeploy-after-teardown.log")
        assert redeploy.returncode == 0, redeploy.describe()


def test_teardown_removes_what_the_collection_deployed(site, torn_down):
    run = torn_down["run"]
    assert run.returncode == 0, run.describe()
    client = docker.from_env(timeout=30)
    variables = inventory_vars()
    stacks = (variables.get("hub_stack_name", "jupyterhub"), variables.get("xnat_standin_stack_name", "xnat"))
    leftover_services = [s.name for s in client.services.list()
                         if s.name.split("_")[0] in stacks or SERVER_LABEL in (s.attrs["Spec"].get("Labels") or {})]
    assert leftover_services == []
    leftover_secrets = [s.name for s in client.secrets.list()
                        if s.name.startswith(tuple(f"{stack}_" for stack in stacks))
                        or "xnat-jupyterhub.service" in (s.attrs["Spec"].get("Labels") or {})]
    assert leftover_secrets == []
    with pytest.raises(NotFound):
        client.networks.get(variables.get("swarm_overlay_network", "jupyterhub-network"))
    assert not _haproxy_listens(), "haproxy still listens on 443"
    assert client.info()["Swarm"]["LocalNodeState"] == "active", "teardown left the swarm without being asked"


def test_teardown_keeps_the_users_data(site, torn_down):
    assert torn_down["run"].returncode == 0, torn_down["run"].describe()
    assert (site.workspaces_dir / "users" / ALICE / MARKER_FILE).read_text() == torn_down["marker"]
    assert any((site.archive_dir / EXPERIMENT_ARCHIVE).iterdir()), "the sample experiment is gone"
    hub_db = Path(inventory_vars().get("hub_data_dir", "/var/lib/xnat-jupyterhub/hub")) / "jupyterhub.sqlite"
    assert hub_db.stat().st_size > 0, f"{hub_db} is empty"


def test_site_yml_brings_the_site_back_with_its_users(site, torn_down):
    torn_down["redeployed"] = True
    redeploy = run_site_playbook(site.logs / "redeploy-after-teardown.log")
    assert redeploy.returncode == 0, redeploy.describe()
    wait_until("the hub's health check through haproxy", hub_is_healthy, 180)
    # The hub database survived: the hub still knows alice, whom XNAT created in the hub before the teardown.
    assert site.hub.user(ALICE) is not None, "the hub lost its users"
    # The stand-in's database survived: alice, created through its API during this run, is still there.
    assert site.xnat.call("GET", f"/xapi/users/{ALICE}/roles").status_code == 200
    assert (site.workspaces_dir / "users" / ALICE / MARKER_FILE).read_text() == torn_down["marker"]
