"""User options: how XNAT builds them (§1.3.2) and how the hub reads them (§1.3, §1.3.1)."""

from __future__ import annotations

import pytest
import pytest_asyncio

from standin_testing import SERVICE, STANDIN_DIR
from xnat_standin.user_options import LaunchError, build_user_options, generalised_type, resolve_item, translate

ARCHIVE = STANDIN_DIR / "sample_archive"


@pytest.mark.parametrize(("path", "prefix", "server", "expected"), [
    # the plugin's unit-test examples (DefaultUserOptionsServiceTest)
    ("/data/xnat/archive/Project1", "/data/xnat/archive", "/docker/data/xnat/archive",
     "/docker/data/xnat/archive/Project1"),
    ("/data/xnat/workspaces/users/andy", "/data/xnat/workspaces", "/docker/data/xnat/workspaces",
     "/docker/data/xnat/workspaces/users/andy"),
    # Kubernetes recipe: PVC-relative sources
    ("/data/xnat/archive/NEURO01/arc001/S1", "/data/xnat/archive", ".", "./NEURO01/arc001/S1"),
    # either half blank: unchanged
    ("/data/xnat/archive/P", "", "/srv", "/data/xnat/archive/P"),
    ("/data/xnat/archive/P", "/data/xnat/archive", "  ", "/data/xnat/archive/P"),
    # String.replace is unanchored and replaces every occurrence
    ("/mnt/data/x/data/y", "/data", "/srv", "/mnt/srv/x/srv/y"),
])
def test_translate(path, prefix, server, expected):
    assert translate(path, prefix, server) == expected


@pytest.mark.parametrize(("given", "stored"), [
    ("xnat:mrSessionData", "xnat:experimentData"), ("xnat:petSessionData", "xnat:experimentData"),
    ("xnat:mrScanData", "xnat:imageScanData"), ("xnat:projectData", "xnat:projectData"),
    ("xnat:subjectData", "xnat:subjectData"),
])
def test_generalised_type(given, stored):
    assert generalised_type(given) == stored


@pytest_asyncio.fixture
async def sample(standin_factory, tmp_path):
    standin = await standin_factory("--seed", str(STANDIN_DIR / "sample_seed.yml"), "--archive-path", str(ARCHIVE),
                                    "--processing-url", "http://xnat-web:8080", "--site-url", "http://xnat.test")
    await standin.call("PUT", "/xapi/users/jupyterhub/enabled/true")
    await standin.create_user("jsmith", "pw-jsmith", roles=("Jupyter",))
    await standin.call("POST", "/xapi/jupyterhub/preferences", json_body={
        "workspacePath": str(tmp_path / "workspaces"),
        "pathTranslationArchivePrefix": str(ARCHIVE), "pathTranslationArchiveDockerPrefix": "/srv/archive",
        "pathTranslationWorkspacePrefix": str(tmp_path / "workspaces"),
        "pathTranslationWorkspaceDockerPrefix": "/srv/workspaces"})
    return standin


def _launch(standin, xsi_type, item_id, hardware_name="Small"):
    state = standin.state
    hardware = {h["hardware"]["name"]: hid for hid, h in state.store.compute_configs("hardware")}
    env_id = state.store.compute_configs("environments")[0][0]
    request = {"username": "jsmith", "servername": "20250311T172455123Z", "xsiType": xsi_type, "itemId": item_id,
               "itemLabel": "label", "projectId": "DEMO01", "eventTrackingId": "20250311T172455123Z",
               "computeEnvironmentConfigId": env_id, "hardwareConfigId": hardware[hardware_name]}
    user = state.store.user("jsmith")
    item = resolve_item(state.store, xsi_type, item_id, "DEMO01")
    return build_user_options(state, user, frozenset(state.store.roles(user.id)), request, item)


def _mounts(options):
    return [(m["target"], m["source"], m["read_only"]) for m in options["task_template"]["container_spec"]["mounts"]]


WORKSPACE_MOUNT = ("/workspace/jsmith", "/srv/workspaces/users/jsmith", False)


