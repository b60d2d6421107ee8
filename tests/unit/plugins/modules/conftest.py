"""Run a module's main() in-process against an in-memory XNAT that stands in for the client."""

import copy
import json

import pytest
from ansible.module_utils import basic

from ansible_collections.xnat_jupyterhub.deploy.plugins.module_utils.xnat import XnatRequestError

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core before 2.19
    import contextlib

    from ansible.module_utils.common.text.converters import to_bytes

    @contextlib.contextmanager
    def patch_module_args(args):
        saved = basic._ANSIBLE_ARGS
        basic._ANSIBLE_ARGS = to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
        try:
            yield
        finally:
            basic._ANSIBLE_ARGS = saved

CONNECTION = dict(url="https://xnat.example.org", auth_username="admin", auth_password="Adm1n-S3cret-value")
WRITES = ("create_user", "update_user", "set_user_enabled", "set_user_verified", "add_user_roles", "remove_user_role",
          "set_jupyterhub_preferences", "create_compute", "update_compute", "delete_compute",
          "create_dashboard", "update_dashboard", "delete_dashboard")


class ModuleExit(Exception):
    def __init__(self, result):
        super().__init__(result)
        self.result = result


class ModuleFail(Exception):
    def __init__(self, result):
        super().__init__(result.get("msg"))
        self.result = result


