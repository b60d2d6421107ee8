import copy
import re

import pytest

from xnat_jupyterhub_hub.service_spec import (
    InvalidUserOptions,
    MountSpec,
    SpecSettings,
    service_name,
    user_options_to_service_spec,
)

GiB = 1024**3
DEFAULT_SETTINGS = SpecSettings()

# The contract's example answer (§1.3.1), with the alias token replaced.
XNAT_OPTIONS = {
    "userId": 5, "servername": "20250311T172455123Z", "xsiType": "xnat:experimentData",
    "itemId": "XNAT_E00042", "projectId": "NEURO01", "eventTrackingId": "20250311T172455123Z",
    "task_template": {
        "container_spec": {
            "image": "xnat/datascience-notebook:latest", "command": None, "labels": {},
            "env": {"XNAT_HOST": "https://xnat.example.org", "XNAT_USER": "alias", "XNAT_PASS": "secret",
                    "XNAT_DATA": "/data", "JUPYTERHUB_ROOT_DIR": "/workspace/jsmith"},
            "mounts": [
                {"target": "/workspace/jsmith", "source": "/srv/xnat-data/workspaces/users/jsmith",
                 "type": "bind", "read_only": False},
                {"target": "/data/projects/NEURO01/experiments/SUBJ01_MR1",
                 "source": "/srv/xnat-data/archive/NEURO01/arc001/SUBJ01_MR1", "type": "bind", "read_only": True},
            ],
        },
        "resources": {"cpu_limit": 2.0, "cpu_reservation": 2.0, "mem_limit": "4G",
                      "mem_reservation": "4G", "generic_resources": {}},
        "placement": {"constraints": ["node.role==worker"]},
    },
}


def options_with(path, value):
    """XNAT_OPTIONS with one field under task_template replaced ('a.b.c'); value ... deletes it."""
    options = copy.deepcopy(XNAT_OPTIONS)
    *parents, last = path.split(".")
    node = options["task_template"]
    for key in parents:
        node = node[key]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return options


def spec_with(path, value, settings=DEFAULT_SETTINGS):
    return user_options_to_service_spec(options_with(path, value), settings)


def rejects(path, value, message, settings=DEFAULT_SETTINGS):
    with pytest.raises(InvalidUserOptions, match=re.escape(message)):
        spec_with(path, value, settings)


def test_contract_example():
    spec = user_options_to_service_spec(XNAT_OPTIONS)
    assert spec.image == "xnat/datascience-notebook:latest"
    assert spec.args is None
    assert spec.env["XNAT_PASS"] == "secret" and spec.env["XNAT_DATA"] == "/data"
    assert spec.mounts == [
        MountSpec("/workspace/jsmith", "/srv/xnat-data/workspaces/users/jsmith", "bind", False),
        MountSpec("/data/projects/NEURO01/experiments/SUBJ01_MR1",
                  "/srv/xnat-data/archive/NEURO01/arc001/SUBJ01_MR1", "bind", True),
    ]
    assert spec.labels == {}
    assert (spec.cpu_limit, spec.cpu_reservation) == (2.0, 2.0)
    assert (spec.mem_limit, spec.mem_reservation) == (4 * GiB, 4 * GiB)
    assert spec.generic_resources == {}
    assert spec.constraints == ["node.role==worker"]


def test_input_is_not_modified():
    options = copy.deepcopy(XNAT_OPTIONS)
    user_options_to_service_spec(options)
    assert options == XNAT_OPTIONS


# --- structure ---

@pytest.mark.parametrize("options, message", [
    (None, "user options is missing"),
    ([], "user options must be an object"),
    ({}, "task_template is missing"),
    ({"task_template": None}, "task_template is missing"),
    ({"task_template": {"resources": {}}}, "task_template.container_spec is missing"),
    ({"task_template": {"container_spec": "x"}}, "task_template.container_spec must be an object"),
])
def test_structure_errors(options, message):
    with pytest.raises(InvalidUserOptions, match=re.escape(message)):
        user_options_to_service_spec(options)


def test_resources_and_placement_may_be_absent_or_null():
    for value in (..., None):
        spec = spec_with("resources", value)
        assert spec.cpu_limit is None and spec.mem_limit is None and spec.generic_resources == {}
        assert spec_with("placement", value).constraints == []


# --- image ---

def test_image_is_required():
    for value in (..., None, "", "  "):
        rejects("container_spec.image", value, "task_template.container_spec.image is missing")


@pytest.mark.parametrize("image", ["Upper/case", "a b", "img;rm -rf /", "-x", "x" * 300])
def test_image_must_be_a_reference(image):
    rejects("container_spec.image", image, "is not a valid image reference")


@pytest.mark.parametrize("image", [
    "busybox", "xnat-jupyterhub/notebook:1.0", "registry.example.org:5000/team/nb:2025-01",
    "nb@sha256:" + "a" * 64,
])
def test_valid_images(image):
    assert spec_with("container_spec.image", image).image == image


