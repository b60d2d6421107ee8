"""Dashboard frameworks, dashboard configs and the dashboard launch: contract §2.6."""

from __future__ import annotations

import copy
import json

import pytest

from standin_testing import STANDIN_DIR
from test_launch import finished_event, start_request

pytestmark = pytest.mark.asyncio

FRAMEWORKS = "/xapi/jupyterhub/dashboards/frameworks"
CONFIGS = "/xapi/jupyterhub/dashboards/configs"
PLAIN = ("plain", "pw-plain-1")
PANEL_TEMPLATE = (
    "jhsingle-native-proxy --port 8888 --destport 5006 --repo {repo} --repobranch {repobranch} "
    "--repofolder /home/jovyan/dashboards bokeh-root-cmd /home/jovyan/dashboards/{mainFilePath} "
    "{--}port={port} {--}allow-websocket-origin={origin_host} {--}prefix={base_url} {--}server=panel")
SCOPES = {"Site": {"scope": "Site", "enabled": True, "ids": []},
          "Project": {"scope": "Project", "enabled": True, "ids": []},
          "DataType": {"scope": "DataType", "enabled": True, "ids": []}}


def dashboard_body(standin, name: str = "Demo panel", **dashboard) -> dict:
    store = standin.state.store
    hardware = {h["hardware"]["name"]: hid for hid, h in store.compute_configs("hardware")}
    return {"dashboard": {"name": name, "description": "A demo", "framework": "Panel", "command": None,
                          "fileSource": "git", "gitRepoUrl": "http://git.example.org/demo.git",
                          "gitRepoBranch": "main", "mainFilePath": "apps/panel_app.py", **dashboard},
            "scopes": copy.deepcopy(SCOPES),
            "computeEnvironmentConfig": {"id": store.compute_configs("environments")[0][0]},
            "hardwareConfig": {"id": hardware["Small"]}}


async def stored_configs(standin) -> list:
    return (await standin.call("GET", CONFIGS)).json


async def test_seeded_frameworks(standin):
    frameworks = (await standin.call("GET", FRAMEWORKS, auth=None))
    assert frameworks.status == 401
    await standin.create_user(*PLAIN)
    listed = (await standin.call("GET", FRAMEWORKS, auth=PLAIN)).json
    assert [f["name"] for f in listed] == ["Panel", "Streamlit", "Voila", "Dash"]
    panel = (await standin.call("GET", f"{FRAMEWORKS}/Panel", auth=PLAIN)).json
    assert panel == {"id": listed[0]["id"], "name": "Panel", "commandTemplate": PANEL_TEMPLATE}
    templates = {f["name"]: f["commandTemplate"] for f in listed}
    assert "--destport 8501" in templates["Streamlit"] and "streamlit run" in templates["Streamlit"]
    assert "--destport 0" in templates["Voila"] and templates["Voila"].endswith("--progressive")
    assert templates["Dash"].startswith("jhsingle-native-proxy --port=8888 --destport=8050 --repo={repo}")
    # the initializer re-creates a deleted seeded framework at the next start, like XNAT's
    assert (await standin.call("DELETE", f"{FRAMEWORKS}/Dash")).status == 200
    assert (await standin.call("GET", f"{FRAMEWORKS}/Dash")).status == 404
    await standin.restart()
    assert (await standin.call("GET", f"{FRAMEWORKS}/Dash")).status == 200


async def test_framework_crud_is_for_administrators(standin):
    await standin.create_user(*PLAIN)
    body = {"name": "Gradio", "commandTemplate": "jhsingle-native-proxy --destport 7860 --repo {repo} gradio"}
    assert (await standin.call("POST", FRAMEWORKS, auth=PLAIN, json_body=body)).status == 403
    created = await standin.call("POST", FRAMEWORKS, json_body=body)
    assert created.status == 200 and created.json["name"] == "Gradio"
    assert (await standin.call("POST", FRAMEWORKS, json_body=body)).status == 409
    changed = {**body, "commandTemplate": "gradio {mainFilePath}"}
    assert (await standin.call("PUT", f"{FRAMEWORKS}/Gradio", auth=PLAIN, json_body=changed)).status == 403
    updated = await standin.call("PUT", f"{FRAMEWORKS}/Gradio", json_body=changed)
    assert (updated.status, updated.json["commandTemplate"]) == (200, "gradio {mainFilePath}")
    assert (await standin.call("PUT", f"{FRAMEWORKS}/Gradio", json_body={**changed, "name": "Panel"})).status == 409
    assert (await standin.call("PUT", f"{FRAMEWORKS}/Nope", json_body=changed)).status == 404
    assert (await standin.call("DELETE", f"{FRAMEWORKS}/Gradio", auth=PLAIN)).status == 403
    assert (await standin.call("DELETE", f"{FRAMEWORKS}/Gradio")).status == 200
    assert (await standin.call("DELETE", f"{FRAMEWORKS}/Gradio")).status == 200  # XNAT ignores unknown names


