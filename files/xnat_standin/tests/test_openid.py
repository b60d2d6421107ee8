"""Accounts without an XNAT password (contract §6: the stand-in's identity provider stands for XNAT's OpenID
plugin), the session-to-user endpoint (§1.5) and alias tokens (§1.6), up to the notebooks' xnat client (§1.4)."""

from __future__ import annotations

import asyncio
import hashlib
import re
import sqlite3
import time
import uuid
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
import xnat
import yaml
from yarl import URL

from standin_testing import ADMIN, STANDIN_DIR, USER, Standin, standin_args
from xnat_standin.app import create_app
from xnat_standin.bootstrap import SeedError
from xnat_standin.config import parse_settings
from xnat_standin.store import Store

pytestmark = pytest.mark.asyncio

ADA = ("ada", "ada-at-the-idp")  # an openid account: this is her password at the identity provider
GRACE = ("grace", "grace-at-the-idp")  # an openid account created disabled
TWO_DAYS_MS = 2 * 24 * 3600 * 1000
SCAN_FILE = STANDIN_DIR / "sample_archive" / "DEMO01" / "arc001" / "SUBJ01_MR1" / "SCANS" / "1" / "DICOM" / "1.dcm"


def seed_with_openid_users(tmp_path: Path) -> Path:
    """The sample seed plus two openid accounts, one with its IdP password in a file next to the seed."""
    seed = yaml.safe_load((STANDIN_DIR / "sample_seed.yml").read_text())
    (tmp_path / "ada-idp-password").write_text(ADA[1] + "\n")
    seed["users"] = [
        {"username": ADA[0], "authMethod": "openid", "idpPassword_file": "ada-idp-password",
         "email": "ada@example.org", "roles": ["Jupyter"]},
        {"username": GRACE[0], "authMethod": "openid", "idpPassword": GRACE[1], "enabled": False},
    ]
    path = tmp_path / "seed.yml"
    path.write_text(yaml.safe_dump(seed))
    return path


@pytest_asyncio.fixture
async def site(standin_factory, tmp_path):
    standin = await standin_factory("--seed", str(seed_with_openid_users(tmp_path)),
                                    "--archive-path", str(STANDIN_DIR / "sample_archive"))
    await standin.create_user(*USER)
    standin.state.store.upsert_project("SECRET", "Private study", "private", [])
    return standin


def session_cookie(reply) -> str:
    cookies = [c for c in reply.headers.getall("Set-Cookie", []) if c.startswith("JSESSIONID=")]
    assert len(cookies) == 1, reply.headers
    return cookies[0].split(";")[0].removeprefix("JSESSIONID=")


async def idp_sign_in(standin: Standin, username: str, password: str):
    return await standin.call(
        "POST", "/standin/idp/login", auth=None, data={"username": username, "password": password}
    )


def by_session(session: str) -> dict[str, str]:
    return {"Cookie": f"JSESSIONID={session}"}


async def raw_status(standin: Standin, method: str, raw_path: str, **kwargs) -> int:
    """A request whose path goes out exactly as written (no client-side normalisation of `..` or escapes)."""
    async with aiohttp.ClientSession() as client:
        async with client.request(method, URL(standin.url + raw_path, encoded=True), allow_redirects=False,
                                  **kwargs) as reply:
            await reply.read()
            return reply.status


async def test_login_page_links_to_the_identity_provider_page(site):
    login = await site.call("GET", "/app/login", auth=None)
    assert re.search(r'<a id="idp-login" href="/standin/idp/login">Sign in with the example identity provider</a>',
                     login.text)
    idp = await site.call("GET", "/standin/idp/login", auth=None)
    assert idp.status == 200 and "Example identity provider" in idp.text
    assert "part of the XNAT stand-in" in idp.text and 'id="idp-form"' in idp.text


