"""A launch from the XNAT stand-in's page, as XNAT's UI does it, and its Open link."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.sync_api import expect

from browser_steps import EVENT_ID
from local_site import ALICE, EXPERIMENT_ARCHIVE, EXPERIMENT_TARGET, HUB_URL, http


def test_launch_from_xnat_starts_a_named_server_that_open_shows_in_jupyterlab(site, alice_launch):
    launch = alice_launch
    assert EVENT_ID.fullmatch(launch.server), f"server name {launch.server!r} is not XNAT's event id"
    server_path = f"/jupyterhub/user/{ALICE}/{launch.server}/"
    assert launch.status == f"Jupyter notebook is available at: {server_path}"

    in_hub = site.hub.servers(ALICE).get(launch.server)
    assert in_hub and in_hub["ready"] is True and in_hub["url"] == server_path, in_hub

    services = site.swarm.notebook_services(ALICE, launch.server)
    assert len(services) == 1, [s.name for s in services]
    assert site.swarm.running_task(services[0].id), f"{services[0].name} has no running task"
    mounts = {m["Target"]: m for m in services[0].attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Mounts"]}
    data = mounts[EXPERIMENT_TARGET]
    assert (data["Type"], data["Source"], data.get("ReadOnly")) == \
        ("bind", str(site.archive_dir / EXPERIMENT_ARCHIVE), True), data
    workspace = mounts[f"/workspace/{ALICE}"]
    assert (workspace["Source"], workspace.get("ReadOnly", False)) == \
        (str(site.workspaces_dir / "users" / ALICE), False), workspace

    # The Open link carries the token XNAT minted for the user; the tab it opened runs JupyterLab.
    identity = http("GET", HUB_URL + "/hub/api/user", token=launch.token)
    assert (identity.status_code, identity.json().get("name")) == (200, ALICE), identity.text
    # JupyterLab opens in the workspace; its root shows the workspace and XNAT's data side by side.
    assert urlsplit(launch.lab.url).path == server_path + "lab/tree/workspace", launch.lab.url
    expect(launch.lab.locator("#jp-main-dock-panel")).to_be_visible()
    contents = http("GET", launch.url + "api/contents", token=launch.token)
    assert contents.status_code == 200, contents.text
    assert sorted(item["name"] for item in contents.json()["content"]) == ["workspace", "xnat-data"], contents.text
    launch.lab.locator(".jp-BreadCrumbs-home").first.click()
    expect(launch.lab.locator(".jp-DirListing-itemText", has_text="xnat-data")).to_be_visible()
