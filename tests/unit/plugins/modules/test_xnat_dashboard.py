"""xnat_dashboard_framework and xnat_dashboard: the four steps, references by name, refusals before any write."""

import pytest

from ansible_collections.xnat_jupyterhub.deploy.plugins.modules import xnat_dashboard, xnat_dashboard_framework

OPEN = {key: {"scope": key, "enabled": True, "ids": []} for key in ("Site", "Project", "User")}
PANEL = "jhsingle-native-proxy --repo {repo} --repobranch {repobranch} bokeh-root-cmd {mainFilePath}"
PANEL_DASHBOARD = dict(name="Explorer", framework="Panel", git_repo_url="https://git.example.org/a.git",
                       main_file_path="app.py", compute_environment="Dashboards", hardware="Small",
                       scopes={"project": {"ids": ["NEURO01"]}})


@pytest.fixture
def site(xnat):
    small = xnat.add_compute("hardware", {"hardware": {"name": "Small"}, "scopes": OPEN})
    xnat.add_compute("hardware", {"hardware": {"name": "Large"}, "scopes": OPEN})
    xnat.add_compute("environments", {"computeEnvironment": {"name": "Dashboards"}, "scopes": OPEN,
                                      "hardwareOptions": {"allowAllHardware": False,
                                                          "hardwareConfigs": [{"id": small}]}})
    xnat.create_dashboard("frameworks", {"name": "Panel", "commandTemplate": PANEL})
    xnat.calls.clear()
    return xnat


def test_framework_four_steps(run_module, site):
    args = dict(name="Gradio", command_template="gradio {mainFilePath}")
    check = run_module(xnat_dashboard_framework, args, check_mode=True)
    assert check["changed"] is True and site.writes() == []
    applied = run_module(xnat_dashboard_framework, args)
    assert applied["changed"] is True and applied["framework"]["command_template"] == "gradio {mainFilePath}"
    assert run_module(xnat_dashboard_framework, args)["changed"] is False
    assert run_module(xnat_dashboard_framework, args, check_mode=True)["changed"] is False
    updated = run_module(xnat_dashboard_framework, dict(args, command_template="gradio2 {mainFilePath}"))
    assert updated["changed"] is True and site.writes()[-1][:3] == ("update_dashboard", "frameworks", "Gradio")
    gone = run_module(xnat_dashboard_framework, dict(name="Gradio", state="absent"))
    assert gone["changed"] is True and site.writes()[-1] == ("delete_dashboard", "frameworks", "Gradio")


def test_dashboard_four_steps_and_body(run_module, site):
    check = run_module(xnat_dashboard, PANEL_DASHBOARD, check_mode=True)
    assert check["changed"] is True and site.writes() == []
    applied = run_module(xnat_dashboard, PANEL_DASHBOARD)
    body = site.writes()[0][2]
    assert body["dashboard"]["gitRepoBranch"] == "main" and body["dashboard"]["framework"] == "Panel"
    assert body["scopes"]["Project"] == {"scope": "Project", "enabled": False, "ids": ["NEURO01"]}
    assert body["scopes"]["DataType"]["enabled"] is True and body["hardwareConfig"]["id"] == 1
    assert applied["dashboard"]["compute_environment"] == "Dashboards"
    assert run_module(xnat_dashboard, PANEL_DASHBOARD)["changed"] is False
    assert run_module(xnat_dashboard, PANEL_DASHBOARD, check_mode=True)["changed"] is False


@pytest.mark.parametrize("change, message", [
    ({"framework": "Nope"}, "unknown dashboard framework 'Nope'"),
    ({"compute_environment": "Nope"}, "unknown compute environment 'Nope'"),
    ({"hardware": "Large"}, "does not offer hardware 'Large'"),
    ({"git_repo_url": "-u x"}, "is not a git URL"),
    ({"git_repo_branch": "a/../b"}, "is not a branch name"),
    ({"main_file_path": "../x.py"}, "must be a relative path"),
    ({"name": "a\x00b"}, "is not valid"),
    ({"git_repo_url": ""}, "uses {repo}: give git_repo_url"),
    ({"framework": "custom"}, "a custom dashboard needs a command"),
])
def test_dashboard_refusals_write_nothing(run_module, module_fail, site, change, message):
    with pytest.raises(module_fail) as failure:
        run_module(xnat_dashboard, dict(PANEL_DASHBOARD, **change))
    assert message in failure.value.result["msg"] and failure.value.result["changed"] is False
    assert site.writes() == []