async def test_openid_user_signs_in_at_the_idp_and_xnat_names_the_session(site):
    reply = await idp_sign_in(site, *ADA)
    assert (reply.status, reply.headers["Location"]) == (302, "/")
    cookie = next(c for c in reply.headers.getall("Set-Cookie") if c.startswith("JSESSIONID="))
    attributes = {a.strip().split("=")[0].lower(): a.strip() for a in cookie.split(";")[1:]}
    assert "httponly" in attributes and attributes["samesite"] == "SameSite=Lax" and attributes["path"] == "Path=/"
    session = session_cookie(reply)

    who = await site.call("GET", "/xapi/users/username", auth=None, headers=by_session(session))
    assert (who.status, who.text) == (200, "ada")
    assert who.headers["Content-Type"].startswith("text/plain")
    home = await site.call("GET", "/", auth=None, headers=by_session(session))
    assert home.status == 200 and '<span id="current-user">ada</span>' in home.text
    assert (await site.call("GET", "/xapi/users/ada/roles", auth=None, headers=by_session(session))).json == ["Jupyter"]


async def test_openid_user_has_no_password_login(site):
    for password in (ADA[1], "", "anything"):
        assert (await site.call("GET", "/xapi/users/ada/roles", auth=(ADA[0], password))).status == 401
        assert (await site.call("GET", "/xapi/users/username", auth=(ADA[0], password))).status == 401
    legacy = await site.call("PUT", "/data/services/auth", auth=None, data={"username": ADA[0], "password": ADA[1]})
    assert legacy.status == 401
    page = await site.call("POST", "/app/login", auth=None, data={"username": ADA[0], "password": ADA[1]})
    assert page.status == 401 and "Set-Cookie" not in page.headers


async def test_wrong_idp_credentials_get_401_and_no_session(site):
    before = len(site.state.auth.sessions)
    for username, password in ((ADA[0], "wrong"), ("nobody", ADA[1]), (USER[0], USER[1]), ("ADA", "wrong")):
        reply = await idp_sign_in(site, username, password)
        assert reply.status == 401, (username, password)
        assert "Wrong username or password" in reply.text and "Set-Cookie" not in reply.headers
    assert len(site.state.auth.sessions) == before
    # the IdP login ignores case like XNAT's own: ADA is ada
    assert (await idp_sign_in(site, "ADA", ADA[1])).status == 302


async def test_disabled_openid_user_cannot_sign_in_and_loses_the_session(site):
    refused = await idp_sign_in(site, *GRACE)
    assert refused.status == 401 and "disabled or not verified" in refused.text
    assert "Set-Cookie" not in refused.headers

    session = session_cookie(await idp_sign_in(site, *ADA))
    token = (await site.call("GET", "/data/services/tokens/issue", auth=None, headers=by_session(session))).json
    assert (await site.call("GET", "/xapi/users/username", auth=(token["alias"], token["secret"]))).text == "ada"
    assert (await site.call("PUT", "/xapi/users/ada/enabled/false")).status == 200
    assert (await site.call("GET", "/xapi/users/username", auth=None, headers=by_session(session))).status == 401
    assert (await site.call("GET", "/data/auth", auth=None, headers=by_session(session))).status == 401
    assert (await site.call("GET", "/xapi/users/username", auth=(token["alias"], token["secret"]))).status == 401
    assert (await idp_sign_in(site, *ADA)).status == 401
    # enabling the account again does not bring the token back (XNAT deactivates them when disabling)
    assert (await site.call("PUT", "/xapi/users/ada/enabled/true")).status == 200
    assert (await site.call("GET", "/xapi/users/username", auth=(token["alias"], token["secret"]))).status == 401
    assert (await idp_sign_in(site, *ADA)).status == 302
    # an unverified account cannot sign in either
    assert (await site.call("PUT", "/xapi/users/ada/verified/false")).status == 200
    assert (await idp_sign_in(site, *ADA)).status == 401


@pytest.mark.parametrize("body, headers", [
    ({"username": "ada\0", "password": ADA[1]}, None),
    ({"username": ADA[0], "password": ADA[1] + "\0"}, None),
    ({"username": "a" * 10240, "password": ADA[1]}, None),
    ({"username": ADA[0], "password": "p" * 10240}, None),
    ({"username": "ädå", "password": "pässwörd"}, None),
    ({"username": "\u202eada", "password": ADA[1]}, None),
    ({"username": "ada\r\nSet-Cookie: x=y", "password": ADA[1]}, None),
    ({"username": ADA[0]}, None),
    ({"password": ADA[1]}, None),
    ({}, None),
    ({"username": "", "password": ""}, None),
    ('{"username": "ada", "password": "ada-at-the-idp"}', {"Content-Type": "application/json"}),
    ("username=ada&password=ada-at-the-idp", {"Content-Type": "text/plain"}),
    ("%%%&&&===", {"Content-Type": "application/x-www-form-urlencoded"}),
    (b"\xff\xfe\x00garbage", {"Content-Type": "application/x-www-form-urlencoded"}),
    ("--x\r\nbroken multipart", {"Content-Type": "multipart/form-data; boundary=x"}),
    ("x" * (2 * 1024 * 1024), {"Content-Type": "application/x-www-form-urlencoded"}),
])
async def test_hostile_idp_form_input_is_refused_with_4xx(site, body, headers):
    reply = await site.call("POST", "/standin/idp/login", auth=None, data=body, headers=headers)
    assert 400 <= reply.status < 500, reply.text[:300]
    assert "JSESSIONID" not in reply.headers.get("Set-Cookie", "")


