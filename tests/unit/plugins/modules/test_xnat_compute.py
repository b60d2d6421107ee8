"""xnat_hardware, xnat_compute_environment and xnat_compute_constraint: identity, scopes, hardware by name, absent."""

import pytest

from ansible_collections.xnat_jupyterhub.deploy.plugins.modules import (
    xnat_compute_constraint,
    xnat_compute_environment,
    xnat_hardware,
)

OPEN = {key: {"scope": key, "enabled": True, "ids": []} for key in ("Site", "Project", "User")}


def hardware_item(name, cpu=2.0, memory="2G"):
    return {"hardware": {"name": name, "cpuLimit": cpu, "cpuReservation": cpu, "memoryLimit": memory,
                         "memoryReservation": memory, "constraints": [], "environmentVariables": [],
                         "genericResources": []}, "scopes": OPEN}


GPU = dict(name="GPU", cpu_limit=4, cpu_reservation="4", memory_limit="16G", memory_reservation="16G",
           generic_resources={"gpu": 1}, constraints=[{"key": "node.labels.gpu", "values": ["yes"]}],
           environment_variables={"CUDA_VISIBLE_DEVICES": "0"})


def test_hardware_four_steps(run_module, xnat):
    check = run_module(xnat_hardware, GPU, check_mode=True)
    assert check["changed"] is True and check["id"] is None
    assert xnat.writes() == []
    applied = run_module(xnat_hardware, GPU)
    assert applied["changed"] is True
    assert applied["hardware"]["generic_resources"] == {"gpu": "1"}
    assert applied["hardware"]["constraints"] == [{"key": "node.labels.gpu", "operator": "IN", "values": ["yes"]}]
    assert applied["diff"]["before"] == {}
    body = xnat.writes()[0][2]
    assert body["hardware"]["genericResources"] == [{"name": "gpu", "value": "1"}]
    assert body["scopes"]["Project"] == {"scope": "Project", "enabled": True, "ids": []}
    again = run_module(xnat_hardware, GPU)
    assert again["changed"] is False and again["id"] == applied["id"]
    check_again = run_module(xnat_hardware, GPU, check_mode=True)
    assert check_again["changed"] is False
    assert len(xnat.writes()) == 1


def test_hardware_update_keeps_unmanaged_fields_and_unnamed_options(run_module, xnat):
    hardware_id = xnat.add_compute("hardware", dict(hardware_item("Small"), extra="kept"))
    result = run_module(xnat_hardware, dict(name="Small", memory_limit="3G"))
    assert result["diff"]["before"]["memory_limit"] == "2G"
    assert result["diff"]["after"]["memory_limit"] == "3G"
    assert result["hardware"]["cpu_limit"] == 2.0
    kind, put_id, body = xnat.writes()[0][1:]
    assert (kind, put_id, body["extra"], body["id"]) == ("hardware", hardware_id, "kept", hardware_id)


def test_project_scope_with_ids_is_restricted_to_them(run_module, xnat):
    result = run_module(xnat_hardware, dict(name="GPU", scopes={"project": {"ids": ["NEURO01"]}}))
    assert result["hardware"]["scopes"] == {"site": {"enabled": True, "ids": []},
                                            "project": {"enabled": False, "ids": ["NEURO01"]},
                                            "user": {"enabled": True, "ids": []}}


def test_hardware_absent(run_module, xnat):
    hardware_id = xnat.add_compute("hardware", hardware_item("XLarge"))
    check = run_module(xnat_hardware, dict(name="XLarge", state="absent"), check_mode=True)
    assert check["changed"] is True and xnat.writes() == []
    result = run_module(xnat_hardware, dict(name="XLarge", state="absent"))
    assert result["changed"] is True
    assert xnat.writes() == [("delete_compute", "hardware", hardware_id)]
    again = run_module(xnat_hardware, dict(name="XLarge", state="absent"))
    assert again["changed"] is False


def test_duplicate_names_are_an_error(run_module, xnat, module_fail):
    first = xnat.add_compute("hardware", hardware_item("Small"))
    second = xnat.add_compute("hardware", hardware_item("Small"))
    with pytest.raises(module_fail) as failure:
        run_module(xnat_hardware, dict(name="Small", cpu_limit=1))
    assert failure.value.result["msg"] == (f"XNAT holds 2 hardware configurations named 'Small' (ids {first}, {second})"
                                           "; names must be unique for this module to manage them")


ENV = dict(name="Notebook", image="xnat/datascience-notebook:latest", hardware=["Small", "Medium"],
           environment_variables={"TZ": "UTC"},
           mounts=[{"local_path": "/srv/ref", "container_path": "/ref"}])


def test_environment_four_steps_with_hardware_by_name(run_module, xnat):
    small = xnat.add_compute("hardware", hardware_item("Small"))
    medium = xnat.add_compute("hardware", hardware_item("Medium"))
    check = run_module(xnat_compute_environment, ENV, check_mode=True)
    assert check["changed"] is True and xnat.writes() == []
    applied = run_module(xnat_compute_environment, ENV)
    body = xnat.writes()[0][2]
    assert body["hardwareOptions"] == {"allowAllHardware": False, "hardwareConfigs": [{"id": medium}, {"id": small}]}
    assert body["configTypes"] == ["JUPYTERHUB"]
    assert body["computeEnvironment"]["mounts"] == [
        {"volumeName": "", "localPath": "/srv/ref", "containerPath": "/ref", "readOnly": True}]
    assert applied["environment"]["hardware"] == ["Medium", "Small"]
    assert applied["environment"]["allow_all_hardware"] is False
    again = run_module(xnat_compute_environment, ENV)
    assert again["changed"] is False
    check_again = run_module(xnat_compute_environment, ENV, check_mode=True)
    assert check_again["changed"] is False
    assert len(xnat.writes()) == 1


