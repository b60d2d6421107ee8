"""xnat_user: creation, the disabled service account, the password probe, roles, check mode and diff."""

import pytest

from ansible_collections.xnat_jupyterhub.deploy.plugins.modules import xnat_user

SERVICE = dict(name="jupyterhub", password="N3w-Service-pass", enabled=True, verified=True, roles=["JupyterHub"])


@pytest.fixture
def plugin_account(xnat):
    """The account as the XNAT plugin creates it: disabled, well-known password, role JupyterHub."""
    xnat.add_user("jupyterhub", "jupyterhub", enabled=False, roles=["JupyterHub"])
    return xnat


def test_disabled_plugin_account_gets_password_before_it_is_enabled(run_module, plugin_account):
    result = run_module(xnat_user, SERVICE)
    assert result["changed"] is True
    assert result["password_changed"] is True
    assert result["user"]["enabled"] is True
    assert plugin_account.writes() == [
        ("update_user", "jupyterhub", ["password"]),
        ("set_user_enabled", "jupyterhub", True),
    ]
    assert plugin_account.passwords["jupyterhub"] == "N3w-Service-pass"
    assert result["diff"]["before"]["password"] == "<hidden>"
    assert result["diff"]["after"]["password"] == "<hidden, changed>"
    assert (result["diff"]["before"]["enabled"], result["diff"]["after"]["enabled"]) == (False, True)


def test_second_run_probes_the_password_and_changes_nothing(run_module, plugin_account):
    run_module(xnat_user, SERVICE)
    writes_before = len(plugin_account.writes())
    result = run_module(xnat_user, SERVICE)
    assert result["changed"] is False
    assert result["password_changed"] is False
    assert "diff" not in result
    assert plugin_account.probes == ["jupyterhub"]
    assert len(plugin_account.writes()) == writes_before


def test_wrong_password_on_enabled_account_is_reset_and_only_then(run_module, xnat):
    xnat.add_user("jupyterhub", "old-pass", roles=["JupyterHub"])
    result = run_module(xnat_user, SERVICE)
    assert result["changed"] is True and result["password_changed"] is True
    assert xnat.writes() == [("update_user", "jupyterhub", ["password"])]


def test_update_password_on_create_never_touches_an_existing_password(run_module, xnat):
    xnat.add_user("jupyterhub", "old-pass", roles=["JupyterHub"])
    result = run_module(xnat_user, dict(SERVICE, update_password="on_create"))
    assert result["changed"] is False
    assert xnat.probes == []
    assert xnat.passwords["jupyterhub"] == "old-pass"


def test_password_of_an_account_that_stays_disabled_is_left_alone_with_a_warning(run_module, plugin_account):
    result = run_module(xnat_user, dict(name="jupyterhub", password="N3w-Service-pass"))
    assert result["changed"] is False
    assert plugin_account.warnings == [
        "user 'jupyterhub' is and stays disabled or unverified, so its password cannot be checked;"
        " it was left unchanged"]
    assert plugin_account.writes() == []


def test_unverified_account_gets_password_before_it_is_verified(run_module, xnat):
    xnat.add_user("jupyterhub", "old", enabled=True, verified=False, roles=["JupyterHub"])
    result = run_module(xnat_user, SERVICE)
    assert result["password_changed"] is True
    assert xnat.probes == []
    assert xnat.writes() == [("update_user", "jupyterhub", ["password"]), ("set_user_verified", "jupyterhub", True)]
    again = run_module(xnat_user, SERVICE)
    assert again["changed"] is False
    assert xnat.probes == ["jupyterhub"]


def test_check_mode_reports_the_change_and_writes_nothing(run_module, plugin_account):
    result = run_module(xnat_user, SERVICE, check_mode=True)
    assert result["changed"] is True
    assert result["password_changed"] is True
    assert result["user"]["enabled"] is True
    assert plugin_account.writes() == []
    assert plugin_account.users["jupyterhub"]["enabled"] is False


def test_create_needs_password_and_email(run_module, xnat, module_fail):
    with pytest.raises(module_fail) as failure:
        run_module(xnat_user, dict(name="newbie", roles=["Jupyter"]))
    assert failure.value.result["msg"] == "user 'newbie' does not exist; to create it, give password and email"
    assert xnat.writes() == []


def test_create_with_roles_enables_only_after_the_roles_are_granted(run_module, xnat):
    result = run_module(xnat_user, dict(name="newbie", password="Pw-12345678", email="n@example.org",
                                        roles=["Jupyter"]))
    assert result["changed"] is True
    assert result["user"] == dict(name="newbie", first_name="newbie", last_name="newbie", email="n@example.org",
                                  enabled=True, verified=True, roles=["Jupyter"])
    assert [c[0] for c in xnat.writes()] == ["create_user", "add_user_roles", "set_user_enabled"]
    assert xnat.writes()[0][1]["enabled"] is False
    assert result["diff"]["before"] == {}
    assert result["diff"]["after"]["password"] == "<hidden, changed>"