async def test_idp_form_with_a_file_field_is_refused(site):
    form = aiohttp.FormData()
    form.add_field("username", b"ada", filename="ada.txt", content_type="text/plain")
    form.add_field("password", ADA[1])
    reply = await site.call("POST", "/standin/idp/login", auth=None, data=form)
    assert reply.status == 400


async def test_username_endpoint_names_the_caller_of_each_credential(site):
    assert (await site.call("GET", "/xapi/users/username", auth=USER)).text == "jsmith"
    assert (await site.call("GET", "/xapi/users/username")).text == "admin"
    alias, secret = site.state.auth.issue_alias_token(site.state.store.user(USER[0]), 3600)
    assert (await site.call("GET", "/xapi/users/username", auth=(alias, secret))).text == "jsmith"
    # the login is looked up ignoring case; the answer is the stored name
    assert (await site.call("GET", "/xapi/users/username", auth=("JSMITH", USER[1]))).text == "jsmith"

    refused = await site.call("GET", "/xapi/users/username", auth=None)
    assert refused.status == 401 and refused.headers["WWW-Authenticate"] == 'Basic realm="XNAT"'
    assert (await site.call("GET", "/xapi/users/username", auth=(alias, "wrong"))).status == 401
    unknown = await site.call("GET", "/xapi/users/username", auth=None, headers=by_session("not-a-session"))
    assert unknown.status == 401


@pytest.mark.parametrize("accept, status", [
    (None, 200), ("text/plain", 200), ("*/*", 200), ("text/*", 200), ("application/json, text/plain;q=0.5", 200),
    ("application/json", 406), ("application/json, text/plain;q=0", 406), ("text/html", 406), ("nonsense", 406),
])
async def test_username_endpoint_answers_text_plain_only(site, accept, status):
    reply = await site.call("GET", "/xapi/users/username", auth=USER, headers={"Accept": accept} if accept else None)
    assert reply.status == status


