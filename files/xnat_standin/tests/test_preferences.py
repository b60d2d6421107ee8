"""Plugin preferences and site settings: contract §1.2, §2.3."""

from __future__ import annotations

import asyncio
import time

import pytest

from standin_testing import SERVICE

pytestmark = pytest.mark.asyncio

DEFAULTS = {
    "jupyterHubApiUrl": "http://172.17.0.1/jupyterhub/hub/api", "jupyterHubToken": "secret-token",
    "startTimeout": 180, "stopTimeout": 60, "startPollingInterval": 8, "stopPollingInterval": 2,
    "workspacePath": "/data/xnat/workspaces", "inactivityTimeout": 60, "maxServerLifetime": 48,
    "maxNamedServers": 1, "allUsersCanStartJupyter": False, "resourceSpecCpuLimit": 0.0,
    "dockerImages": [{"image": "jupyter/scipy-notebook:hub-3.0.0", "enabled": True}],
    "containerSpecLabels": {}, "placementSpecConstraints": [], "pathTranslationArchivePrefix": "",
}
TEXT = {"Content-Type": "text/plain"}


async def _service_account_enabled(standin):
    assert (await standin.call("PUT", "/xapi/users/jupyterhub/enabled/true")).status == 200


async def test_admin_gets_every_preference_typed(standin):
    prefs = (await standin.call("GET", "/xapi/jupyterhub/preferences")).json
    assert len(prefs) == 23
    assert {name: prefs[name] for name in DEFAULTS} == DEFAULTS


async def test_preference_map_visibility(standin):
    await _service_account_enabled(standin)
    await standin.create_user("jsmith", "pw-jsmith")
    assert len((await standin.call("GET", "/xapi/jupyterhub/preferences", auth=SERVICE)).json) == 23
    assert (await standin.call("GET", "/xapi/jupyterhub/preferences", auth=("jsmith", "pw-jsmith"))).json == {
        "allUsersCanStartJupyter": False}


async def test_single_preference_get(standin):
    await _service_account_enabled(standin)
    await standin.create_user("jsmith", "pw-jsmith")
    user = ("jsmith", "pw-jsmith")
    reply = await standin.call("GET", "/xapi/jupyterhub/preferences/allUsersCanStartJupyter", auth=user)
    assert (reply.status, reply.json) == (200, {"allUsersCanStartJupyter": False})
    assert (await standin.call("GET", "/xapi/jupyterhub/preferences/noSuchThing", auth=user)).status == 404
    assert (await standin.call("GET", "/xapi/jupyterhub/preferences/jupyterHubToken", auth=user)).status == 403
    token = await standin.call("GET", "/xapi/jupyterhub/preferences/jupyterHubToken", auth=SERVICE)
    assert token.json == {"jupyterHubToken": "secret-token"}
    assert (await standin.call("GET", "/xapi/jupyterhub/preferences/allUsersCanStartJupyter",
                               auth=("jsmith", "bad"))).status == 401


async def test_bulk_post_stores_strings_and_skips_unknown_names(standin):
    reply = await standin.call("POST", "/xapi/jupyterhub/preferences", json_body={
        "jupyterHubApiUrl": "http://hub:8081/jupyterhub/hub/api", "startTimeout": 120,
        "allUsersCanStartJupyter": True, "noSuchPreference": "ignored", "resourceSpecCpuLimit": 2,
        "placementSpecConstraints": ["node.role==worker"]})
    assert (reply.status, reply.text) == (200, "")
    prefs = (await standin.call("GET", "/xapi/jupyterhub/preferences")).json
    assert prefs["jupyterHubApiUrl"] == "http://hub:8081/jupyterhub/hub/api"
    assert prefs["startTimeout"] == 120 and prefs["allUsersCanStartJupyter"] is True
    assert prefs["resourceSpecCpuLimit"] == 2.0 and prefs["placementSpecConstraints"] == ["node.role==worker"]
    assert "noSuchPreference" not in prefs
    assert standin.state.store.preference("jupyterhub", "startTimeout") == "120"


async def test_bulk_post_rules(standin):
    await standin.create_user("jsmith", "pw-jsmith")
    assert (await standin.call("POST", "/xapi/jupyterhub/preferences", auth=("jsmith", "pw-jsmith"),
                               json_body={"startTimeout": 1})).status == 403
    assert (await standin.call("POST", "/xapi/jupyterhub/preferences", data="{oops",
                               headers={"Content-Type": "application/json"})).status == 400
    assert (await standin.call("POST", "/xapi/jupyterhub/preferences",
                               json_body={"startTimeout": 5, "stopTimeout": None})).status == 500
    assert (await standin.call("GET", "/xapi/jupyterhub/preferences/startTimeout")).json == {"startTimeout": 180}
    form = await standin.call("POST", "/xapi/jupyterhub/preferences", data={"stopTimeout": "30"})
    assert form.status == 200
    assert (await standin.call("GET", "/xapi/jupyterhub/preferences/stopTimeout")).json == {"stopTimeout": 30}


