"""Fixtures: a real stand-in per test, a JupyterHub shared by the session, a stand-in wired to it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import pytest_asyncio

# the suite also runs from the repository root next to other packages' tests, without this package installed
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from standin_testing import STANDIN_DIR, USER, Standin, running_hub, standin_args  # noqa: E402


@pytest_asyncio.fixture
async def standin(tmp_path):
    standin = Standin(tmp_path, standin_args(tmp_path))
    await standin.start()
    yield standin
    await standin.close()


@pytest_asyncio.fixture
async def standin_factory(tmp_path):
    """Start a stand-in with extra command-line options; all are closed at the end."""
    started: list[Standin] = []

    async def make(*extra: str) -> Standin:
        standin = Standin(tmp_path, standin_args(tmp_path, *extra))
        await standin.start()
        started.append(standin)
        return standin

    yield make
    for standin in started:
        await standin.close()


@pytest.fixture(scope="session")
def hub(tmp_path_factory):
    with running_hub(tmp_path_factory.mktemp("hub")) as running:
        yield running


@pytest_asyncio.fixture
async def launcher(standin_factory, hub, tmp_path):
    standin = await standin_factory(
        "--seed", str(STANDIN_DIR / "sample_seed.yml"), "--archive-path", str(STANDIN_DIR / "sample_archive"),
        "--service-account-enabled", "--service-account-password-file", str(hub.work / "service-password"),
        "--jupyterhub-token-file", str(hub.work / "service-token"), "--site-url", "http://xnat.test")
    (hub.work / "standin-url").write_text(standin.url)
    await standin.create_user("jsmith", USER[1], roles=("Jupyter",))
    reply = await standin.call("POST", "/xapi/jupyterhub/preferences", json_body={
        "jupyterHubApiUrl": hub.api_url, "jupyterHubHostUrl": hub.host_url, "startPollingInterval": 1,
        "stopPollingInterval": 1, "startTimeout": 30, "stopTimeout": 20, "workspacePath": str(tmp_path / "ws")})
    assert reply.status == 200
    yield standin