class FakeXnat:
    """The XNAT client's interface over in-memory state; records every write call."""

    def __init__(self):
        self.defined_roles = {"Administrator", "JupyterHub", "Jupyter", "DataManager"}
        self.users = {}
        self.passwords = {}
        self.preferences = {
            "jupyterHubHostUrl": "", "jupyterHubApiUrl": "http://172.17.0.1/jupyterhub/hub/api",
            "jupyterHubToken": "secret-token", "startTimeout": 180, "stopTimeout": 60, "startPollingInterval": 8,
            "stopPollingInterval": 2, "pathTranslationArchivePrefix": "", "pathTranslationArchiveDockerPrefix": "",
            "pathTranslationWorkspacePrefix": "", "pathTranslationWorkspaceDockerPrefix": "",
            "workspacePath": "/data/xnat/workspaces", "inactivityTimeout": 60, "maxServerLifetime": 48,
            "maxNamedServers": 1, "allUsersCanStartJupyter": False, "placementSpecConstraints": [],
            "resourceSpecCpuLimit": 0.0,
        }
        self.ignored_preferences = set()
        self.compute = {"environments": {}, "hardware": {}, "constraints": {}}
        self.dashboards = {"frameworks": {}, "configs": {}}
        self.next_id = 1
        self.calls = []
        self.probes = []
        self.warnings = []

    # helpers for tests
    def add_user(self, name, password, enabled=True, verified=True, roles=(), email=None):
        self.users[name] = dict(username=name, firstName=name, lastName=name, email=email or name + "@example.org",
                                enabled=enabled, verified=verified, roles=sorted(roles))
        self.passwords[name] = password

    def add_compute(self, kind, item):
        item = copy.deepcopy(item)
        item["id"] = self.next_id
        self.next_id += 1
        self.compute[kind][item["id"]] = item
        return item["id"]

    @property
    def changes_made(self):
        return bool(self.writes())

    def writes(self):
        return [c for c in self.calls if c[0] in WRITES]

    def _record(self, name, *args):
        self.calls.append((name,) + args)

    # users
    def get_user(self, name):
        user = self.users.get(name)
        return copy.deepcopy(user) if user else None

    def create_user(self, body):
        self._record("create_user", dict((k, v) for k, v in body.items() if k != "password"))
        self.add_user(body["username"], body["password"], body["enabled"], body["verified"], email=body["email"])
        self.users[body["username"]].update(firstName=body["firstName"], lastName=body["lastName"])

    def update_user(self, name, body):
        self._record("update_user", name, sorted(body))
        if "password" in body:
            self.passwords[name] = body["password"]
        for field in ("firstName", "lastName", "email"):
            if field in body:
                self.users[name][field] = body[field]

    def set_user_enabled(self, name, enabled):
        self._record("set_user_enabled", name, enabled)
        self.users[name]["enabled"] = enabled

    def set_user_verified(self, name, verified):
        self._record("set_user_verified", name, verified)
        self.users[name]["verified"] = verified

    def undefined_roles(self, name, roles):
        self._record("undefined_roles", name, list(roles))
        return sorted(r for r in roles if r not in self.defined_roles)

    def add_user_roles(self, name, roles):
        self._record("add_user_roles", name, list(roles))
        self.users[name]["roles"] = sorted(set(self.users[name]["roles"]) | set(roles))

    def remove_user_role(self, name, role):
        self._record("remove_user_role", name, role)
        self.users[name]["roles"] = sorted(set(self.users[name]["roles"]) - {role})

    def credentials_work(self, name, password):
        self.probes.append(name)
        user = self.users[name]
        return user["enabled"] and user["verified"] and self.passwords[name] == password

    # preferences
    def get_jupyterhub_preferences(self):
        return copy.deepcopy(self.preferences)

    def set_jupyterhub_preferences(self, values):
        self._record("set_jupyterhub_preferences", sorted(values))
        for name, value in values.items():
            if name in self.preferences and name not in self.ignored_preferences:
                self.preferences[name] = value

    # compute
    def list_compute(self, kind):
        return [copy.deepcopy(item) for _id, item in sorted(self.compute[kind].items())]

    def create_compute(self, kind, body):
        self._record("create_compute", kind, copy.deepcopy(body))
        return self.add_compute(kind, body)

    def update_compute(self, kind, config_id, body):
        self._record("update_compute", kind, config_id, copy.deepcopy(body))
        self.compute[kind][config_id] = dict(copy.deepcopy(body), id=config_id)

    def delete_compute(self, kind, config_id):
        self._record("delete_compute", kind, config_id)
        del self.compute[kind][config_id]

    # dashboards: frameworks are addressed by name, dashboards by id
    def list_dashboards(self, kind):
        return [copy.deepcopy(item) for _id, item in sorted(self.dashboards[kind].items())]

    def create_dashboard(self, kind, body):
        self._record("create_dashboard", kind, copy.deepcopy(body))
        item = dict(copy.deepcopy(body), id=self.next_id)
        self.next_id += 1
        self.dashboards[kind][item["id"]] = item
        return item

    def _dashboard_id(self, kind, key):
        if kind == "frameworks":
            return next(i for i, f in self.dashboards[kind].items() if f["name"] == key)
        return key

    def update_dashboard(self, kind, key, body):
        self._record("update_dashboard", kind, key, copy.deepcopy(body))
        config_id = self._dashboard_id(kind, key)
        self.dashboards[kind][config_id] = dict(copy.deepcopy(body), id=config_id)

    def delete_dashboard(self, kind, key):
        self._record("delete_dashboard", kind, key)
        del self.dashboards[kind][self._dashboard_id(kind, key)]


class FakeClientClass:
    def __init__(self, fake):
        self.fake = fake
        self.secrets = []

    def from_module(self, module, secrets=()):
        self.secrets.extend(s for s in secrets if s)
        return self.fake


@pytest.fixture
def xnat():
    return FakeXnat()


@pytest.fixture
def run_module(monkeypatch, xnat):
    """run_module(module, args, check_mode=False, diff=True) -> result;
    warnings land in xnat.warnings; failures raise ModuleFail."""

    def run(module, args, check_mode=False, diff=True):
        monkeypatch.setattr(module, "XnatRestClient", FakeClientClass(xnat))

        def exit_json(self, **kwargs):
            raise ModuleExit(kwargs)

        def fail_json(self, **kwargs):
            raise ModuleFail(kwargs)

        monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
        monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)
        monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, msg: xnat.warnings.append(msg))
        full_args = dict(CONNECTION, _ansible_check_mode=check_mode, _ansible_diff=diff)
        full_args.update(args)
        with patch_module_args(full_args):
            try:
                module.main()
            except ModuleExit as done:
                return done.result
        raise AssertionError("the module neither exited nor failed")

    return run


@pytest.fixture
def module_fail():
    return ModuleFail


@pytest.fixture
def xnat_error():
    return XnatRequestError
