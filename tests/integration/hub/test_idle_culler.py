"""A hub with JH_IDLE_CULLER_TIMEOUT stops and removes a server nobody uses.

A second hub, deployed for this module only, so the other tests' hub never culls.
"""

from __future__ import annotations

import pytest

from hub_site import CULL_HUB_SERVICE, CULL_STACK, HUB_API_URL, wait_for

CULL_PORT = 18001
CULL_ALIAS = "jupyterhub-cull"
CULL_TIMEOUT, CULL_EVERY = 20, 5
IDLE_SERVER = "20250311T172455400Z"


@pytest.fixture(scope="module", name="culling_hub")
def deployed_culling_hub(site):
    site.deploy_hub(CULL_STACK, CULL_PORT, CULL_ALIAS, "ittest-cull",
                    hub_idle_culler_enabled=True, hub_idle_culler_timeout=CULL_TIMEOUT,
                    hub_idle_culler_every=CULL_EVERY)
    url = f"http://127.0.0.1:{CULL_PORT}/jupyterhub"
    site.wait_hub(CULL_HUB_SERVICE, url)
    yield url
    site.docker.services.get(CULL_HUB_SERVICE).remove()


@pytest.fixture(name="xnat_uses")
def xnat_hub_preference(site):
    """Points XNAT's jupyterHubApiUrl at another hub for the test, and back afterwards."""

    def point_at(alias):
        site.xnat_call("admin", "POST", "/xapi/jupyterhub/preferences",
                       json={"jupyterHubApiUrl": f"http://{alias}:8000/jupyterhub/hub/api"})

    yield point_at
    site.xnat_call("admin", "POST", "/xapi/jupyterhub/preferences", json={"jupyterHubApiUrl": HUB_API_URL})


def test_idle_server_is_culled(site, culling_hub, xnat_uses):
    xnat_uses(CULL_ALIAS)
    launched = site.wait_event(site.launch(IDLE_SERVER, "small"), 100)
    assert launched["succeeded"] is True, launched
    [service] = site.notebook_services(IDLE_SERVER)
    assert service.name.startswith("ittest-cull-alice-")

    # Stopped between TIMEOUT and TIMEOUT + EVERY seconds after the start; the rest is slack for a busy machine.
    wait_for(f"the culler to remove {service.name}", lambda: not site.notebook_services(IDLE_SERVER),
             CULL_TIMEOUT + CULL_EVERY + 45, 1)

    # The hub's stop ends once the notebook's container has stopped, a moment after its service is gone.
    wait_for("the hub to drop the culled server", lambda: site.hub_server(IDLE_SERVER, hub_url=culling_hub) is None, 30)
    assert not [s for s in site.notebook_secrets() if s.name.startswith(service.name)]
    culled = [line for line in site.service_logs(CULL_HUB_SERVICE, tail="all").splitlines()
              if "Culling server" in line and IDLE_SERVER in line]
    assert culled, "the hub's log names no culled server"