async def test_alias_tokens_issue_validate_show_invalidate(site):
    session = session_cookie(await idp_sign_in(site, *ADA))
    issued = await site.call("GET", "/data/services/tokens/issue", auth=None, headers=by_session(session))
    assert issued.status == 200 and issued.headers["Content-Type"].startswith("application/json")
    token = issued.json
    assert set(token) == {"id", "enabled", "created", "timestamp", "disabled", "alias", "secret",
                          "estimatedExpirationTime", "singleUse", "xdatUserId", "validIPAddresses"}
    assert uuid.UUID(token["alias"]) and len(token["secret"]) >= 32 and token["xdatUserId"] == "ada"
    assert token["enabled"] is True and token["singleUse"] is False and isinstance(token["id"], int)
    assert abs(token["estimatedExpirationTime"] - token["created"] - TWO_DAYS_MS) < 5000  # aliasTokenTimeout, 2 days
    assert abs(token["created"] - time.time() * 1000) < 60_000
    alias, secret = token["alias"], token["secret"]
    stored = site.state.store.alias_token(alias)
    assert secret != stored["secret_hash"]
    assert stored["secret_hash"] == hashlib.sha256(secret.encode()).hexdigest()

    assert (await site.call("GET", "/xapi/users/username", auth=(alias, secret))).text == "ada"
    own = by_session(session)
    valid = await site.call("GET", f"/data/services/tokens/validate/{alias}/{secret}", auth=None, headers=own)
    assert (valid.status, valid.json) == (200, {"valid": "ada"})
    by_number = await site.call("GET", f"/data/services/tokens/validate/{token['id']}/{secret}", auth=None, headers=own)
    assert by_number.json == {"valid": "ada"}
    wrong = await site.call("GET", f"/data/services/tokens/validate/{alias}/not-the-secret", auth=None, headers=own)
    assert (wrong.status, wrong.json) == (200, {})
    assert (await site.call("GET", f"/data/services/tokens/validate/{alias}", auth=None, headers=own)).status == 401
    assert (await site.call("GET", f"/data/services/tokens/validate/{uuid.uuid4()}/x", auth=None,
                            headers=own)).status == 404
    # someone else's token: 403 for users, the owner's name for administrators
    assert (await site.call("GET", f"/data/services/tokens/validate/{alias}/{secret}", auth=USER)).status == 403
    assert (await site.call("GET", f"/data/services/tokens/validate/{alias}/{secret}")).json == {"valid": "ada"}

    shown = await site.call("GET", "/data/services/tokens/show", auth=None, headers=own)
    assert [t["alias"] for t in shown.json] == [alias] and "secret" not in shown.json[0]
    assert (await site.call("GET", "/data/services/tokens/show/user/ada")).json[0]["alias"] == alias
    assert (await site.call("GET", "/data/services/tokens/show/user/ada", auth=USER)).status == 403

    assert (await site.call("GET", f"/data/services/tokens/invalidate/{alias}", auth=USER)).status == 403
    gone = await site.call("GET", f"/data/services/tokens/invalidate/{alias}", auth=None, headers=own)
    assert (gone.status, gone.json) == (200, {"result": "OK"})
    assert (await site.call("GET", "/xapi/users/username", auth=(alias, secret))).status == 401
    assert (await site.call("GET", f"/data/services/tokens/validate/{alias}/{secret}")).status == 404
    assert (await site.call("GET", f"/data/services/tokens/invalidate/{alias}", auth=None, headers=own)).status == 404
    assert (await site.call("GET", "/data/services/tokens/show", auth=None, headers=own)).json == []


async def test_tokens_for_other_users_are_for_administrators(site):
    for_jsmith = await site.call("GET", "/data/services/tokens/issue/user/jsmith")
    assert for_jsmith.status == 200 and for_jsmith.json["xdatUserId"] == "jsmith"
    credentials = (for_jsmith.json["alias"], for_jsmith.json["secret"])
    assert (await site.call("GET", "/xapi/users/username", auth=credentials)).text == "jsmith"
    assert (await site.call("GET", "/data/services/tokens/issue/user/ada", auth=USER)).status == 403
    assert (await site.call("GET", "/data/services/tokens/issue/user/JSMITH", auth=USER)).status == 403
    assert (await site.call("GET", "/data/services/tokens/issue/user/jsmith", auth=USER)).status == 200
    assert (await site.call("GET", "/data/services/tokens/issue/user/ghost")).status == 400
    assert (await site.call("GET", "/data/services/tokens/issue/user/guest")).status == 403
    assert (await site.call("GET", "/data/services/tokens/issue", auth=credentials)).json["xdatUserId"] == "jsmith"
    assert (await site.call("GET", "/data/services/tokens/issue", auth=None)).status == 401
    assert (await site.call("GET", "/data/services/tokens/bogus")).status == 400


async def test_expired_alias_token_is_gone(site):
    alias, secret = site.state.auth.issue_alias_token(site.state.store.user(USER[0]), -1)
    assert (await site.call("GET", "/xapi/users/username", auth=(alias, secret))).status == 401
    assert (await site.call("GET", f"/data/services/tokens/validate/{alias}/{secret}")).status == 404


@pytest.mark.parametrize("raw_path", [
    "/data/services/tokens/validate/..%2F..%2Fetc%2Fpasswd/x",
    "/data/services/tokens/validate/../../xapi/users/x",
    "/data/services/tokens/validate/%00/x",
    "/data/services/tokens/validate/" + "a" * 10240 + "/x",
    "/data/services/tokens/validate/%C3%A4%C3%B6/x",
    "/data/services/tokens/validate/%ff%fe/x",
    "/data/services/tokens/validate/99999999999999999999999999/x",
    "/data/services/tokens/validate/9223372036854775808/x",
    "/data/services/tokens/validate/-1/x",
    "/data/services/tokens/validate/1e5/x",
    "/data/services/tokens/invalidate/%2e%2e",
    "/data/services/tokens/invalidate/" + str(uuid.uuid4()).upper(),
    "/data/services/tokens/issue/user/%00",
    "/data/services/tokens/issue/user/" + "b" * 10240,
    "/data/services/tokens/" + "c" * 10240,
    "/data/services/tokens/issue/x/y/z",
])
async def test_hostile_token_paths_get_4xx(site, raw_path):
    status = await raw_status(site, "GET", raw_path, headers={"Authorization": aiohttp.encode_basic_auth(*USER)})
    assert 400 <= status < 500, status


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
async def test_tokens_answer_get_only(site, method):
    assert (await site.call(method, "/data/services/tokens/issue", auth=USER)).status == 405


