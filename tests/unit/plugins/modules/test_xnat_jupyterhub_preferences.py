"""xnat_jupyterhub_preferences: validation, normalised comparison, token masking, read-back."""

import json

import pytest

from ansible_collections.xnat_jupyterhub.deploy.plugins.modules import xnat_jupyterhub_preferences as prefs_module

TOKEN = "hub-T0ken-value-123"


def test_changes_only_what_differs_after_normalisation(run_module, xnat):
    result = run_module(prefs_module, dict(preferences=dict(
        startTimeout="180", allUsersCanStartJupyter="true", maxNamedServers=2.0, jupyterHubApiUrl="http://hub:8000/jupyterhub/hub/api")))
    assert result["changed"] is True
    assert result["changed_preferences"] == ["allUsersCanStartJupyter", "jupyterHubApiUrl", "maxNamedServers"]
    assert xnat.writes() == [
        ("set_jupyterhub_preferences", ["allUsersCanStartJupyter", "jupyterHubApiUrl", "maxNamedServers"])]
    assert xnat.preferences["allUsersCanStartJupyter"] is True
    assert xnat.preferences["maxNamedServers"] == 2
    assert result["diff"]["before"]["startTimeout"] == 180
    assert result["diff"]["after"]["allUsersCanStartJupyter"] is True


def test_same_values_in_other_spellings_change_nothing(run_module, xnat):
    result = run_module(prefs_module, dict(preferences=dict(startTimeout="180", allUsersCanStartJupyter="no",
                                                            resourceSpecCpuLimit="0", stopTimeout=60.0)))
    assert result["changed"] is False
    assert result["changed_preferences"] == []
    assert xnat.writes() == []


def test_check_mode_writes_nothing(run_module, xnat):
    result = run_module(prefs_module, dict(preferences=dict(startTimeout=300), jupyterhub_token=TOKEN), check_mode=True)
    assert result["changed"] is True
    assert result["changed_preferences"] == ["jupyterHubToken", "startTimeout"]
    assert xnat.writes() == []
    assert xnat.preferences["startTimeout"] == 180


def test_unknown_name_is_an_error_listing_valid_names(run_module, xnat, module_fail):
    with pytest.raises(module_fail) as failure:
        run_module(prefs_module, dict(preferences=dict(startTimout=300, startTimeout=200)))
    msg = failure.value.result["msg"]
    assert msg.startswith("unknown JupyterHub preference(s): startTimout. Valid names: allUsersCanStartJupyter, ")
    assert "startTimeout" in msg and "jupyterHubToken" not in msg
    assert xnat.writes() == []


@pytest.mark.parametrize("name, value, reason", [
    ("startTimeout", "soon", "startTimeout must be an integer (got 'soon')"),
    ("startTimeout", True, "startTimeout must be an integer (got True)"),
    ("allUsersCanStartJupyter", "perhaps", "allUsersCanStartJupyter must be a boolean (got 'perhaps')"),
    ("workspacePath", 12, "workspacePath must be a string (got 12)"),
    ("jupyterHubApiUrl", "hub:8000", "jupyterHubApiUrl must be an http:// or https:// URL (got 'hub:8000')"),
    ("maxNamedServers", 0, "maxNamedServers must be at least 1 (got 0)"),
    ("placementSpecConstraints", "node.role==worker",
     "placementSpecConstraints must be a list (got 'node.role==worker')"),
])
def test_wrong_values_are_errors(run_module, xnat, module_fail, name, value, reason):
    with pytest.raises(module_fail) as failure:
        run_module(prefs_module, dict(preferences={name: value, "startPollingInterval": 4}))
    assert failure.value.result["msg"] == "invalid JupyterHub preference value(s): " + reason
    assert xnat.writes() == []


def test_half_a_path_translation_pair_is_an_error(run_module, xnat, module_fail):
    with pytest.raises(module_fail) as failure:
        run_module(prefs_module, dict(preferences=dict(pathTranslationArchivePrefix="/data/xnat/archive")))
    assert failure.value.result["msg"] == (
        "invalid JupyterHub preference value(s): pathTranslationArchivePrefix and pathTranslationArchiveDockerPrefix "
        "must both be set or both be empty (XNAT ignores half a pair)")
    result = run_module(prefs_module, dict(preferences=dict(pathTranslationArchivePrefix="/data/xnat/archive",
                                                            pathTranslationArchiveDockerPrefix="/srv/archive")))
    assert result["changed"] is True


def test_token_in_preferences_is_refused(run_module, xnat, module_fail):
    with pytest.raises(module_fail) as failure:
        run_module(prefs_module, dict(preferences=dict(jupyterHubToken=TOKEN)))
    assert failure.value.result["msg"] == ("jupyterHubToken is a secret: set it with the jupyterhub_token option, "
                                           "which is never logged")
    assert TOKEN not in json.dumps(failure.value.result)


def test_token_is_set_compared_and_never_shown(run_module, xnat):
    result = run_module(prefs_module, dict(jupyterhub_token=TOKEN))
    assert result["changed"] is True
    assert xnat.preferences["jupyterHubToken"] == TOKEN
    assert result["diff"] == dict(before=dict(jupyterHubToken="<hidden>"),
                                  after=dict(jupyterHubToken="<hidden, changed>"))
    assert result["preferences"]["jupyterHubToken"] == "<hidden>"
    again = run_module(prefs_module, dict(jupyterhub_token=TOKEN))
    assert again["changed"] is False
    for outcome in (result, again):
        dumped = json.dumps(outcome)
        assert TOKEN not in dumped and "secret-token" not in dumped
    assert prefs_module.XnatRestClient.secrets == [TOKEN]


def test_a_value_xnat_did_not_store_is_an_error(run_module, xnat, module_fail):
    xnat.ignored_preferences.add("stopTimeout")
    with pytest.raises(module_fail) as failure:
        run_module(prefs_module, dict(preferences=dict(stopTimeout=90, startTimeout=90)))
    assert failure.value.result["msg"] == "XNAT answered 200 but did not store preference(s): stopTimeout"
    assert failure.value.result["changed"] is True


def test_names_unknown_to_the_module_take_the_type_xnat_reports(run_module, xnat, module_fail):
    xnat.preferences["futureLimit"] = 5
    run_module(prefs_module, dict(preferences=dict(futureLimit="7")))
    assert xnat.preferences["futureLimit"] == 7
    with pytest.raises(module_fail):
        run_module(prefs_module, dict(preferences=dict(futureLimit="lots")))
