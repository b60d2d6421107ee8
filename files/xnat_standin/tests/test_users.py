"""Users, roles and authentication: contract §1.1, §2.1, §2.2."""

from __future__ import annotations

import pytest

from standin_testing import ADMIN, SERVICE

pytestmark = pytest.mark.asyncio


async def test_missing_credentials_get_401_with_basic_realm_and_text_body(standin):
    reply = await standin.call("GET", "/xapi/users/admin/roles", auth=None)
    assert reply.status == 401
    assert reply.headers["WWW-Authenticate"].startswith("Basic realm=")
    assert reply.headers["Content-Type"].startswith("text/plain")


async def test_wrong_password_gets_401(standin):
    reply = await standin.call("GET", "/xapi/users/admin/roles", auth=("admin", "wrong"))
    assert reply.status == 401
    assert reply.headers["WWW-Authenticate"].startswith("Basic realm=")


async def test_service_account_is_bootstrapped_disabled_with_plugin_defaults(standin):
    user = (await standin.call("GET", "/xapi/users/jupyterhub")).json
    assert user["enabled"] is False and user["verified"] is True
    assert user["email"] == "jupyterhub@jupyterhub.jupyterhub"
    assert (await standin.call("GET", "/xapi/users/jupyterhub/roles")).json == ["JupyterHub"]
    # disabled account: the correct default password still gets 401
    assert (await standin.call("GET", "/xapi/users/jupyterhub/roles", auth=SERVICE)).status == 401
    assert (await standin.call("PUT", "/xapi/users/jupyterhub/enabled/true")).status == 200
    reply = await standin.call("GET", "/xapi/users/jupyterhub/roles", auth=SERVICE)
    assert (reply.status, reply.json) == (200, ["JupyterHub"])


async def test_service_account_options(standin_factory, tmp_path):
    password_file = tmp_path / "hub-password"
    password_file.write_text("s3rvice\n")
    standin = await standin_factory("--service-account-enabled", "--service-account-password-file",
                                    str(password_file))
    reply = await standin.call("GET", "/xapi/users/jupyterhub/roles", auth=("jupyterhub", "s3rvice"))
    assert (reply.status, reply.json) == (200, ["JupyterHub"])


async def test_no_service_account_option(standin_factory):
    standin = await standin_factory("--no-service-account")
    assert (await standin.call("GET", "/xapi/users")).json == ["admin"]


async def test_roles_self_other_and_case(standin):
    await standin.create_user("jsmith", "pw-jsmith", roles=("Jupyter",))
    await standin.create_user("other", "pw-other")
    own = await standin.call("GET", "/xapi/users/jsmith/roles", auth=("jsmith", "pw-jsmith"))
    assert (own.status, own.json) == (200, ["Jupyter"])
    assert (await standin.call("GET", "/xapi/users/other/roles", auth=("jsmith", "pw-jsmith"))).status == 403
    # the path comparison is exact-case: a differently-cased path username is someone else (§1.1)
    assert (await standin.call("GET", "/xapi/users/JSmith/roles", auth=("jsmith", "pw-jsmith"))).status == 403
    # the login lookup ignores case, so these credentials authenticate as jsmith, and the path check decides
    assert (await standin.call("GET", "/xapi/users/jsmith/roles", auth=("JSMITH", "pw-jsmith"))).status == 200
    assert (await standin.call("GET", "/xapi/users/JSMITH/roles", auth=("JSMITH", "pw-jsmith"))).status == 403
    assert (await standin.call("GET", "/xapi/users/other/roles")).json == []
    assert (await standin.call("GET", "/xapi/users/nobody/roles")).status == 404


async def test_create_user_statuses(standin):
    body = {"username": "alice", "password": "pw", "firstName": "Alice", "lastName": "A",
            "email": "alice@example.org", "enabled": True, "verified": True}
    created = await standin.call("POST", "/xapi/users", json_body=body)
    assert created.status == 201
    assert {k: created.json[k] for k in ("username", "enabled", "verified", "secured")} == {
        "username": "alice", "enabled": True, "verified": True, "secured": True}
    assert "password" not in created.json and isinstance(created.json["id"], int)
    assert (await standin.call("POST", "/xapi/users", json_body=body)).status == 409
    assert (await standin.call("POST", "/xapi/users", json_body={**body, "username": "ALICE"})).status == 409
    for bad in ({"username": "1abc"}, {"username": "a b"}, {"username": "a" * 65},
                {"username": "bob", "email": "not-an-email"}, {"username": "bob", "firstName": "<b>"},
                {"username": "bob", "lastName": "x/y"}):
        reply = await standin.call("POST", "/xapi/users", json_body={**body, **bad})
        assert reply.status == 400, bad
        assert reply.headers["Content-Type"].startswith("text/plain")
    assert (await standin.call("POST", "/xapi/users", json_body={**body, "username": "o'brien.x-y_z"})).status == 201
    assert (await standin.call("POST", "/xapi/users", data="{not json",
                               headers={"Content-Type": "application/json"})).status == 400
    assert (await standin.call("GET", "/xapi/users/alice", auth=("alice", "pw"))).status == 200