async def test_single_post_stores_the_raw_body(standin):
    assert (await standin.call("POST", "/xapi/jupyterhub/preferences/allUsersCanStartJupyter", data="true",
                               headers=TEXT)).status == 200
    assert (await standin.call("GET", "/xapi/jupyterhub/preferences/allUsersCanStartJupyter")).json == {
        "allUsersCanStartJupyter": True}
    # a JSON string literal keeps its quotes (§2.3)
    await standin.call("POST", "/xapi/jupyterhub/preferences/jupyterHubApiUrl", data='"http://x"',
                       headers={"Content-Type": "application/json"})
    assert (await standin.call("GET", "/xapi/jupyterhub/preferences/jupyterHubApiUrl")).json == {
        "jupyterHubApiUrl": '"http://x"'}
    assert (await standin.call("POST", "/xapi/jupyterhub/preferences/noSuchThing", data="1",
                               headers=TEXT)).status == 500


async def test_unparseable_numbers_fail_on_read_and_booleans_read_false(standin):
    await standin.call("POST", "/xapi/jupyterhub/preferences/maxNamedServers", data="lots", headers=TEXT)
    reply = await standin.call("GET", "/xapi/jupyterhub/preferences/maxNamedServers")
    assert reply.status == 500 and reply.headers["Content-Type"].startswith("text/plain")
    assert (await standin.call("GET", "/xapi/jupyterhub/preferences")).status == 500
    await standin.call("POST", "/xapi/jupyterhub/preferences", json_body={"maxNamedServers": 2.0})
    assert (await standin.call("GET", "/xapi/jupyterhub/preferences/maxNamedServers")).status == 500
    await standin.call("POST", "/xapi/jupyterhub/preferences", json_body={"maxNamedServers": 0})
    assert (await standin.call("GET", "/xapi/jupyterhub/preferences/maxNamedServers")).json == {"maxNamedServers": 0}
    await standin.call("POST", "/xapi/jupyterhub/preferences/allUsersCanStartJupyter", data="yes", headers=TEXT)
    assert (await standin.call("GET", "/xapi/jupyterhub/preferences/allUsersCanStartJupyter")).json == {
        "allUsersCanStartJupyter": False}


async def test_no_put_or_delete(standin):
    assert (await standin.call("PUT", "/xapi/jupyterhub/preferences", json_body={})).status == 405
    assert (await standin.call("DELETE", "/xapi/jupyterhub/preferences/startTimeout")).status == 405


async def test_host_url_defaults_to_site_url(standin_factory):
    standin = await standin_factory("--site-url", "http://xnat.test")
    assert (await standin.call("GET", "/xapi/jupyterhub/preferences/jupyterHubHostUrl")).json == {
        "jupyterHubHostUrl": "http://xnat.test"}


async def test_site_config(standin):
    await standin.create_user("jsmith", "pw-jsmith")
    assert (await standin.call("POST", "/xapi/siteConfig/siteUrl", data="http://xnat.test", headers=TEXT)).status == 200
    await standin.call("POST", "/xapi/siteConfig", json_body={"processingUrl": "http://xnat-web:8080"})
    site_url = await standin.call("GET", "/xapi/siteConfig/siteUrl", auth=("jsmith", "pw-jsmith"))
    assert (site_url.status, site_url.text) == (200, "http://xnat.test")
    assert (await standin.call("GET", "/xapi/siteConfig/processingUrl")).text == "http://xnat-web:8080"
    everything = (await standin.call("GET", "/xapi/siteConfig")).json
    assert everything["aliasTokenTimeout"] == "2 days" and everything["restrictUserListAccessToAdmins"] is True
    assert (await standin.call("GET", "/xapi/siteConfig", auth=("jsmith", "pw-jsmith"))).status == 403
    assert (await standin.call("POST", "/xapi/siteConfig/siteUrl", auth=("jsmith", "pw-jsmith"), data="x",
                               headers=TEXT)).status == 403
    assert (await standin.call("GET", "/xapi/siteConfig/nope")).status == 404


async def test_latency_is_added_without_serialising_requests(standin_factory):
    standin = await standin_factory("--latency-ms", "300")
    started = time.monotonic()
    replies = await asyncio.gather(*(standin.call("GET", "/xapi/users/admin/roles") for _call in range(20)))
    elapsed = time.monotonic() - started
    assert all(reply.status == 200 for reply in replies)
    assert elapsed >= 0.3  # the delay is applied
    assert elapsed < 20 * 0.3 / 2  # and the twenty requests wait side by side, not one after another


async def test_fault_injection_is_off_by_default(standin):
    assert (await standin.call("POST", "/standin/faults", json_body={"path": "/xapi/*", "status": 500})).status == 404


async def test_fault_injection(standin_factory):
    standin = await standin_factory("--fault-injection")
    await standin.create_user("jsmith", "pw-jsmith")
    rule = {"method": "GET", "path": "/xapi/users/*/roles", "status": 503, "times": 1}
    assert (await standin.call("POST", "/standin/faults", auth=("jsmith", "pw-jsmith"), json_body=rule)).status == 403
    assert (await standin.call("POST", "/standin/faults", json_body=rule)).status == 201
    assert (await standin.call("GET", "/xapi/users/admin/roles")).status == 503
    assert (await standin.call("GET", "/xapi/users/admin/roles")).status == 200
    await standin.call("POST", "/standin/faults", json_body={"path": "/xapi/users", "hang_seconds": 0.3,
                                                             "status": 500})
    started = time.monotonic()
    assert (await standin.call("GET", "/xapi/users")).status == 500
    assert time.monotonic() - started >= 0.3
    assert (await standin.call("DELETE", "/standin/faults")).status == 204
    assert (await standin.call("GET", "/xapi/users")).status == 200