def test_unknown_role_fails_before_anything_changes(run_module, xnat, module_fail):
    xnat.add_user("jsmith", "pw", roles=[])
    with pytest.raises(module_fail) as failure:
        run_module(xnat_user, dict(name="jsmith", roles=["Jupyter", "jupyterhub"], email="other@example.org"))
    assert failure.value.result["msg"] == ("unknown XNAT role(s): jupyterhub. Role names are case-sensitive, "
                                           "for example JupyterHub, Jupyter, Administrator")
    assert failure.value.result["changed"] is False
    assert xnat.writes() == []


def test_unknown_role_is_reported_in_check_mode_too(run_module, xnat, module_fail):
    xnat.add_user("jsmith", "pw", roles=[])
    with pytest.raises(module_fail):
        run_module(xnat_user, dict(name="jsmith", roles=["Bogus"]), check_mode=True)


def test_unknown_role_on_create_leaves_the_new_account_disabled(run_module, xnat, module_fail):
    with pytest.raises(module_fail) as failure:
        run_module(xnat_user, dict(name="newbie", password="Pw-12345678", email="n@example.org", roles=["Bogus"]))
    assert failure.value.result["msg"].endswith("; user 'newbie' was created disabled")
    assert failure.value.result["changed"] is True
    assert xnat.users["newbie"]["enabled"] is False
    assert xnat.users["newbie"]["roles"] == []


@pytest.mark.parametrize("roles_state, expected, writes", [
    ("present", ["DataManager", "Jupyter", "JupyterHub"], [("add_user_roles", "u", ["DataManager", "Jupyter"])]),
    ("absent", [], [("remove_user_role", "u", "JupyterHub")]),
    ("exact", ["DataManager", "Jupyter"], [("add_user_roles", "u", ["DataManager", "Jupyter"]),
                                           ("remove_user_role", "u", "JupyterHub")]),
])
def test_roles_state(run_module, xnat, roles_state, expected, writes):
    xnat.add_user("u", "pw", roles=["JupyterHub"])
    roles = ["Jupyter", "DataManager"] if roles_state != "absent" else ["JupyterHub", "Jupyter"]
    result = run_module(xnat_user, dict(name="u", roles=roles, roles_state=roles_state))
    assert result["user"]["roles"] == expected
    assert xnat.writes() == writes
    again = run_module(xnat_user, dict(name="u", roles=roles, roles_state=roles_state))
    assert again["changed"] is False


def test_profile_changes_go_in_one_put(run_module, xnat):
    xnat.add_user("u", "pw", email="old@example.org")
    result = run_module(xnat_user, dict(name="u", email="new@example.org", first_name="Una"))
    assert xnat.writes() == [("update_user", "u", ["email", "firstName"])]
    assert result["diff"]["before"]["email"] == "old@example.org"
    assert result["diff"]["after"]["email"] == "new@example.org"
    assert result["user"]["first_name"] == "Una"


def test_absent_disables_and_missing_user_is_already_absent(run_module, xnat):
    xnat.add_user("u", "pw")
    result = run_module(xnat_user, dict(name="u", state="absent"))
    assert result["changed"] is True and result["user"]["enabled"] is False
    assert xnat.writes() == [("set_user_enabled", "u", False)]
    again = run_module(xnat_user, dict(name="u", state="absent"))
    assert again["changed"] is False
    missing = run_module(xnat_user, dict(name="ghost", state="absent"))
    assert missing == dict(changed=False, password_changed=False, user={})


def test_the_password_is_handed_to_the_client_as_a_secret(run_module, xnat):
    xnat.add_user("jupyterhub", "old", roles=["JupyterHub"])
    run_module(xnat_user, SERVICE)
    assert xnat_user.XnatRestClient.secrets == ["N3w-Service-pass"]


def test_xnat_errors_fail_the_module_with_the_status(run_module, xnat, module_fail, xnat_error):
    def broken(name):
        raise xnat_error("XNAT answered HTTP 500 to GET /xapi/users/u/enabled: boom", status=500)
    xnat.get_user = broken
    with pytest.raises(module_fail) as failure:
        run_module(xnat_user, dict(name="u"))
    assert failure.value.result == dict(msg="XNAT answered HTTP 500 to GET /xapi/users/u/enabled: boom", changed=False,
                                        status=500)
