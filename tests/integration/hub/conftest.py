"""Session fixture: the XNAT stand-in and the hub deployed once, removed at the end even after failures.

Leftovers of an interrupted earlier run are removed before the deployment starts.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import docker
import pytest
from docker.errors import NotFound

from hub_site import (
    CULL_HUB_SERVICE,
    HUB_PORT,
    HUB_SERVICE,
    HUB_STACK,
    IMAGES_FILE,
    NETWORK,
    NOTEBOOK_PREFIX,
    SITE_CONFIG,
    STANDIN_SERVICE,
    SUITE_LABEL,
    Site,
    remove_owned,
)


def _images():
    if not IMAGES_FILE.is_file():
        pytest.fail(f"{IMAGES_FILE} is missing: build the images first "
                    "(.venv/bin/ansible-playbook tests/images.yml)", pytrace=False)
    images = json.loads(IMAGES_FILE.read_text(encoding="utf-8"))
    missing = [key for key in ("hub", "notebook", "standin") if key not in images]
    if missing:
        pytest.fail(f"{IMAGES_FILE} names no image for {', '.join(missing)}", pytrace=False)
    return images


@pytest.fixture(scope="session", name="site")
def deployed_site(request):
    images = _images()
    client = docker.from_env(timeout=60)
    for key in ("hub", "notebook", "standin"):
        try:
            client.images.get(images[key])
        except NotFound:
            pytest.fail(f"image {images[key]} ({key}) from {IMAGES_FILE} does not exist: "
                        "rebuild with .venv/bin/ansible-playbook tests/images.yml", pytrace=False)
    if client.info().get("Swarm", {}).get("LocalNodeState") != "active":
        pytest.fail("this Docker engine is not in a swarm (docker swarm init --advertise-addr 127.0.0.1)",
                    pytrace=False)

    remove_owned(client)
    root = Path(tempfile.mkdtemp(prefix="ittest-hub-"))
    root.chmod(0o755)  # the stand-in and notebooks (NOTEBOOK_UID) traverse it to their bind mounts

    def teardown():
        try:
            remove_owned(client)
        finally:
            shutil.rmtree(root, ignore_errors=True)
            client.close()

    request.addfinalizer(teardown)

    site = Site(client, images, root)
    client.networks.create(NETWORK, driver="overlay", attachable=True, labels=SUITE_LABEL)
    site.deploy_standin()
    # The site's own configuration as an operator adds it (hub_extra_config): test_login checks its effect.
    site.deploy_hub(HUB_STACK, HUB_PORT, "jupyterhub", NOTEBOOK_PREFIX, hub_extra_config=SITE_CONFIG)
    site.wait_standin()
    site.configure_xnat()
    site.wait_hub()
    return site


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item):
    """On a failure, attach the ends of the hub's and the stand-in's logs to the report."""
    outcome = yield
    report = outcome.get_result()
    site = getattr(item, "funcargs", {}).get("site")
    if report.failed and site is not None:
        for name in (HUB_SERVICE, STANDIN_SERVICE, CULL_HUB_SERVICE):
            log = site.service_logs(name, tail=60)
            if log:
                report.sections.append((f"{name} log", log))
