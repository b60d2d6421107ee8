"""Logging in at the hub's own form with XNAT credentials."""

from __future__ import annotations

import html

import requests

from hub_site import ANNOUNCEMENT, HUB_SERVICE, TIMEOUT


def test_alice_logs_in_with_her_xnat_password(site):
    session, answer = site.login("alice", site.passwords["alice"])

    assert answer.status_code == 302, answer.text[:500]
    assert answer.headers["Location"].startswith("/jupyterhub/hub/")
    assert not answer.headers["Location"].startswith("/jupyterhub/hub/login")
    me = session.get(f"{site.hub_url}/hub/api/user", timeout=TIMEOUT,
                     headers={"X-XSRFToken": session.cookies.get("_xsrf")})
    assert me.status_code == 200, me.text[:300]
    assert me.json()["name"] == "alice"


def test_wrong_password_is_refused(site):
    before = site.notebook_services()
    session, answer = site.login("alice", site.passwords["alice"] + "x")

    assert answer.status_code == 403
    assert "Invalid username or password" in answer.text
    assert session.get(f"{site.hub_url}/hub/api/user", timeout=TIMEOUT).status_code == 403
    assert site.notebook_services() == before


def test_user_without_jupyter_role_is_refused(site):
    before = site.notebook_services(username="bob")
    answer = site.login("bob", site.passwords["bob"])[1]

    assert answer.status_code == 403
    assert ("Your XNAT account may not use Jupyter. Ask an XNAT administrator for the Jupyter role."
            in html.unescape(answer.text))
    assert site.notebook_services(username="bob") == before == []


def test_the_sites_own_configuration_reaches_the_hub(site):
    """hub_extra_config: a snippet the role delivered as a swarm config, run by the hub's configuration."""
    page = requests.get(f"{site.hub_url}/hub/login", timeout=TIMEOUT)
    assert page.status_code == 200 and ANNOUNCEMENT in page.text, page.text[:500]
    mounted = [c["File"]["Name"] for c in site.docker.services.get(HUB_SERVICE).attrs["Spec"]["TaskTemplate"]
               ["ContainerSpec"].get("Configs", [])]
    assert mounted == ["/etc/xnat-jupyterhub/config.d/announcement.py"], mounted