def test_image_allow_list():
    settings = SpecSettings(allowed_images=("xnat-jupyterhub/*", "xnat/datascience-notebook:latest"))
    assert spec_with("container_spec.image", "xnat-jupyterhub/notebook:1", settings).image
    assert user_options_to_service_spec(XNAT_OPTIONS, settings).image
    rejects("container_spec.image", "evil/miner:latest", "not in the hub's allowed images", settings)


# --- command ---

def test_command_is_split_like_a_shell():
    command = "jhsingle-native-proxy --port 8888 --destport 5006 --repo 'https://x/y z' {--}server=panel"
    spec = spec_with("container_spec.command", command)
    assert spec.args == ["jhsingle-native-proxy", "--port", "8888", "--destport", "5006",
                         "--repo", "https://x/y z", "{--}server=panel"]


def test_empty_command_means_the_image_default():
    assert spec_with("container_spec.command", "").args is None
    assert spec_with("container_spec.command", ...).args is None


def test_bad_quoting_is_an_error():
    rejects("container_spec.command", "start 'unterminated", "command cannot be parsed")
    rejects("container_spec.command", ["a", "b"], "command must be a string")


# --- env and labels ---

def test_env_numbers_become_strings():
    spec = spec_with("container_spec.env", {"N": 3, "F": 1.5, "S": ""})
    assert spec.env == {"N": "3", "F": "1.5", "S": ""}


@pytest.mark.parametrize("env, message", [
    ({"": "x"}, "has an invalid key"),
    ({"A=B": "x"}, "has an invalid key"),
    ({"1X": "x"}, "has an invalid key"),
    ({1: "x"}, "has an invalid key"),
    ({"A": None}, "env.A must be a string"),
    ({"A": True}, "env.A must be a string"),
    ({"A": {"nested": 1}}, "env.A must be a string"),
    ({"A": "x\0y"}, "env.A contains a NUL"),
    (["A=B"], "env must be an object"),
])
def test_env_errors(env, message):
    rejects("container_spec.env", env, message)


def test_labels():
    assert spec_with("container_spec.labels", {"team": "neuro"}).labels == {"team": "neuro"}
    assert spec_with("container_spec.labels", None).labels == {}
    rejects("container_spec.labels", {"team": ["a"]}, "labels.team must be a string")


# --- mounts ---

def mount(target="/data/x", source="/srv/x", type="bind", read_only=True):
    return {"target": target, "source": source, "type": type, "read_only": read_only}


def test_mount_order_and_types_are_kept():
    mounts = [mount("/z", "/srv/z"), mount("/a", "vol_a", "volume", False), mount("/m", "/srv/m", read_only=False)]
    spec = spec_with("container_spec.mounts", mounts)
    assert spec.mounts == [MountSpec("/z", "/srv/z", "bind", True), MountSpec("/a", "vol_a", "volume", False),
                           MountSpec("/m", "/srv/m", "bind", False)]


def test_mount_defaults_and_normalisation():
    spec = spec_with("container_spec.mounts", [{"target": "/data//x/", "source": "/srv/./x"}])
    assert spec.mounts == [MountSpec("/data/x", "/srv/x", "bind", False)]
    assert spec_with("container_spec.mounts", None).mounts == []


@pytest.mark.parametrize("mounts, message", [
    ([mount(), mount(source="/srv/y")], "mounts[1].target '/data/x' is used by another mount"),
    ([mount(), mount(target="/data/x/")], "mounts[1].target '/data/x' is used by another mount"),
    ([mount(target="data/x")], "mounts[0].target 'data/x' is not an absolute path"),
    ([mount(target="")], "mounts[0].target is empty"),
    ([mount(target="/")], "mounts[0].target must not be /"),
    ([mount(target="/data/../etc")], "must not contain '..'"),
    ([mount(source="srv/x")], "mounts[0].source 'srv/x' is not an absolute path"),
    ([mount(source=None)], "mounts[0].source is empty"),
    ([mount(source="/srv/../var/run/docker.sock")], "must not contain '..'"),
    ([mount(source="/srv/data", type="volume")], "mounts[0].source '/srv/data' is not a Docker volume name"),
    ([mount(type="tmpfs")], "mounts[0].type must be 'bind' or 'volume'"),
    ([mount(read_only="yes")], "mounts[0].read_only must be true or false"),
    ([None], "mounts[0] is missing"),
    ({"target": "/x"}, "mounts must be a list"),
])
def test_mount_errors(mounts, message):
    rejects("container_spec.mounts", mounts, message)


def test_bind_prefix_allow_list():
    settings = SpecSettings(allowed_bind_prefixes=("/srv/xnat-data",))
    assert user_options_to_service_spec(XNAT_OPTIONS, settings).mounts
    rejects("container_spec.mounts", [mount(source="/var/run/docker.sock")],
            "mounts[0].source '/var/run/docker.sock' is outside the hub's allowed bind-mount directories", settings)
    rejects("container_spec.mounts", [mount(source="/srv/xnat-data-other")], "outside", settings)