async def test_hostile_frameworks_are_refused_and_nothing_is_stored(standin):
    before = (await standin.call("GET", FRAMEWORKS)).json
    for hostile in ({"name": "../etc", "commandTemplate": "x"}, {"name": "a/b", "commandTemplate": "x"},
                    {"name": "a\0b", "commandTemplate": "x"}, {"name": "x" * 300, "commandTemplate": "x"},
                    {"name": " padded", "commandTemplate": "x"}, {"name": "ok", "commandTemplate": ""},
                    {"name": "ok", "commandTemplate": "a\0b"}, {"name": "ok", "commandTemplate": "x" * 5000},
                    {"name": ["ok"], "commandTemplate": "x"}, {"name": "ok", "commandTemplate": {"$ne": 1}},
                    {"name": "<script>", "commandTemplate": "x"}):
        reply = await standin.call("POST", FRAMEWORKS, json_body=hostile)
        assert reply.status == 400, (hostile, reply.status, reply.text)
    for raw in ("[]", "{", "null", '"x"'):
        reply = await standin.call("POST", FRAMEWORKS, data=raw, headers={"Content-Type": "application/json"})
        assert reply.status == 400, (raw, reply.status)
    assert (await standin.call("GET", FRAMEWORKS)).json == before
    for name in ("%00", "..%2F..%2Fetc", "x" * 400):
        assert (await standin.call("GET", f"{FRAMEWORKS}/{name}")).status in (400, 404)


async def test_dashboard_config_crud_and_shape(standin):
    await standin.create_user(*PLAIN)
    body = dashboard_body(standin)
    assert (await standin.call("POST", CONFIGS, auth=PLAIN, json_body=body)).status == 403
    created = await standin.call("POST", CONFIGS, json_body=body)
    assert created.status == 201, created.text
    config = created.json
    env_id, hw_id = body["computeEnvironmentConfig"]["id"], body["hardwareConfig"]["id"]
    assert config == {
        "id": config["id"],
        "dashboard": {"name": "Demo panel", "description": "A demo", "framework": "Panel", "command": None,
                      "fileSource": "git", "gitRepoUrl": "http://git.example.org/demo.git", "gitRepoBranch": "main",
                      "mainFilePath": "apps/panel_app.py"},
        "scopes": SCOPES,
        "computeEnvironmentConfig": {"id": env_id, "computeEnvironment": {"name": "XNAT Datascience Notebook"}},
        "hardwareConfig": {"id": hw_id, "hardware": {"name": "Small"}}}
    path = f"{CONFIGS}/{config['id']}"
    assert (await standin.call("GET", path, auth=PLAIN)).json == config
    assert (await standin.call("GET", CONFIGS, auth=PLAIN)).json == [config]

    # custom: no framework, its own command; "custom" in any case is stored as no framework, as XNAT's entity does
    custom = {**config, "dashboard": {**config["dashboard"], "framework": "CUSTOM",
                                      "command": "jhsingle-native-proxy --repo {repo} my-app {--}port={port}"}}
    updated = await standin.call("PUT", path, json_body=custom)
    assert updated.status == 200 and updated.json["dashboard"]["framework"] is None
    assert (await standin.call("PUT", path, json_body={**custom, "id": config["id"] + 1})).status == 400
    assert (await standin.call("PUT", path, auth=PLAIN, json_body=custom)).status == 403
    assert (await standin.call("PUT", f"{CONFIGS}/999", json_body={**custom, "id": 999})).status == 404

    # references in use cannot be deleted
    assert (await standin.call("DELETE", f"/xapi/compute/hardware/{hw_id}")).status == 409
    assert (await standin.call("DELETE", f"/xapi/compute/environments/{env_id}")).status == 409
    await standin.call("PUT", path, json_body={**custom, "dashboard": {**custom["dashboard"], "framework": "Panel"}})
    assert (await standin.call("DELETE", f"{FRAMEWORKS}/Panel")).status == 409

    assert (await standin.call("DELETE", path, auth=PLAIN)).status == 403
    assert (await standin.call("DELETE", path)).status == 204
    assert (await standin.call("GET", path)).status == 404
    assert (await standin.call("DELETE", path)).status == 404


