"""The XNAT -> hub launch, open and stop flows against a real JupyterHub (contract §3)."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from standin_testing import USER
from standin_testing import free_port as _free_port

pytestmark = pytest.mark.asyncio

SERVER = "20250311T172455123Z"


def start_request(standin, servername: str = SERVER, **overrides) -> dict:
    store = standin.state.store
    hardware = {h["hardware"]["name"]: hid for hid, h in store.compute_configs("hardware")}
    return {"username": "jsmith", "servername": servername, "xsiType": "xnat:mrSessionData", "itemId": "XNAT_E00001",
            "itemLabel": "SUBJ01_MR1", "projectId": "DEMO01", "eventTrackingId": servername,
            "computeEnvironmentConfigId": store.compute_configs("environments")[0][0],
            "hardwareConfigId": hardware["Small"], **overrides}


async def finished_event(standin, key: str, timeout: float = 45, auth: tuple[str, str] = USER) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reply = await standin.call("GET", f"/xapi/event_tracking/{key}", auth=auth)
        if reply.status == 200 and "succeeded" in reply.json:
            return reply.json
        await asyncio.sleep(0.25)
    raise AssertionError(f"event {key} did not finish")


async def test_launch_open_and_stop_a_named_server(launcher, hub):
    standin = launcher
    reply = await standin.call("POST", f"/xapi/jupyterhub/users/jsmith/server/{SERVER}", auth=USER,
                               json_body=start_request(standin))
    assert (reply.status, reply.text) == (200, "")

    event = await finished_event(standin, SERVER)
    assert event["succeeded"] is True, event
    assert event["finalMessage"] == f"Jupyter notebook is available at: /jupyterhub/user/jsmith/{SERVER}/"
    assert [entry["status"] for entry in json.loads(event["payload"])["entryList"]][-1] == "Completed"

    # the hub's pre-spawn hook read exactly the stored options, with the service account
    user_id = standin.state.store.user("jsmith").id
    stored = standin.state.store.user_options(user_id, SERVER)
    assert json.loads((hub.work / f"spawned-jsmith-{SERVER}.json").read_text()) == stored
    mounts = stored["task_template"]["container_spec"]["mounts"]
    assert mounts[1]["target"] == "/data/projects/DEMO01/experiments/SUBJ01_MR1"

    # #6 body as the hub keeps it: XnatUserOptions without task template, nulls included
    status, hub_user = await hub.get("/users/jsmith")
    assert status == 200
    server = hub_user["servers"][SERVER]
    assert server["ready"] is True
    assert server["user_options"] == {
        "userId": user_id, "servername": None, "xsiType": "xnat:experimentData", "itemId": "XNAT_E00001",
        "itemLabel": "SUBJ01_MR1", "projectId": "DEMO01", "eventTrackingId": SERVER, "dashboardConfigId": None,
        "task_template": None}

    # proxied reads of §2.5
    proxied = (await standin.call("GET", f"/xapi/jupyterhub/users/jsmith/server/{SERVER}", auth=USER)).json
    assert proxied["ready"] is True and proxied["url"] == f"/jupyterhub/user/jsmith/{SERVER}/"
    assert SERVER in (await standin.call("GET", "/xapi/jupyterhub/users/jsmith", auth=USER)).json["servers"]

    # a second launch with the same name is refused while the first runs
    await standin.call("POST", "/xapi/jupyterhub/preferences", json_body={"maxNamedServers": 2})
    await standin.call("POST", f"/xapi/jupyterhub/users/jsmith/server/{SERVER}", auth=USER,
                       json_body=start_request(standin, eventTrackingId="again"))
    again = await finished_event(standin, "again")
    assert again["succeeded"] is False and "already running" in again["finalMessage"]

    # open: mint a token (#8) and use it the way the browser does
    token_reply = await standin.call("POST", "/xapi/jupyterhub/users/jsmith/tokens?username=jsmith"
                                             "&expiresIn=172800&note=open-notebook", auth=USER)
    assert token_reply.status == 200
    token = token_reply.json
    assert token["note"] == "open-notebook" and "access:servers!user=jsmith" in token["scopes"]
    status, identity = await hub.get("/user", token=token["token"])
    assert (status, identity["name"]) == (200, "jsmith")

    # stop: #7, poll, stored options deleted
    reply = await standin.call("DELETE", f"/xapi/jupyterhub/users/jsmith/server/{SERVER}?eventTrackingId=stop-1",
                               auth=USER)
    assert reply.status == 200
    stopped = await finished_event(standin, "stop-1")
    assert (stopped["succeeded"], stopped["finalMessage"]) == (True, "Jupyter Server Stopped.")
    assert SERVER not in (await hub.get("/users/jsmith"))[1]["servers"]
    assert standin.state.store.user_options(user_id, SERVER) is None
    assert (await standin.call("GET", f"/xapi/jupyterhub/users/jsmith/server/{SERVER}", auth=USER)).text == ""


async def test_launch_failures_are_reported_as_events(launcher, hub):
    standin = launcher
    # maxNamedServers 0 is accepted through REST and makes every launch fail (defect 17)
    await standin.call("POST", "/xapi/jupyterhub/preferences", json_body={"maxNamedServers": 0})
    await standin.call("POST", "/xapi/jupyterhub/users/jsmith/server/max", auth=USER,
                       json_body=start_request(standin, "max"))
    assert "Maximum number of running Jupyter servers" in (await finished_event(standin, "max"))["finalMessage"]

    await standin.call("POST", "/xapi/jupyterhub/preferences", json_body={"maxNamedServers": 1,
                                                                          "jupyterHubToken": "wrong"})
    await standin.call("POST", "/xapi/jupyterhub/users/jsmith/server/token", auth=USER,
                       json_body=start_request(standin, "token"))
    assert "Confirm XNAT's token" in (await finished_event(standin, "token"))["finalMessage"]

    await standin.call("POST", "/xapi/jupyterhub/preferences", json_body={
        "jupyterHubApiUrl": f"http://127.0.0.1:{_free_port()}/jupyterhub/hub/api"})
    await standin.call("POST", "/xapi/jupyterhub/users/jsmith/server/down", auth=USER,
                       json_body=start_request(standin, "down"))
    down = await finished_event(standin, "down")
    assert down["succeeded"] is False and "Failed to connect to JupyterHub" in down["finalMessage"]

    # an item outside the request's project, and hardware the environment does not offer
    await standin.call("POST", "/xapi/jupyterhub/users/jsmith/server/item", auth=USER,
                       json_body=start_request(standin, "item", itemId="XNAT_E99999"))
    assert "Unable to find" in (await finished_event(standin, "item"))["finalMessage"]
    await standin.call("POST", "/xapi/jupyterhub/users/jsmith/server/hw", auth=USER,
                       json_body=start_request(standin, "hw", hardwareConfigId=999))
    assert "not available" in (await finished_event(standin, "hw"))["finalMessage"]


async def test_proxied_hub_reads(launcher, hub):
    standin = launcher
    assert (await standin.call("GET", "/xapi/jupyterhub/version", auth=USER)).json["version"].startswith("5.")
    info = (await standin.call("GET", "/xapi/jupyterhub/info")).json
    assert "sys_executable" not in info and info["spawner"]["class"].endswith("SimpleLocalProcessSpawner")
    assert (await standin.call("GET", "/xapi/jupyterhub/info", auth=USER)).status == 403
    assert (await standin.call("GET", "/xapi/jupyterhub/users", auth=USER)).status == 403
    assert isinstance((await standin.call("GET", "/xapi/jupyterhub/users")).json, list)
    assert (await standin.call("GET", "/xapi/jupyterhub/users/nobody-here")).status == 404
    assert (await standin.call("GET", "/xapi/jupyterhub/users/admin", auth=USER)).status == 403


async def test_start_request_validation(standin):
    # any launch that gets through goes to a closed loopback port, never to the default hub address
    await standin.call("POST", "/xapi/jupyterhub/preferences", json_body={
        "jupyterHubApiUrl": f"http://127.0.0.1:{_free_port()}/jupyterhub/hub/api"})
    await standin.create_user("jsmith", USER[1], roles=("Jupyter",))
    await standin.create_user("plain", "pw-plain")
    body = {"username": "jsmith", "servername": "s1", "xsiType": "xnat:mrSessionData", "itemId": "XNAT_E00001",
            "itemLabel": "L", "projectId": "DEMO01", "eventTrackingId": "s1", "computeEnvironmentConfigId": 1,
            "hardwareConfigId": 1}
    path = "/xapi/jupyterhub/users/jsmith/server/s1"
    # XNAT answers these with 500 (defect 22); the stand-in refuses them with 400.
    assert (await standin.call("POST", "/xapi/jupyterhub/users/jsmith/server/s2", auth=USER,
                               json_body=body)).status == 400
    assert (await standin.call("POST", path, auth=USER, json_body={**body, "username": "other"})).status == 400
    assert (await standin.call("POST", path, auth=USER, json_body={**body, "itemLabel": None})).status == 400
    for hostile in ({"itemLabel": "x" * 300}, {"itemLabel": "a\0b"}, {"eventTrackingId": "../../etc"},
                    {"itemId": ["XNAT_E00001"]}, {"projectId": {"$ne": 1}}, {"hardwareConfigId": 10**30}):
        reply = await standin.call("POST", path, auth=USER, json_body={**body, **hostile})
        assert reply.status == 400, (hostile, reply.status, reply.text)
    for name in (".", "..", "a%00b", "%3Cb%3E", "x" * 65, "caf%C3%A9"):
        reply = await standin.call("POST", f"/xapi/jupyterhub/users/jsmith/server/{name}", auth=USER,
                                   json_body={**body, "servername": name})
        assert reply.status in (400, 404), (name, reply.status, reply.text)
    assert (await standin.call("POST", path, auth=USER, json_body={**body, "hardwareConfigId": "x"})).status == 400
    assert (await standin.call("POST", path, auth=USER, data="{",
                               headers={"Content-Type": "application/json"})).status == 400
    assert (await standin.call("POST", path, auth=("plain", "pw-plain"), json_body=body)).status == 403
    plain_body = {**body, "username": "plain"}
    plain_path = "/xapi/jupyterhub/users/plain/server/s1"
    assert (await standin.call("POST", plain_path, auth=("plain", "pw-plain"), json_body=plain_body)).status == 403
    await standin.call("POST", "/xapi/jupyterhub/preferences", json_body={"allUsersCanStartJupyter": True})
    assert (await standin.call("POST", plain_path, auth=("plain", "pw-plain"), json_body=plain_body)).status == 200
    assert (await standin.call("GET", "/xapi/event_tracking/s1", auth=USER)).status == 404
    assert (await standin.call("GET", "/xapi/event_tracking/s1", auth=("plain", "pw-plain"))).status == 200