@pytest.mark.asyncio
async def test_experiment_launch_options(sample, tmp_path):
    options = _launch(sample, "xnat:mrSessionData", "XNAT_E00001")
    assert options["xsiType"] == "xnat:experimentData" and options["userId"] == sample.state.store.user("jsmith").id
    assert _mounts(options) == [
        WORKSPACE_MOUNT,
        ("/data/projects/DEMO01/experiments/SUBJ01_MR1", "/srv/archive/DEMO01/arc001/SUBJ01_MR1", True)]
    spec = options["task_template"]["container_spec"]
    assert spec["image"] == "xnat/datascience-notebook:latest" and spec["command"] is None and spec["labels"] == {}
    env = spec["env"]
    assert {k: env[k] for k in ("XNAT_HOST", "XNAT_DATA", "XNAT_XSI_TYPE", "XNAT_ITEM_ID", "JUPYTERHUB_ROOT_DIR",
                                "XDG_CONFIG_HOME")} == {
        "XNAT_HOST": "http://xnat-web:8080", "XNAT_DATA": "/data", "XNAT_XSI_TYPE": "xnat:experimentData",
        "XNAT_ITEM_ID": "XNAT_E00001", "JUPYTERHUB_ROOT_DIR": "/workspace/jsmith",
        "XDG_CONFIG_HOME": "/workspace/jsmith"}
    # the alias token works as Basic credentials for jsmith
    reply = await sample.call("GET", "/xapi/users/jsmith/roles", auth=(env["XNAT_USER"], env["XNAT_PASS"]))
    assert (reply.status, reply.json) == (200, ["Jupyter"])
    assert options["task_template"]["resources"] == {
        "cpu_limit": 2.0, "cpu_reservation": 2.0, "mem_limit": "2G", "mem_reservation": "2G", "generic_resources": {}}
    assert options["task_template"]["placement"] == {"constraints": []}
    git_config = tmp_path / "workspaces" / "users" / "jsmith" / "git" / "config"
    assert "[user]" in git_config.read_text()


@pytest.mark.asyncio
async def test_project_subject_and_scan_mounts(sample):
    project = _launch(sample, "xnat:projectData", "DEMO01")
    assert _mounts(project)[1:] == [
        ("/data/projects/DEMO01/experiments", "/srv/archive/DEMO01/arc001", True),
        ("/data/projects/DEMO01/resources", "/srv/archive/DEMO01/resources", True),
        ("/data/projects/DEMO01/subjects", "/srv/archive/DEMO01/subjects", True)]
    subject = _launch(sample, "xnat:subjectData", "XNAT_S00001")
    assert _mounts(subject)[1:] == [
        ("/data/projects/DEMO01/subject-resources/SUBJ01", "/srv/archive/DEMO01/subjects/SUBJ01", True),
        ("/data/projects/DEMO01/experiments/SUBJ01_MR1", "/srv/archive/DEMO01/arc001/SUBJ01_MR1", True)]
    scan_pk = str(sample.state.store.scans("XNAT_E00001")[1]["id"])
    scan = _launch(sample, "xnat:mrScanData", scan_pk)
    assert scan["xsiType"] == "xnat:imageScanData" and scan["itemId"] == scan_pk
    assert _mounts(scan)[1:] == [("/data/projects/DEMO01/experiments/SUBJ01_MR1/SCANS/2",
                                  "/srv/archive/DEMO01/arc001/SUBJ01_MR1/SCANS/2", True)]


@pytest.mark.asyncio
async def test_environment_mounts_env_order_and_constraints(sample):
    env_id, env = sample.state.store.compute_configs("environments")[0]
    env.update(computeEnvironment={**env["computeEnvironment"], "command": "start.sh --lab",
                                   "environmentVariables": [{"key": "SHARED", "value": "env"},
                                                            {"key": "XNAT_DATA", "value": "overridden?"}],
                                   "mounts": [{"volumeName": "refdata", "localPath": "/srv/ref",
                                               "containerPath": "/ref", "readOnly": True}]})
    reply = await sample.call("PUT", f"/xapi/compute/environments/{env_id}", json_body={"id": env_id, **env})
    assert reply.status == 200, reply.text
    await sample.call("POST", "/xapi/compute/hardware", json_body={
        "hardware": {"name": "GPU", "cpuLimit": None, "memoryLimit": "8G",
                     "constraints": [{"key": "node.labels.gpu", "values": ["a", "b"], "operator": "IN"},
                                     {"key": "node.role", "values": ["manager"], "operator": "NOT_IN"}],
                     "environmentVariables": [{"key": "SHARED", "value": "hardware"}],
                     "genericResources": [{"name": "gpu", "value": "1"}]},
        "scopes": {"Site": {"enabled": True}, "Project": {"enabled": True}, "User": {"enabled": True}}})
    await sample.call("POST", "/xapi/compute/constraints", json_body={
        "constraint": {"key": "node.labels.type", "values": ["jupyter"], "operator": "IN"},
        "scopes": {"Site": {"enabled": True}, "Project": {"enabled": False, "ids": ["DEMO01"]}}})
    await sample.call("POST", "/xapi/compute/constraints", json_body={
        "constraint": {"key": "node.labels.other", "values": ["x"], "operator": "IN"},
        "scopes": {"Site": {"enabled": True}, "Project": {"enabled": False, "ids": ["OTHER"]}}})
    options = _launch(sample, "xnat:mrSessionData", "XNAT_E00001", hardware_name="GPU")
    spec = options["task_template"]["container_spec"]
    assert spec["command"] == "start.sh --lab"
    assert spec["mounts"][0] == {"target": "/ref", "source": "/srv/ref", "type": "volume", "read_only": True}
    assert spec["mounts"][1]["target"] == "/workspace/jsmith"
    assert spec["env"]["SHARED"] == "hardware" and spec["env"]["XNAT_DATA"] == "/data"
    assert options["task_template"]["resources"] == {
        "cpu_limit": None, "cpu_reservation": None, "mem_limit": "8G", "mem_reservation": None,
        "generic_resources": {"gpu": "1"}}
    assert options["task_template"]["placement"]["constraints"] == [
        "node.labels.gpu==a", "node.labels.gpu==b", "node.role!=manager", "node.labels.type==jupyter"]