async def test_hostile_dashboard_configs_are_refused_and_nothing_is_stored(standin):
    body = dashboard_body(standin)
    hostile_dashboards = (
        {"name": ""}, {"name": "a\0b"}, {"name": "x" * 300}, {"name": "../../etc"}, {"name": 5},
        {"framework": "Nope"}, {"framework": None, "command": None}, {"framework": "custom", "command": "  "},
        {"gitRepoUrl": "http://x/a b.git"}, {"gitRepoUrl": "--upload-pack=touch /tmp/pwned"},
        {"gitRepoUrl": "file:///etc"}, {"gitRepoUrl": "http://x/" + "a" * 3000}, {"gitRepoUrl": None},
        {"gitRepoBranch": "-b"}, {"gitRepoBranch": "main; rm -rf /"}, {"gitRepoBranch": "a/../b"},
        {"mainFilePath": "../../etc/passwd"}, {"mainFilePath": "/etc/passwd"}, {"mainFilePath": "a b.py"},
        {"mainFilePath": "app.py\n--evil"}, {"mainFilePath": None}, {"mainFilePath": ["app.py"]},
        {"description": "x" * 5000}, {"command": {"a": 1}},
    )
    for change in hostile_dashboards:
        hostile = {**body, "dashboard": {**body["dashboard"], **change}}
        reply = await standin.call("POST", CONFIGS, json_body=hostile)
        assert reply.status == 400, (change, reply.status, reply.text)
    for change in ({"computeEnvironmentConfig": {"id": 999}}, {"hardwareConfig": {"id": 999}},
                   {"hardwareConfig": None}, {"computeEnvironmentConfig": {"id": True}}, {"dashboard": None},
                   {"dashboard": "x"}, {"scopes": {"Site": SCOPES["Site"]}}, {"scopes": {"Galaxy": {}}},
                   {"scopes": {**SCOPES, "Project": {"enabled": False, "ids": ["a\0b"]}}}, {"scopes": []}):
        reply = await standin.call("POST", CONFIGS, json_body={**body, **change})
        assert reply.status == 400, (change, reply.status, reply.text)
    reply = await standin.call("POST", CONFIGS, data=b"x" * (3 * 1024 * 1024),
                               headers={"Content-Type": "application/json"})
    assert reply.status in (400, 413)
    assert await stored_configs(standin) == []
    for config_id in ("abc", "-1", "9" * 30):
        assert (await standin.call("GET", f"{CONFIGS}/{config_id}")).status == 400


async def test_scopes_and_availability(standin):
    await standin.create_user(*PLAIN)
    body = dashboard_body(standin)
    body["scopes"] = {"Site": {"scope": "Site", "enabled": False, "ids": []},
                      "Project": {"scope": "Project", "enabled": False, "ids": []},
                      "DataType": {"scope": "DataType", "enabled": False, "ids": ["xnat:mrSessionData"]}}
    config = (await standin.call("POST", CONFIGS, json_body=body)).json
    path = f"{CONFIGS}/{config['id']}"
    query = "/available?site=XNAT&user=plain&prj=DEMO01&datatype=xnat:mrSessionData"

    async def available(q: str = query) -> list:
        reply = await standin.call("GET", CONFIGS + q, auth=PLAIN)
        assert reply.status == 200
        return [c["id"] for c in reply.json]

    assert await available() == []
    assert (await standin.call("POST", f"{path}/scope/site", auth=PLAIN)).status == 403
    assert (await standin.call("POST", f"{path}/scope/site")).status == 204
    assert await available() == []  # the project scope does not admit DEMO01 yet
    assert (await standin.call("POST", f"{path}/scope/project/DEMO01")).status == 204
    assert (await standin.call("POST", f"{path}/scope/project/DEMO01")).status == 204
    stored = (await standin.call("GET", path)).json["scopes"]
    assert stored["Site"]["enabled"] is True and stored["Project"]["ids"] == ["DEMO01"]
    assert await available() == [config["id"]]
    assert await available(query.replace("DEMO01", "OTHER")) == []
    assert await available(query.replace("xnat:mrSessionData", "xnat:projectData")) == []
    assert await available("/available?site=XNAT&user=plain") == []  # no project in the query: no match
    assert (await standin.call("DELETE", f"{path}/scope/project/DEMO01")).status == 204
    assert await available() == []
    assert (await standin.call("DELETE", f"{path}/scope/site")).status == 204
    assert (await standin.call("GET", path)).json["scopes"]["Site"]["enabled"] is False
    for project in ("..", "a%00b", "x" * 80, "%3Cb%3E"):
        reply = await standin.call("POST", f"{path}/scope/project/{project}")
        assert reply.status in (400, 404), (project, reply.status)
    assert (await standin.call("GET", path)).json["scopes"]["Project"]["ids"] == []
    assert (await standin.call("POST", f"{CONFIGS}/999/scope/site")).status == 404