# --- resources ---

@pytest.mark.parametrize("value, size", [
    ("4G", 4 * GiB), ("512M", 512 * 1024**2), ("1.5g", int(1.5 * GiB)), ("2GiB", 2 * GiB),
    ("1T", 1024 * GiB), ("65536k", 64 * 1024**2), (8 * GiB, 8 * GiB), ("", None), (None, None), ("0G", None),
])
def test_memory_sizes(value, size):
    assert spec_with("resources", {"mem_limit": value}).mem_limit == size
    assert spec_with("resources", {"mem_reservation": value}).mem_reservation == size


@pytest.mark.parametrize("value, message", [
    ("four gigs", "is not a size"), ("-1G", "is not a size"), ("4X", "is not a size"),
    ("4096", "below 4 MiB"), (True, "must be a size"), ([4], "is not a size"),
])
def test_memory_errors(value, message):
    rejects("resources.mem_limit", value, "resources.mem_limit")
    rejects("resources.mem_reservation", value, message)


def test_reservations_must_fit_the_limits():
    options = options_with("resources", {"mem_limit": "1G", "mem_reservation": "2G"})
    with pytest.raises(InvalidUserOptions, match="mem_reservation exceeds mem_limit"):
        user_options_to_service_spec(options)
    options = options_with("resources", {"cpu_limit": 1, "cpu_reservation": 2})
    with pytest.raises(InvalidUserOptions, match="cpu_reservation exceeds cpu_limit"):
        user_options_to_service_spec(options)


def test_cpus():
    assert spec_with("resources", {"cpu_limit": 0.5}).cpu_limit == 0.5
    assert spec_with("resources", {"cpu_reservation": 1}).cpu_reservation == 1.0
    assert spec_with("resources.cpu_limit", 0).cpu_limit is None  # XNAT's "not set"
    rejects("resources.cpu_limit", -1, "cpu_limit must not be negative")
    rejects("resources.cpu_reservation", "2", "cpu_reservation must be a number")


def test_generic_resources_become_discrete_counts():
    spec = spec_with("resources.generic_resources", {"gpu": "1", "fpga": 2, "none": "0"})
    assert spec.generic_resources == {"gpu": 1, "fpga": 2}


@pytest.mark.parametrize("value, message", [
    ({"gpu": "one"}, "generic_resources.gpu must be a whole number"),
    ({"gpu": "1.5"}, "must be a whole number"),
    ({"gpu": "-1"}, "must be a whole number"),
    ({"gpu": True}, "must be a whole number"),
    ({"bad name": "1"}, "invalid resource name"),
    (["gpu"], "generic_resources must be an object"),
])
def test_generic_resource_errors(value, message):
    rejects("resources.generic_resources", value, message)


# --- placement ---

def test_constraints_are_normalised_and_deduplicated():
    constraints = ["node.labels.type == jupyter", "node.role!=manager", "node.labels.type==jupyter",
                   "engine.labels.gpu==true", "node.hostname==n1", "node.platform.arch==x86_64"]
    assert spec_with("placement.constraints", constraints).constraints == [
        "node.labels.type==jupyter", "node.role!=manager", "engine.labels.gpu==true",
        "node.hostname==n1", "node.platform.arch==x86_64"]


@pytest.mark.parametrize("constraint", [
    "node.role=worker", "node.role>=1", "node.role", "role==worker", "node.labels.==x",
    "node.role==", "node.role==a b", 7, None,
])
def test_bad_constraints(constraint):
    rejects("placement.constraints", [constraint], "placement.constraints[0]")


def test_constraints_must_be_a_list():
    rejects("placement.constraints", "node.role==worker", "constraints must be a list")


# --- service names ---

HOSTILE = ["JSmith", "jsmith", "o'neil.j", "a.b", "a-b", "x" * 64, "../../etc", "jürgen", "a\nb", "", "--", "Ω"]


@pytest.mark.parametrize("user", HOSTILE)
@pytest.mark.parametrize("server", ["", "20250311T172455123Z", "y" * 200, "has space", "-"])
def test_service_names_are_valid_docker_names(user, server):
    name = service_name("jupyter", user, server)
    assert len(name) <= 63
    assert re.fullmatch(r"[a-z][a-z0-9-]*[a-z0-9]", name), name


def test_service_names_are_unique_and_stable():
    names = {service_name("jupyter", u, s) for u in HOSTILE for s in ["", "s", "S", "x" * 100, "x" * 101]}
    assert len(names) == len(HOSTILE) * 5
    assert service_name("jupyter", "JSmith", "s1") == service_name("jupyter", "JSmith", "s1")


def test_service_names_stay_readable():
    assert service_name("jupyter", "JSmith", "20250311T172455123Z").startswith("jupyter-jsmith-20250311t172455123z-")