def test_environment_reads_hardware_embedded_as_objects(run_module, xnat):
    small = xnat.add_compute("hardware", hardware_item("Small"))
    xnat.add_compute("environments", {
        "configTypes": ["JUPYTERHUB"], "scopes": OPEN,
        "computeEnvironment": {"name": "Notebook", "image": "img:1", "command": None, "environmentVariables": [],
                               "mounts": []},
        "hardwareOptions": {"allowAllHardware": False, "hardwareConfigs": [dict(hardware_item("Small"), id=small)]}})
    result = run_module(xnat_compute_environment, dict(name="Notebook", image="img:1", hardware=["Small"]))
    assert result["changed"] is False


def test_unknown_hardware_name_is_an_error(run_module, xnat, module_fail):
    xnat.add_compute("hardware", hardware_item("Small"))
    with pytest.raises(module_fail) as failure:
        run_module(xnat_compute_environment, dict(ENV, hardware=["Small", "Huge"]))
    assert failure.value.result["msg"] == "unknown hardware configuration(s): Huge. Known: Small"
    assert xnat.writes() == []


def test_environment_needs_an_image_to_be_created(run_module, xnat, module_fail):
    with pytest.raises(module_fail) as failure:
        run_module(xnat_compute_environment, dict(name="Notebook"))
    assert failure.value.result["msg"] == "compute environment 'Notebook' does not exist; to create it, give image"


def test_allow_all_hardware_again(run_module, xnat):
    xnat.add_compute("hardware", hardware_item("Small"))
    run_module(xnat_compute_environment, dict(ENV, hardware=["Small"]))
    result = run_module(xnat_compute_environment, dict(name="Notebook", allow_all_hardware=True, hardware=[]))
    assert result["environment"]["allow_all_hardware"] is True
    assert result["environment"]["hardware"] == []


def test_environment_absent(run_module, xnat):
    env_id = xnat.add_compute("environments", {"configTypes": ["JUPYTERHUB"], "scopes": OPEN,
                                               "computeEnvironment": {"name": "Old", "image": "x"},
                                               "hardwareOptions": {"allowAllHardware": True, "hardwareConfigs": []}})
    result = run_module(xnat_compute_environment, dict(name="Old", state="absent"))
    assert result["changed"] is True and result["environment"] == {}
    assert xnat.writes() == [("delete_compute", "environments", env_id)]


def test_hardware_warns_about_a_constraint_swarm_cannot_meet(run_module, xnat):
    run_module(xnat_hardware, dict(name="Zoned", constraints=[{"key": "node.labels.zone", "values": ["a", "b"]}]))
    assert xnat.warnings == [
        "Swarm can never satisfy node.labels.zone IN a, b: XNAT turns it into one required constraint per value"]


CONSTRAINT = dict(key="node.labels.jupyter", values=["true"], scopes={"project": {"ids": ["NEURO01"]}})


def test_constraint_four_steps_by_key(run_module, xnat):
    check = run_module(xnat_compute_constraint, CONSTRAINT, check_mode=True)
    assert check["changed"] is True and xnat.writes() == []
    applied = run_module(xnat_compute_constraint, CONSTRAINT)
    body = xnat.writes()[0][2]
    assert body == {"constraint": {"key": "node.labels.jupyter", "operator": "IN", "values": ["true"]},
                    "scopes": {"Site": {"scope": "Site", "enabled": True, "ids": []},
                               "Project": {"scope": "Project", "enabled": False, "ids": ["NEURO01"]}}}
    assert applied["constraint"]["scopes"] == {"site": {"enabled": True, "ids": []},
                                               "project": {"enabled": False, "ids": ["NEURO01"]}}
    again = run_module(xnat_compute_constraint, CONSTRAINT)
    check_again = run_module(xnat_compute_constraint, CONSTRAINT, check_mode=True)
    assert again["changed"] is False and check_again["changed"] is False
    assert len(xnat.writes()) == 1
    flipped = run_module(xnat_compute_constraint, dict(CONSTRAINT, operator="NOT_IN", values=["false"]))
    assert flipped["diff"]["before"]["operator"] == "IN" and flipped["diff"]["after"]["operator"] == "NOT_IN"
    assert flipped["id"] == applied["id"]
    removed = run_module(xnat_compute_constraint, dict(key="node.labels.jupyter", state="absent"))
    assert removed["changed"] is True and xnat.compute["constraints"] == {}


def test_constraint_needs_values_to_be_created(run_module, xnat, module_fail):
    with pytest.raises(module_fail) as failure:
        run_module(xnat_compute_constraint, dict(key="node.role"))
    assert failure.value.result["msg"] == "compute constraint on 'node.role' does not exist; to create it, give values"
    assert xnat.writes() == []