async def test_admin_api_creates_openid_accounts(site):
    body = {"username": "lin", "email": "lin@example.org", "enabled": True, "verified": True,
            "authMethod": "openid", "idpPassword": "lin-at-the-idp"}
    assert (await site.call("POST", "/xapi/users", json_body=body)).status == 201
    assert (await idp_sign_in(site, "lin", "lin-at-the-idp")).status == 302
    assert (await site.call("GET", "/xapi/users/username", auth=("lin", "lin-at-the-idp"))).status == 401
    assert site.state.store.user("lin").idp_password_hash.startswith("pbkdf2_sha256$")
    for bad in ({"password": "also-a-password"}, {"idpPassword": None}, {"idpPassword": ""},
                {"idpPassword": "x\0y"}, {"authMethod": "ldap"}, {"authMethod": "localdb"}):
        reply = await site.call("POST", "/xapi/users", json_body={**body, "username": "lin2", **bad})
        assert reply.status == 400, bad
    assert (await site.call("POST", "/xapi/users", json_body={**body, "username": "lin3"}, auth=USER)).status == 403


async def test_seed_refuses_inconsistent_openid_accounts(tmp_path):
    for users in ([{"username": "x", "authMethod": "openid", "idpPassword": "i", "password": "p"}],
                  [{"username": "x", "authMethod": "openid"}],
                  [{"username": "x", "authMethod": "saml", "password": "p"}],
                  [{"username": "x", "idpPassword": "i", "password": "p"}]):
        seed = tmp_path / "bad-seed.yml"
        seed.write_text(yaml.safe_dump({"users": users}))
        data = tmp_path / f"data-{len(list(tmp_path.iterdir()))}"
        settings = parse_settings([*standin_args(tmp_path, "--seed", str(seed)), "--data-dir", str(data)])
        with pytest.raises(SeedError):
            create_app(settings)


async def test_older_databases_get_the_new_user_columns(tmp_path):
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, username TEXT NOT NULL UNIQUE"
                   " COLLATE NOCASE, email TEXT NOT NULL DEFAULT '', first_name TEXT NOT NULL DEFAULT '',"
                   " last_name TEXT NOT NULL DEFAULT '', password_hash TEXT, enabled INTEGER NOT NULL DEFAULT 0,"
                   " verified INTEGER NOT NULL DEFAULT 0, last_modified INTEGER NOT NULL)")
        db.execute("INSERT INTO users (username, password_hash, enabled, verified, last_modified)"
                   " VALUES ('old', 'h', 1, 1, 0)")
    store = Store(path)
    try:
        user = store.user("old")
        assert (user.auth_method, user.idp_password_hash, user.password_hash) == ("localdb", None, "h")
    finally:
        store.close()


def list_and_download(url: str, alias: str, secret: str, target: Path) -> dict:
    """What a notebook does with an alias token: walk the sample archive down to a scan file and fetch it."""
    with xnat.connect(url, user=alias, password=secret, default_timeout=20) as session:
        project = session.projects["DEMO01"]
        subject = project.subjects["SUBJ01"]
        experiment = subject.experiments["SUBJ01_MR1"]
        scan = experiment.scans["1"]
        resource = scan.resources["DICOM"]
        seen = {
            "logged_in": session.logged_in_user,
            "projects": sorted(session.projects.keys()),
            "subjects": [s.label for s in project.subjects.values()],
            "experiments": [e.label for e in subject.experiments.values()],
            "scans": {s.id: s.type for s in experiment.scans.values()},
            "resources": [r.label for r in scan.resources.values()],
            "files": sorted(resource.files.keys()),
        }
        resource.files["1.dcm"].download(target / "1.dcm", verbose=False)
        seen["resource_dir"] = resource.download_dir(target / "resource", verbose=False)
        return seen