@pytest.mark.asyncio
async def test_user_options_endpoint(sample):
    state = sample.state
    user = state.store.user("jsmith")
    options = _launch(sample, "xnat:mrSessionData", "XNAT_E00001")
    options["task_template"]["resources"]["mem_limit"] = None
    state.store.put_user_options(user.id, "20250311T172455123Z", options)
    path = "/xapi/jupyterhub/users/jsmith/server/20250311T172455123Z/user-options"

    reply = await sample.call("GET", path, auth=SERVICE)
    assert reply.status == 200
    body = reply.json
    assert list(body) == ["userId", "servername", "xsiType", "itemId", "projectId", "eventTrackingId",
                          "task_template"]
    assert "itemLabel" not in body and "dashboardConfigId" not in body
    assert body["task_template"]["resources"]["mem_limit"] is None  # docker-model nulls are written
    assert "command" in body["task_template"]["container_spec"]
    assert body == options

    assert (await sample.call("GET", path, auth=("jsmith", "pw-jsmith"))).status == 403
    assert (await sample.call("GET", path, auth=None)).status == 401
    assert (await sample.call("GET", path)).status == 200  # administrators pass too
    missing = await sample.call("GET", "/xapi/jupyterhub/users/jsmith/server/other/user-options", auth=SERVICE)
    assert missing.status == 404 and missing.headers["Content-Type"].startswith("text/plain")
    assert (await sample.call("GET", "/xapi/jupyterhub/users/ghost/server/x/user-options", auth=SERVICE)).status == 404

    # the default server, as the hub asks for it ('//user-options') and by the documented path
    state.store.put_user_options(user.id, "", options)
    default = await sample.call("GET", "/xapi/jupyterhub/users/jsmith/server//user-options", auth=SERVICE)
    assert default.json == options
    assert (await sample.call("GET", "/xapi/jupyterhub/users/jsmith/server/user-options", auth=SERVICE)).status == 200


@pytest.mark.asyncio
async def test_user_options_hidden_once_project_unreadable(sample):
    state = sample.state
    user = state.store.user("jsmith")
    state.store.put_user_options(user.id, "s1", _launch(sample, "xnat:mrSessionData", "XNAT_E00001"))
    path = "/xapi/jupyterhub/users/jsmith/server/s1/user-options"
    assert (await sample.call("GET", path, auth=SERVICE)).status == 200
    state.store.upsert_project("DEMO01", "Demo project", "private", [])
    assert (await sample.call("GET", path, auth=SERVICE)).status == 404


@pytest.mark.asyncio
async def test_unsupported_and_unknown_launch_items(sample):
    store = sample.state.store
    for xsi_type, item_id in (("xdat:stored_search", "xs123"), ("@xnat:subjectData", "bundle")):
        with pytest.raises(LaunchError, match="not supported"):
            resolve_item(store, xsi_type, item_id, "DEMO01")
    for xsi_type, item_id, project in (("xnat:mrSessionData", "XNAT_E00001", "OTHER"),
                                       ("xnat:mrScanData", "not-a-number", "DEMO01"),
                                       ("xnat:subjectData", "XNAT_S99999", "DEMO01")):
        with pytest.raises(LaunchError, match="Unable to find"):
            resolve_item(store, xsi_type, item_id, project)
