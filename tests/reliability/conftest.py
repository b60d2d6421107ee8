"""Fixtures of the reliability layer: the deployed local site, its test users, and the table of figures.

Every test records what it measured with `figures.add(case, figure)`; the layer ends with the table
(also written to build/reliability/figures.json). The molecule site scenario's lost-worker case
writes build/reliability/worker_lost.json, which the table includes when it is there.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from pathlib import Path

import pytest

from local_site import (
    EXPERIMENT_ID,
    REPO,
    Site,
    XnatUser,
    deployed_site,
    hub_is_healthy,
    inventory_vars,
    wait_until,
)

FIGURES_DIR = REPO / "build" / "reliability"
HUB_DB = Path(inventory_vars().get("hub_data_dir", "/var/lib/xnat-jupyterhub/hub")) / "jupyterhub.sqlite"
STANDIN_SERVICE = inventory_vars().get("xnat_standin_stack_name", "xnat") + "_standin"
EXPERIMENT = {"xsiType": "xnat:mrSessionData", "itemId": EXPERIMENT_ID, "itemLabel": "SUBJ01_MR1",
              "projectId": "DEMO01"}
USERS = [f"rel-user-{n}" for n in range(1, 6)]
LAUNCH_TIMEOUT = 240


def pytest_configure(config):
    # haproxy's certificate on the local site is self-signed.
    config.addinivalue_line("filterwarnings", "ignore::urllib3.exceptions.InsecureRequestWarning")


class Figures:
    """Case name -> one line of what it measured, in the order the cases ran."""

    def __init__(self):
        self.rows: dict[str, str] = {}

    def add(self, case: str, figure: str) -> None:
        self.rows[case] = figure
        print(f"\n[reliability] {case}: {figure}")


FIGURES = Figures()


@pytest.fixture(scope="session")
def figures() -> Figures:
    return FIGURES


def pytest_terminal_summary(terminalreporter):
    rows = dict(FIGURES.rows)
    lost = FIGURES_DIR / "worker_lost.json"
    if lost.is_file():
        rows["worker lost (molecule site)"] = json.loads(lost.read_text(encoding="utf-8"))["figure"]
    if not rows:
        return
    FIGURES_DIR.mkdir(parents=True, exist_ok=True)
    (FIGURES_DIR / "figures.json").write_text(json.dumps(FIGURES.rows, indent=2), encoding="utf-8")
    width = max(len(case) for case in rows)
    terminalreporter.write_sep("=", "reliability figures")
    for case, figure in rows.items():
        terminalreporter.write_line(f"{case.ljust(width)}  {figure}")


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Site:
    return deployed_site(tmp_path_factory.mktemp("playbook-logs"))


@pytest.fixture(scope="session")
def compute(site: Site) -> tuple[int, int]:
    """The ids of the compute environment and hardware the local inventory registers."""
    return site.xnat.compute_ids(site.environment, site.hardware)


@pytest.fixture(scope="session")
def xnat_users(site: Site) -> list[XnatUser]:
    """rel-user-1 ... rel-user-5 with the Jupyter role, fresh passwords; their servers removed at the end."""
    users = []
    for name in USERS:
        password = secrets.token_urlsafe(18)
        site.xnat.ensure_user(name, password, ["Jupyter"])
        site.remove_all_servers(name)
        users.append(XnatUser(name, password))
    yield users
    for user in users:
        site.remove_all_servers(user.username)
        site.xnat.disable_user(user.username)


def launch_and_wait(user: XnatUser, server: str, compute: tuple[int, int]) -> dict:
    event = user.finished_event(user.launch(server, *compute, EXPERIMENT), LAUNCH_TIMEOUT)
    assert event["succeeded"] is True, event
    return event


def hub_db(sql: str, *args) -> list:
    """Rows of a query on the hub's SQLite database, read-only (the hub keeps it in WAL mode)."""
    with sqlite3.connect(f"file:{HUB_DB}?mode=ro", uri=True) as db:
        return db.execute(sql, args).fetchall()


def hub_db_bytes() -> int:
    return sum(p.stat().st_size for p in HUB_DB.parent.glob(HUB_DB.name + "*"))


def wait_hub_healthy(timeout: float) -> float:
    """Seconds until the hub answers its health check through haproxy."""
    started = time.monotonic()
    wait_until("the hub's health check through haproxy", hub_is_healthy, timeout, 0.2)
    return time.monotonic() - started