async def test_create_user_needs_admin(standin):
    await standin.create_user("jsmith", "pw-jsmith")
    reply = await standin.call("POST", "/xapi/users", auth=("jsmith", "pw-jsmith"),
                               json_body={"username": "x", "email": "x@example.org"})
    assert reply.status == 403


async def test_verified_is_only_applied_with_enabled(standin):
    reply = await standin.call("POST", "/xapi/users", json_body={
        "username": "half", "password": "pw", "email": "half@example.org", "verified": True})
    assert reply.status == 201
    assert (reply.json["enabled"], reply.json["verified"]) == (False, False)


async def test_get_user_missing_is_500_but_enabled_is_404(standin):
    missing = await standin.call("GET", "/xapi/users/ghost")
    assert missing.status == 500
    assert missing.headers["Content-Type"].startswith("text/plain")
    assert (await standin.call("GET", "/xapi/users/ghost/enabled")).status == 404
    assert (await standin.call("GET", "/xapi/users/admin/enabled")).json is True


async def test_get_user_is_self_or_admin(standin):
    await standin.create_user("jsmith", "pw-jsmith")
    assert (await standin.call("GET", "/xapi/users/jsmith", auth=("jsmith", "pw-jsmith"))).status == 200
    assert (await standin.call("GET", "/xapi/users/admin", auth=("jsmith", "pw-jsmith"))).status == 403
    assert (await standin.call("GET", "/xapi/users/jsmith/enabled", auth=("jsmith", "pw-jsmith"))).json is True


async def test_update_user_304_and_password_always_changes(standin):
    await standin.create_user("jsmith", "pw-jsmith")
    same = await standin.call("PUT", "/xapi/users/jsmith", json_body={"enabled": True, "verified": True})
    assert same.status == 304 and same.text == ""
    changed = await standin.call("PUT", "/xapi/users/jsmith",
                                 json_body={"password": "new-pw", "enabled": True, "verified": True})
    assert changed.status == 200 and changed.json["username"] == "jsmith"
    again = await standin.call("PUT", "/xapi/users/jsmith", json_body={"password": "new-pw"})
    assert again.status == 200
    assert (await standin.call("GET", "/xapi/users/jsmith/roles", auth=("jsmith", "new-pw"))).status == 200
    assert (await standin.call("GET", "/xapi/users/jsmith/roles", auth=("jsmith", "pw-jsmith"))).status == 401
    disabled = await standin.call("PUT", "/xapi/users/jsmith", json_body={"enabled": False})
    assert disabled.status == 200 and disabled.json["enabled"] is False
    assert (await standin.call("GET", "/xapi/users/jsmith/roles", auth=("jsmith", "new-pw"))).status == 401
    assert (await standin.call("PUT", "/xapi/users/ghost", json_body={"enabled": True})).status == 404
    assert (await standin.call("PUT", "/xapi/users/jsmith", json_body={"email": "bad"})).status == 400


async def test_password_complexity_rejects_with_400(standin):
    await standin.create_user("jsmith", "pw-jsmith")
    assert (await standin.call("POST", "/xapi/siteConfig/passwordComplexity", data=".{12,}",
                               headers={"Content-Type": "text/plain"})).status == 200
    assert (await standin.call("PUT", "/xapi/users/jsmith", json_body={"password": "short"})).status == 400
    assert (await standin.call("PUT", "/xapi/users/jsmith", json_body={"password": "long-enough-pw"})).status == 200


async def test_enabled_and_verified_flags(standin):
    await standin.create_user("jsmith", "pw-jsmith")
    assert (await standin.call("PUT", "/xapi/users/jsmith/enabled/false")).status == 200
    assert (await standin.call("GET", "/xapi/users/jsmith/enabled")).json is False
    assert (await standin.call("GET", "/xapi/users/jsmith/roles", auth=("jsmith", "pw-jsmith"))).status == 401
    assert (await standin.call("PUT", "/xapi/users/jsmith/enabled/true")).status == 200
    assert (await standin.call("PUT", "/xapi/users/jsmith/verified/false")).status == 200
    assert (await standin.call("GET", "/xapi/users/jsmith")).json["verified"] is False
    assert (await standin.call("GET", "/xapi/users/jsmith/roles", auth=("jsmith", "pw-jsmith"))).status == 401
    assert (await standin.call("PUT", "/xapi/users/jsmith/enabled/maybe")).status == 400
    assert (await standin.call("PUT", "/xapi/users/ghost/enabled/true")).status == 404
    assert (await standin.call("PUT", "/xapi/users/jsmith/verified/yes")).status == 200
    assert (await standin.call("PUT", "/xapi/users/jsmith/enabled/true", auth=("jsmith", "pw-jsmith"))).status == 403