async def test_dashboard_launch_by_a_user_without_the_jupyter_role(launcher, hub):
    standin = launcher
    await standin.create_user(*PLAIN)  # no Jupyter role, and allUsersCanStartJupyter is false
    config = (await standin.call("POST", CONFIGS, json_body=dashboard_body(standin))).json
    server = "20250311T180000000Z"
    request = start_request(standin, server, username="plain", dashboardConfigId=config["id"])
    path = f"/xapi/jupyterhub/users/plain/server/{server}"
    notebook = {key: value for key, value in request.items() if key != "dashboardConfigId"}
    assert (await standin.call("POST", path, auth=PLAIN, json_body=notebook)).status == 403

    assert (await standin.call("POST", path, auth=PLAIN, json_body=request)).status == 200
    event = await finished_event(standin, server, auth=PLAIN)
    assert event["succeeded"] is True, event
    user_id = standin.state.store.user("plain").id
    stored = standin.state.store.user_options(user_id, server)
    assert stored["dashboardConfigId"] == config["id"]
    spec = stored["task_template"]["container_spec"]
    assert spec["command"] == PANEL_TEMPLATE.replace("{repo}", "http://git.example.org/demo.git").replace(
        "{repobranch}", "main").replace("{mainFilePath}", "apps/panel_app.py")
    assert spec["image"] == "xnat/datascience-notebook:latest"
    assert stored["task_template"]["resources"]["mem_limit"] == "2G"
    # what the hub's pre-spawn hook read, and what the hub keeps (#6 body) carry the dashboard's id
    assert json.loads((hub.work / f"spawned-plain-{server}.json").read_text()) == stored
    status, hub_user = await hub.get("/users/plain")
    assert hub_user["servers"][server]["user_options"]["dashboardConfigId"] == config["id"]
    served = await standin.call("GET", f"/xapi/jupyterhub/users/plain/server/{server}/user-options")
    assert served.json["dashboardConfigId"] == config["id"]

    stop = await standin.call("DELETE", f"{path}?eventTrackingId=stop-dash", auth=PLAIN)
    assert stop.status == 200 and (await finished_event(standin, "stop-dash", auth=PLAIN))["succeeded"] is True


async def test_dashboard_launch_refusals(launcher, hub):
    standin = launcher
    await standin.create_user(*PLAIN)
    body = dashboard_body(standin)
    body["scopes"]["Project"] = {"scope": "Project", "enabled": False, "ids": ["OTHER"]}
    config = (await standin.call("POST", CONFIGS, json_body=body)).json

    async def launch(name: str, **overrides) -> str:
        request = start_request(standin, name, username="plain", **{"dashboardConfigId": config["id"], **overrides})
        assert (await standin.call("POST", f"/xapi/jupyterhub/users/plain/server/{name}", auth=PLAIN,
                                   json_body=request)).status == 200
        event = await finished_event(standin, name, auth=PLAIN)
        assert event["succeeded"] is False
        return event["finalMessage"]

    assert "dashboard is not available" in await launch("scope")
    await standin.call("POST", f"{CONFIGS}/{config['id']}/scope/project/DEMO01")
    hardware = {h["hardware"]["name"]: hid for hid, h in standin.state.store.compute_configs("hardware")}
    assert "not the dashboard's" in await launch("hw", hardwareConfigId=hardware["Large"])
    assert "dashboard is not available" in await launch("gone", dashboardConfigId=999)
    assert standin.state.store.user_options(standin.state.store.user("plain").id, "scope") is None
    for bad in ("x", -1, True, 10**30, [1]):
        request = start_request(standin, "bad", username="plain", dashboardConfigId=bad)
        reply = await standin.call("POST", "/xapi/jupyterhub/users/plain/server/bad", auth=PLAIN, json_body=request)
        assert reply.status == 400, (bad, reply.status)


async def test_page_lists_available_dashboards_on_experiments(standin_factory):
    standin = await standin_factory("--seed", str(STANDIN_DIR / "sample_seed.yml"),
                                    "--archive-path", str(STANDIN_DIR / "sample_archive"))
    await standin.create_user(*PLAIN)
    body = dashboard_body(standin, "Panel demo")
    config = (await standin.call("POST", CONFIGS, json_body=body)).json
    body = dashboard_body(standin, "Hidden")
    body["scopes"]["Project"] = {"scope": "Project", "enabled": False, "ids": ["OTHER"]}
    await standin.call("POST", CONFIGS, json_body=body)
    page = (await standin.call("GET", "/", auth=PLAIN)).text
    assert 'data-test="dashboard-launch-Panel demo"' in page
    assert f'data-dashboard-config-id="{config["id"]}"' in page
    assert 'data-item-id="XNAT_E00001"' in page and "dashboard-launch-Hidden" not in page
    assert "<th>Type</th>" in page
