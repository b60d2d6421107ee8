"""What notebook code calls (contract §1.4): the xnat client's connect sequence and the project list."""

from __future__ import annotations

import asyncio
import logging

import pytest
import pytest_asyncio
import xnat

from standin_testing import STANDIN_DIR, USER

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def archive(standin_factory):
    """The sample archive: public project DEMO01, and a private one jsmith is not a member of."""
    standin = await standin_factory("--seed", str(STANDIN_DIR / "sample_seed.yml"),
                                    "--archive-path", str(STANDIN_DIR / "sample_archive"))
    await standin.create_user(*USER)
    standin.state.store.upsert_project("SECRET", "Private study", "private", [])
    return standin


def connect_and_list_projects(url, user, password, log_records):
    """What a notebook does with XNAT_HOST, XNAT_USER and XNAT_PASS, with xnatpy's log kept."""
    handler = logging.Handler()
    handler.emit = log_records.append
    logger = logging.getLogger(f"xnatpy-test-{id(log_records)}")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    with xnat.connect(url, user=user, password=password, logger=logger, default_timeout=20) as session:
        return session.logged_in_user, sorted(session.projects.keys()), session.projects["DEMO01"].name


async def test_xnat_client_connects_with_an_alias_token_and_lists_projects(archive):
    alias, secret = archive.state.auth.issue_alias_token(archive.state.store.user(USER[0]), 3600)
    records = []
    logged_in, projects, name = await asyncio.to_thread(connect_and_list_projects, archive.url, alias, secret, records)
    assert logged_in == USER[0]
    assert projects == ["DEMO01"]  # SECRET is private and jsmith is not a member
    assert name == "Demo project"
    warnings = [r.getMessage() for r in records if r.levelno >= logging.WARNING]
    assert not warnings  # no fallback to Basic auth, no unsupported-version or missing-type complaints
    assert not archive.state.auth.sessions  # the client ended its session when it closed


async def test_xnat_client_connects_with_a_password(archive):
    records = []
    logged_in, projects, _name = await asyncio.to_thread(connect_and_list_projects, archive.url, *USER, records)
    assert logged_in == USER[0] and projects == ["DEMO01"]
    assert not [r.getMessage() for r in records if r.levelno >= logging.WARNING]


async def test_xnat_client_reports_bad_credentials(archive):
    alias, _secret = archive.state.auth.issue_alias_token(archive.state.store.user(USER[0]), 3600)
    with pytest.raises(xnat.exceptions.XNATLoginFailedError):
        await asyncio.to_thread(connect_and_list_projects, archive.url, alias, "wrong-secret", [])


async def test_data_auth_names_the_caller_of_basic_credentials_or_a_session(archive):
    alias, secret = archive.state.auth.issue_alias_token(archive.state.store.user(USER[0]), 3600)
    reply = await archive.call("GET", "/data/auth", auth=(alias, secret))
    assert (reply.status, reply.text) == (200, "User 'jsmith' is logged in")
    assert reply.headers["Content-Type"].startswith("text/plain")
    assert (await archive.call("GET", "/data/auth", auth=USER)).text == "User 'jsmith' is logged in"

    refused = await archive.call("GET", "/data/auth", auth=None)
    assert refused.status == 401 and refused.headers["WWW-Authenticate"] == 'Basic realm="XNAT"'
    assert (await archive.call("GET", "/data/auth", auth=(alias, "wrong"))).status == 401

    login = await archive.call("PUT", "/data/services/auth", auth=None, data={"username": USER[0], "password": USER[1]})
    assert login.status == 200 and login.headers["Set-Cookie"].startswith(f"JSESSIONID={login.text};")
    by_session = await archive.call("GET", "/data/auth", auth=None, headers={"Cookie": f"JSESSIONID={login.text}"})
    assert by_session.text == "User 'jsmith' is logged in"


async def test_sessions_start_and_end_like_xnats(archive):
    home = await archive.call("GET", "/", auth=USER)
    assert home.status == 200
    session = home.headers["Set-Cookie"].split(";")[0].removeprefix("JSESSIONID=")
    cookie = {"Cookie": f"JSESSIONID={session}"}
    assert (await archive.call("GET", "/data/JSESSION", auth=None, headers=cookie)).text == session
    assert (await archive.call("DELETE", "/data/JSESSION", auth=None, headers=cookie)).status == 200
    assert (await archive.call("GET", "/data/auth", auth=None, headers=cookie)).status == 401
    assert (await archive.call("GET", "/data/JSESSION", auth=None)).status == 401
    # no session is minted for the hub's and the modules' /xapi calls
    before = len(archive.state.auth.sessions)
    assert (await archive.call("GET", f"/xapi/users/{USER[0]}/roles", auth=USER)).status == 200
    assert len(archive.state.auth.sessions) == before


async def test_project_listing_shape_and_columns(archive):
    full = (await archive.call("GET", "/data/projects?format=json", auth=USER)).json["ResultSet"]
    assert full["totalRecords"] == "1"
    assert full["Result"][0]["ID"] == "DEMO01" and full["Result"][0]["URI"] == "/data/projects/DEMO01"
    picked = (await archive.call("GET", "/data/projects?format=json&columns=ID,URI,name", auth=USER)).json
    assert set(picked["ResultSet"]["Result"][0]) == {"ID", "URI", "name"}
    admin_view = (await archive.call("GET", "/data/projects?format=json&columns=ID")).json["ResultSet"]["Result"]
    assert [row["ID"] for row in admin_view] == ["DEMO01", "SECRET"]


async def test_schema_and_build_info(archive):
    assert (await archive.call("GET", "/xapi/schemas", auth=USER)).json == ["xnat"]
    xsd = await archive.call("GET", "/xapi/schemas/xnat", auth=USER)
    assert xsd.status == 200 and 'targetNamespace="http://nrg.wustl.edu/xnat"' in xsd.text
    assert (await archive.call("GET", "/xapi/schemas/xdat", auth=USER)).status == 404
    assert (await archive.call("GET", "/xapi/siteConfig/buildInfo", auth=USER)).json["version"].startswith("1.")
    # the other site settings keep their own route
    assert (await archive.call("GET", "/xapi/siteConfig/nonexistent", auth=USER)).status == 404