async def test_role_changes(standin):
    await standin.create_user("jsmith", "pw-jsmith")
    assert (await standin.call("PUT", "/xapi/users/jsmith/roles/Jupyter")).status == 200
    assert (await standin.call("PUT", "/xapi/users/jsmith/roles/Jupyter")).status == 200
    assert (await standin.call("PUT", "/xapi/users/jsmith/roles/NoSuchRole")).status == 500
    bulk = await standin.call("PUT", "/xapi/users/jsmith/roles", json_body=["JupyterHub", "Bogus"])
    assert (bulk.status, bulk.json) == (202, ["Bogus"])
    ok = await standin.call("PUT", "/xapi/users/jsmith/roles", json_body=["DataAccess"])
    assert (ok.status, ok.json) == (200, [])
    assert (await standin.call("GET", "/xapi/users/jsmith/roles")).json == ["DataAccess", "Jupyter", "JupyterHub"]
    assert (await standin.call("GET", "/xapi/users/roles/Jupyter")).json == ["jsmith"]
    rolemap = (await standin.call("GET", "/xapi/users/rolemap")).json
    assert rolemap["JupyterHub"] == ["jsmith", "jupyterhub"] and rolemap["Administrator"] == ["admin"]
    removed = await standin.call("DELETE", "/xapi/users/jsmith/roles", json_body=["JupyterHub", "DataAccess"])
    assert (removed.status, removed.json) == (200, [])
    assert (await standin.call("DELETE", "/xapi/users/jsmith/roles/Jupyter")).status == 200
    assert (await standin.call("GET", "/xapi/users/jsmith/roles")).json == []
    assert (await standin.call("PUT", "/xapi/users/jsmith/roles", data="nope",
                               headers={"Content-Type": "application/json"})).status == 400
    assert (await standin.call("PUT", "/xapi/users/ghost/roles/Jupyter")).status == 404
    for path in ("/xapi/users/rolemap", "/xapi/users/roles/Jupyter"):
        assert (await standin.call("GET", path, auth=("jsmith", "pw-jsmith"))).status == 403
    assert (await standin.call("PUT", "/xapi/users/jsmith/roles/Jupyter", auth=("jsmith", "pw-jsmith"))).status == 403


async def test_roles_granted_make_admin(standin):
    await standin.create_user("boss", "pw-boss", roles=("Administrator",))
    assert (await standin.call("GET", "/xapi/users/rolemap", auth=("boss", "pw-boss"))).status == 200


async def test_user_list_access(standin):
    await standin.create_user("jsmith", "pw-jsmith")
    assert (await standin.call("GET", "/xapi/users")).json == ["admin", "jsmith", "jupyterhub"]
    assert (await standin.call("GET", "/xapi/users", auth=("jsmith", "pw-jsmith"))).status == 403
    await standin.call("POST", "/xapi/siteConfig", json_body={"restrictUserListAccessToAdmins": False})
    assert (await standin.call("GET", "/xapi/users", auth=("jsmith", "pw-jsmith"))).status == 200


async def test_alias_token_works_as_basic_credentials_until_user_disabled(standin):
    await standin.create_user("jsmith", "pw-jsmith")
    state = standin.state
    alias, secret = state.auth.issue_alias_token(state.store.user("jsmith"), 3600)
    reply = await standin.call("GET", "/xapi/users/jsmith/roles", auth=(alias, secret))
    assert reply.status == 200
    assert (await standin.call("GET", "/xapi/users/jsmith/roles", auth=(alias, "wrong"))).status == 401
    await standin.call("PUT", "/xapi/users/jsmith/enabled/false")
    await standin.call("PUT", "/xapi/users/jsmith/enabled/true")
    # disabling deactivated the token for good
    assert (await standin.call("GET", "/xapi/users/jsmith/roles", auth=(alias, secret))).status == 401


async def test_legacy_auth_service(standin):
    ok = await standin.call("PUT", "/data/services/auth", auth=None, data={"username": "admin", "password": ADMIN[1]})
    assert ok.status == 200 and ok.text
    bad = await standin.call("PUT", "/data/services/auth", auth=None, data={"username": "admin", "password": "x"})
    assert bad.status == 401


@pytest.mark.parametrize("path", ["/xapi/users", "/xapi/jupyterhub/preferences", "/xapi/compute/hardware"])
async def test_every_xapi_call_needs_authentication(standin, path):
    assert (await standin.call("GET", path, auth=None)).status == 401