async def test_openid_user_reads_the_archive_with_an_alias_token_issued_by_session(site, tmp_path):
    session = session_cookie(await idp_sign_in(site, *ADA))
    token = (await site.call("GET", "/data/services/tokens/issue", auth=None, headers=by_session(session))).json
    seen = await asyncio.to_thread(list_and_download, site.url, token["alias"], token["secret"], tmp_path)
    assert seen["logged_in"] == "ada"
    assert seen["projects"] == ["DEMO01"]  # SECRET is private and ada is not a member
    assert seen["subjects"] == ["SUBJ01"] and seen["experiments"] == ["SUBJ01_MR1"]
    assert seen["scans"] == {"1": "T1w", "2": "T2w"}
    assert seen["resources"] == ["DICOM"] and seen["files"] == ["1.dcm"]
    assert (tmp_path / "1.dcm").read_bytes() == SCAN_FILE.read_bytes()
    assert (Path(seen["resource_dir"]) / "1.dcm").read_bytes() == SCAN_FILE.read_bytes()

    gone = await site.call("GET", f"/data/services/tokens/invalidate/{token['alias']}", auth=None,
                           headers=by_session(session))
    assert gone.status == 200
    with pytest.raises(xnat.exceptions.XNATLoginFailedError):
        await asyncio.to_thread(list_and_download, site.url, token["alias"], token["secret"], tmp_path)


async def test_admin_credentials_are_not_needed_anywhere_in_the_flow(site):
    """The IdP pages and the token service work with the user's own session alone (no Basic header at all)."""
    session = session_cookie(await idp_sign_in(site, *ADA))
    for path in ("/xapi/users/username", "/data/services/tokens/issue", "/data/projects?format=json",
                 "/data/projects/DEMO01/subjects?format=json"):
        assert (await site.call("GET", path, auth=None, headers=by_session(session))).status == 200, path
    assert ADMIN[0] != ADA[0]


@pytest.mark.parametrize("projects", [
    [{"id": "../P"}],
    [{"id": "P", "subjects": [{"label": "../../OTHER/resources"}]}],
    [{"id": "P", "subjects": [{"label": "S", "experiments": [{"label": "E/../../X"}]}]}],
    [{"id": "P", "subjects": [{"label": "S", "experiments": [{"label": "E", "scans": [{"id": ".."}]}]}]}],
    [{"id": "P", "subjects": [{"label": "S\0"}]}],
    [{"id": "P", "subjects": [{"label": True}]}],
])
async def test_seed_refuses_names_that_are_not_plain_archive_names(tmp_path, projects):
    seed = tmp_path / "bad-seed.yml"
    seed.write_text(yaml.safe_dump({"projects": projects}))
    settings = parse_settings([*standin_args(tmp_path, "--seed", str(seed)), "--data-dir", str(tmp_path / "data")])
    with pytest.raises(SeedError, match="letters, digits"):
        create_app(settings)


async def test_admin_resets_the_password_at_the_identity_provider(site):
    body = {"username": "rita", "email": "rita@example.org", "enabled": True, "verified": True,
            "authMethod": "openid", "idpPassword": "first-at-the-idp"}
    assert (await site.call("POST", "/xapi/users", json_body=body)).status == 201
    assert (await idp_sign_in(site, "rita", "first-at-the-idp")).status == 302
    assert (await site.call("PUT", "/xapi/users/rita", json_body={"idpPassword": "second-at-the-idp"})).status == 200
    assert (await idp_sign_in(site, "rita", "first-at-the-idp")).status == 401
    assert (await idp_sign_in(site, "rita", "second-at-the-idp")).status == 302
    for bad in ({"idpPassword": ""}, {"idpPassword": "a\0b"}, {"idpPassword": ["x"]}, {"password": "Xx1-an-xnat-one"}):
        assert (await site.call("PUT", "/xapi/users/rita", json_body=bad)).status == 400, bad
    assert (await site.call("PUT", f"/xapi/users/{USER[0]}", json_body={"idpPassword": "x"})).status == 400
    assert (await site.call("PUT", "/xapi/users/rita", json_body={"idpPassword": "y"}, auth=USER)).status == 403
