"""Compute environments, hardware and constraints: contract §2.4."""

from __future__ import annotations

import copy

import pytest

pytestmark = pytest.mark.asyncio

SCOPES = {"Site": {"scope": "Site", "enabled": True, "ids": []},
          "Project": {"scope": "Project", "enabled": True, "ids": []},
          "User": {"scope": "User", "enabled": True, "ids": []}}
ENVIRONMENT = {
    "configTypes": ["JUPYTERHUB"],
    "computeEnvironment": {"name": "Notebook", "image": "example/notebook:1", "command": None,
                           "environmentVariables": [{"key": "FOO", "value": "bar"}],
                           "mounts": [{"volumeName": "", "localPath": "/srv/ref", "containerPath": "/ref",
                                       "readOnly": True}]},
    "scopes": SCOPES,
    "hardwareOptions": {"allowAllHardware": True, "hardwareConfigs": []},
}
HARDWARE = {
    "hardware": {"name": "Tiny", "cpuLimit": 1.0, "cpuReservation": 0.5, "memoryLimit": "1G",
                 "memoryReservation": "512M",
                 "constraints": [{"key": "node.role", "values": ["worker"], "operator": "IN"}],
                 "environmentVariables": [], "genericResources": [{"name": "gpu", "value": "1"}]},
    "scopes": SCOPES,
}
CONSTRAINT = {"constraint": {"key": "node.labels.type", "values": ["jupyter"], "operator": "IN"},
              "scopes": {"Site": SCOPES["Site"], "Project": SCOPES["Project"]}}


def without(body: dict, *path: str) -> dict:
    body = copy.deepcopy(body)
    target = body
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return body


async def test_plugin_defaults(standin):
    environments = (await standin.call("GET", "/xapi/compute/environments?type=JUPYTERHUB")).json
    assert [env["computeEnvironment"]["image"] for env in environments] == ["xnat/datascience-notebook:latest"]
    assert environments[0]["hardwareOptions"]["allowAllHardware"] is True
    hardware = (await standin.call("GET", "/xapi/compute/hardware")).json
    assert [(h["hardware"]["name"], h["hardware"]["cpuLimit"], h["hardware"]["memoryLimit"],
             h["hardware"]["memoryReservation"]) for h in hardware] == [
        ("Small", 2.0, "2G", "2G"), ("Medium", 2.0, "4G", "4G"), ("Large", 2.0, "8G", "8G"),
        ("XLarge", 4.0, "16G", "16G")]


async def test_defaults_off_and_not_recreated_while_hardware_exists(standin_factory):
    standin = await standin_factory("--no-default-compute")
    assert (await standin.call("GET", "/xapi/compute/environments")).json == []
    assert (await standin.call("POST", "/xapi/compute/hardware", json_body=HARDWARE)).status == 201
    standin.args = [arg for arg in standin.args if arg != "--no-default-compute"]
    await standin.restart()
    assert (await standin.call("GET", "/xapi/compute/environments")).json == []
    assert len((await standin.call("GET", "/xapi/compute/hardware")).json) == 1


async def test_environment_crud(standin):
    created = await standin.call("POST", "/xapi/compute/environments", json_body=ENVIRONMENT)
    assert created.status == 201
    env = created.json
    env_id = env["id"]
    assert isinstance(env_id, int) and env["computeEnvironment"]["mounts"][0]["localPath"] == "/srv/ref"
    assert (await standin.call("GET", f"/xapi/compute/environments/{env_id}")).json == env
    general = await standin.call("POST", "/xapi/compute/environments",
                                 json_body={**ENVIRONMENT, "configTypes": ["GENERAL"]})
    assert general.status == 201
    listed = (await standin.call("GET", "/xapi/compute/environments?type=JUPYTERHUB")).json
    assert env_id in [e["id"] for e in listed] and general.json["id"] not in [e["id"] for e in listed]
    assert len((await standin.call("GET", "/xapi/compute/environments")).json) == 3

    changed = copy.deepcopy(env)
    changed["computeEnvironment"]["image"] = "example/notebook:2"
    updated = await standin.call("PUT", f"/xapi/compute/environments/{env_id}", json_body=changed)
    assert updated.status == 200 and updated.json["computeEnvironment"]["image"] == "example/notebook:2"
    mismatched = await standin.call("PUT", f"/xapi/compute/environments/{env_id}", json_body={**changed, "id": 999})
    assert mismatched.status == 500 and mismatched.headers["Content-Type"].startswith("text/plain")
    assert (await standin.call("PUT", "/xapi/compute/environments/999", json_body={**changed, "id": 999})).status == 404

    assert (await standin.call("DELETE", f"/xapi/compute/environments/{env_id}")).status == 204
    assert (await standin.call("GET", f"/xapi/compute/environments/{env_id}")).status == 404
    assert (await standin.call("DELETE", f"/xapi/compute/environments/{env_id}")).status == 404


