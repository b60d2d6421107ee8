"""The unnamed (default) server, which XNAT's UI never launches but its API accepts.

The spawner must ask XNAT for `/server/user-options`; the reference hub asks for
`/server//user-options`, which the stand-in also answers, so its request log tells them apart.
"""

from __future__ import annotations

from hub_site import STANDIN_SERVICE

OPTIONS_PATH = "/xapi/jupyterhub/users/alice/server/user-options"


def test_default_server_reads_single_slash_user_options(site):
    launched = site.wait_event(site.launch("", "small"), 100)

    assert launched["succeeded"] is True, launched
    assert launched["finalMessage"] == "Jupyter notebook is available at: /jupyterhub/user/alice/"
    assert site.hub_server("")["ready"] is True
    assert len(site.notebook_services("")) == 1
    requests_seen = [line for line in site.service_logs(STANDIN_SERVICE, tail="all").splitlines()
                     if "/user-options took" in line and "/users/alice/server/" in line]
    assert any(f"GET {OPTIONS_PATH} took" in line for line in requests_seen), requests_seen
    assert not [line for line in requests_seen if "/server//user-options" in line]

    stopped = site.wait_event(site.stop(""), 60)

    assert stopped["succeeded"] is True, stopped
    assert site.hub_server("") is None
    assert site.notebook_services("") == []
