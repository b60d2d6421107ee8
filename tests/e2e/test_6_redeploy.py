"""Re-running site.yml: idempotent, also after the operator's hub restart of test_5; a changed hub setting
updates the hub alone and running notebooks carry on."""

from __future__ import annotations

import secrets

from local_site import notebook_state, run_site_playbook, workspace_file, write_workspace_file

MARKER_FILE = "e2e-redeploy-marker.txt"
HUB_ROLE_TASK = "xnat_jupyterhub.deploy.hub : "


def test_rerun_of_site_yml_changes_nothing_even_after_a_hub_restart(site):
    run = run_site_playbook(site.logs / "rerun.log")
    assert run.returncode == 0, run.describe()
    assert run.changed() == 0, f"changed: {run.changed_tasks()}\n{run.describe()}"


def _redeploy_and_check(site, launch, log_name, extra_args, level, notebook, marker):
    hub_task = site.hub_task_id()
    run = run_site_playbook(site.logs / log_name, *extra_args)
    assert run.returncode == 0, run.describe()
    assert run.changed() > 0, f"the hub setting changed nothing\n{run.describe()}"
    assert all(task.startswith(HUB_ROLE_TASK) for task in run.changed_tasks()), run.changed_tasks()
    assert site.swarm.hub_env()["JH_LOG_LEVEL"] == level
    assert site.hub_task_id() != hub_task, "the hub service kept its old task"
    site.assert_notebook_kept(launch, notebook)
    assert workspace_file(launch, MARKER_FILE) == marker


def test_hub_setting_change_updates_the_hub_and_keeps_the_running_notebook(site, alice_launch):
    original = site.swarm.hub_env()["JH_LOG_LEVEL"]
    changed = "DEBUG" if original != "DEBUG" else "INFO"
    notebook = notebook_state(site.swarm, alice_launch.user, alice_launch.server)
    marker = secrets.token_hex(8)
    write_workspace_file(alice_launch, MARKER_FILE, marker)
    restore_attempted = False
    try:
        _redeploy_and_check(site, alice_launch, "hub-setting-changed.log", ["-e", f"hub_log_level={changed}"],
                            changed, notebook, marker)
        restore_attempted = True
        _redeploy_and_check(site, alice_launch, "hub-setting-restored.log", [], original, notebook, marker)
    finally:
        if not restore_attempted:
            run_site_playbook(site.logs / "hub-setting-restored.log")