async def test_environment_validation(standin):
    invalid = [
        {**ENVIRONMENT, "configTypes": []},
        without(ENVIRONMENT, "computeEnvironment", "name"),
        without(ENVIRONMENT, "computeEnvironment", "image"),
        without(ENVIRONMENT, "scopes", "User"),
        without(ENVIRONMENT, "hardwareOptions"),
        without(ENVIRONMENT, "hardwareOptions", "hardwareConfigs"),
        {**ENVIRONMENT, "hardwareOptions": {"allowAllHardware": False, "hardwareConfigs": [{"id": 12345}]}},
    ]
    for body in invalid:
        reply = await standin.call("POST", "/xapi/compute/environments", json_body=body)
        assert reply.status == 500, body
    for body in ({**ENVIRONMENT, "configTypes": ["NOPE"]}, {**ENVIRONMENT, "configTypes": "JUPYTERHUB"}):
        assert (await standin.call("POST", "/xapi/compute/environments", json_body=body)).status == 400
    assert (await standin.call("POST", "/xapi/compute/environments", data="{",
                               headers={"Content-Type": "application/json"})).status == 400
    assert (await standin.call("GET", "/xapi/compute/environments?type=NOPE")).status == 400


async def test_hardware_crud_and_validation(standin):
    created = await standin.call("POST", "/xapi/compute/hardware", json_body=HARDWARE)
    assert created.status == 201
    hardware_id = created.json["id"]
    assert created.json["hardware"]["genericResources"] == [{"name": "gpu", "value": "1"}]
    for body in (without(HARDWARE, "hardware", "name"), without(HARDWARE, "scopes", "Project"),
                 {**HARDWARE, "hardware": {**HARDWARE["hardware"],
                                           "constraints": [{"key": "a", "values": [], "operator": "IN"}]}}):
        assert (await standin.call("POST", "/xapi/compute/hardware", json_body=body)).status == 500
    env = await standin.call("POST", "/xapi/compute/environments", json_body={
        **ENVIRONMENT, "hardwareOptions": {"allowAllHardware": False, "hardwareConfigs": [{"id": hardware_id}]}})
    assert env.status == 201
    assert env.json["hardwareOptions"]["hardwareConfigs"][0]["hardware"]["name"] == "Tiny"
    assert (await standin.call("DELETE", f"/xapi/compute/hardware/{hardware_id}")).status == 204
    env_after = (await standin.call("GET", f"/xapi/compute/environments/{env.json['id']}")).json
    assert env_after["hardwareOptions"]["hardwareConfigs"] == []


async def test_constraints_crud_and_validation(standin):
    created = await standin.call("POST", "/xapi/compute/constraints", json_body=CONSTRAINT)
    assert created.status == 201
    constraint_id = created.json["id"]
    body = {**created.json, "constraint": {**CONSTRAINT["constraint"], "operator": "NOT_IN"}}
    assert (await standin.call("PUT", f"/xapi/compute/constraints/{constraint_id}", json_body=body)).json[
        "constraint"]["operator"] == "NOT_IN"
    for bad in ({**CONSTRAINT, "constraint": {"key": "", "values": ["x"], "operator": "IN"}},
                {**CONSTRAINT, "constraint": {"key": "k", "values": [], "operator": "IN"}},
                {**CONSTRAINT, "constraint": {"key": "k", "values": ["x"]}},
                {"constraint": CONSTRAINT["constraint"], "scopes": {"Site": SCOPES["Site"]}}):
        assert (await standin.call("POST", "/xapi/compute/constraints", json_body=bad)).status == 500
    bad_operator = {**CONSTRAINT, "constraint": {"key": "k", "values": ["x"], "operator": "LIKE"}}
    assert (await standin.call("POST", "/xapi/compute/constraints", json_body=bad_operator)).status == 400
    assert (await standin.call("DELETE", f"/xapi/compute/constraints/{constraint_id}")).status == 204


async def test_admin_only_except_available(standin):
    await standin.create_user("jsmith", "pw-jsmith")
    user = ("jsmith", "pw-jsmith")
    assert (await standin.call("GET", "/xapi/compute/environments", auth=user)).status == 403
    assert (await standin.call("POST", "/xapi/compute/hardware", auth=user, json_body=HARDWARE)).status == 403
    available = await standin.call("GET", "/xapi/compute/environments/available?type=JUPYTERHUB&site=XNAT"
                                          "&user=jsmith&prj=DEMO01", auth=user)
    assert available.status == 200 and len(available.json) == 1
    assert len(available.json[0]["hardwareOptions"]["hardwareConfigs"]) == 4


async def test_available_follows_scopes(standin):
    restricted = copy.deepcopy(ENVIRONMENT)
    restricted["computeEnvironment"]["name"] = "Project only"
    restricted["scopes"]["Project"] = {"scope": "Project", "enabled": False, "ids": ["DEMO01"]}
    restricted_id = (await standin.call("POST", "/xapi/compute/environments", json_body=restricted)).json["id"]
    small_hardware = copy.deepcopy(HARDWARE)
    small_hardware["scopes"]["User"] = {"scope": "User", "enabled": False, "ids": ["alice"]}
    await standin.call("POST", "/xapi/compute/hardware", json_body=small_hardware)

    def names(reply):
        return {env["id"]: [h["hardware"]["name"] for h in env["hardwareOptions"]["hardwareConfigs"]]
                for env in reply.json}

    demo = await standin.call("GET", "/xapi/compute/environments/available?type=JUPYTERHUB&site=XNAT"
                                     "&user=alice&prj=DEMO01")
    assert restricted_id in names(demo) and "Tiny" in names(demo)[restricted_id]
    other = await standin.call("GET", "/xapi/compute/environments/available?type=JUPYTERHUB&site=XNAT"
                                      "&user=bob&prj=OTHER")
    assert restricted_id not in names(other)
    assert all("Tiny" not in hardware for hardware in names(other).values())
