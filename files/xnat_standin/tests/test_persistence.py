"""State survives a restart; seeding and bootstrap follow the plugin's start-up rules."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from standin_testing import SERVICE, STANDIN_DIR, standin_args
from xnat_standin.config import parse_settings


@pytest.mark.asyncio
async def test_everything_survives_a_restart(standin):
    await standin.create_user("jsmith", "pw-jsmith", roles=("Jupyter",))
    await standin.call("POST", "/xapi/jupyterhub/preferences", json_body={"startTimeout": 42})
    await standin.call("POST", "/xapi/siteConfig/siteUrl", data="http://xnat.test",
                       headers={"Content-Type": "text/plain"})
    # the initializer must leave an existing service account alone (§2.1)
    await standin.call("PUT", "/xapi/users/jupyterhub",
                       json_body={"password": "changed", "enabled": True, "verified": True})
    env_ids = [env["id"] for env in (await standin.call("GET", "/xapi/compute/environments")).json]

    await standin.restart()

    assert (await standin.call("GET", "/xapi/users/jsmith/roles", auth=("jsmith", "pw-jsmith"))).json == ["Jupyter"]
    assert (await standin.call("GET", "/xapi/jupyterhub/preferences/startTimeout")).json == {"startTimeout": 42}
    assert (await standin.call("GET", "/xapi/siteConfig/siteUrl")).text == "http://xnat.test"
    assert (await standin.call("GET", "/xapi/users/jupyterhub/roles", auth=("jupyterhub", "changed"))).status == 200
    assert (await standin.call("GET", "/xapi/users/jupyterhub/roles", auth=SERVICE)).status == 401
    assert [env["id"] for env in (await standin.call("GET", "/xapi/compute/environments")).json] == env_ids
    assert len((await standin.call("GET", "/xapi/compute/hardware")).json) == 4


@pytest.mark.asyncio
async def test_passwords_are_hashed_at_rest(standin):
    await standin.create_user("jsmith", "pw-jsmith")
    raw = (standin.tmp_path / "data" / "standin.sqlite3").read_bytes()
    assert b"pw-jsmith" not in raw
    assert standin.state.store.user("jsmith").password_hash.startswith("pbkdf2_sha256$")


@pytest.mark.asyncio
async def test_seed_users_projects_and_preferences(standin_factory, tmp_path):
    seed = tmp_path / "seed.yml"
    (tmp_path / "alice-password").write_text("from-a-file\n")
    seed.write_text("""
roles:
  Auditor: Site auditor
users:
  - username: alice
    password_file: alice-password
    roles: [Jupyter, Auditor]
preferences:
  startTimeout: 30
  allUsersCanStartJupyter: true
siteConfig:
  siteUrl: http://seeded.test
projects:
  - id: P1
    accessibility: public
    subjects:
      - label: S1
        experiments:
          - label: S1_MR1
            scans: [{id: 1, type: T1w}]
""")
    standin = await standin_factory("--seed", str(seed))
    assert (await standin.call("GET", "/xapi/users/alice/roles", auth=("alice", "from-a-file"))).json == [
        "Auditor", "Jupyter"]
    assert (await standin.call("GET", "/xapi/jupyterhub/preferences/startTimeout")).json == {"startTimeout": 30}
    assert (await standin.call("GET", "/xapi/jupyterhub/preferences/jupyterHubHostUrl")).json == {
        "jupyterHubHostUrl": "http://seeded.test"}
    store = standin.state.store
    subject = store.subjects("P1")[0]
    assert subject["id"] == "XNAT_S00001"
    experiment = store.experiments(subject["id"])[0]
    assert (experiment["id"], experiment["label"]) == ("XNAT_E00001", "S1_MR1")

    # seeded preferences are applied again at every start, like the plugin's environment seeding (§2.3)
    await standin.call("POST", "/xapi/jupyterhub/preferences", json_body={"startTimeout": 99, "stopTimeout": 9})
    await standin.call("PUT", "/xapi/users/alice", json_body={"password": "changed"})
    await standin.restart()
    assert (await standin.call("GET", "/xapi/jupyterhub/preferences/startTimeout")).json == {"startTimeout": 30}
    assert (await standin.call("GET", "/xapi/jupyterhub/preferences/stopTimeout")).json == {"stopTimeout": 9}
    # seeded users are only created, never reset
    assert (await standin.call("GET", "/xapi/users/alice/roles", auth=("alice", "changed"))).status == 200
    assert standin.state.store.experiments("XNAT_S00001")[0]["id"] == "XNAT_E00001"


@pytest.mark.asyncio
async def test_sample_dir_seeds_and_copies_the_sample_keeping_existing_files(standin_factory, tmp_path):
    """The image's sample (/opt/xnat-standin/sample) as the xnat_standin role uses it: seed.yml and archive/."""
    sample = tmp_path / "sample"
    shutil.copytree(STANDIN_DIR / "sample_archive", sample / "archive")
    shutil.copyfile(STANDIN_DIR / "sample_seed.yml", sample / "seed.yml")
    sample_files = sorted(p.relative_to(sample / "archive") for p in (sample / "archive").rglob("*") if p.is_file())
    archive = tmp_path / "archive"
    kept = archive / sample_files[0]
    kept.parent.mkdir(parents=True)
    kept.write_text("the site's own file")
    seed = tmp_path / "seed.yml"
    seed.write_text("users:\n  - {username: alice, password: alice-pw-1, roles: [Jupyter]}\n")
    standin = await standin_factory("--sample-dir", str(sample), "--seed", str(seed), "--archive-path", str(archive))

    assert [p["ID"] for p in (await standin.call("GET", "/data/projects")).json["ResultSet"]["Result"]] == ["DEMO01"]
    assert (await standin.call("GET", "/xapi/users/alice/roles", auth=("alice", "alice-pw-1"))).json == ["Jupyter"]
    assert sorted(p.relative_to(archive) for p in archive.rglob("*") if p.is_file()) == sample_files
    assert kept.read_text() == "the site's own file"
    assert oct((archive / sample_files[-1]).stat().st_mode & 0o777) == "0o644"


@pytest.mark.asyncio
async def test_seeded_compute_replaces_plugin_defaults(standin_factory, tmp_path):
    seed = tmp_path / "seed.json"
    seed.write_text("""{"compute": {"hardware": [{"hardware": {"name": "Demo"}, "scopes": {
        "Site": {"enabled": true}, "Project": {"enabled": true}, "User": {"enabled": true}}}],
      "environments": [{"configTypes": ["JUPYTERHUB"], "computeEnvironment": {"name": "Demo", "image": "demo:1"},
        "scopes": {"Site": {"enabled": true}, "Project": {"enabled": true}, "User": {"enabled": true}},
        "hardwareOptions": {"allowAllHardware": true, "hardwareConfigs": []}}]}}""")
    standin = await standin_factory("--seed", str(seed))
    envs = (await standin.call("GET", "/xapi/compute/environments")).json
    assert [env["computeEnvironment"]["image"] for env in envs] == ["demo:1"]
    assert [h["hardware"]["name"] for h in (await standin.call("GET", "/xapi/compute/hardware")).json] == ["Demo"]


@pytest.mark.asyncio
async def test_generated_admin_password_file(tmp_path):
    from xnat_standin.app import create_app

    settings = parse_settings(["--data-dir", str(tmp_path / "data")])
    app = create_app(settings)
    password_file = tmp_path / "data" / "admin-password"
    assert oct(password_file.stat().st_mode & 0o777) == "0o600"
    assert len(password_file.read_text().strip()) >= 20
    for callback in app.on_cleanup:
        await callback(app)


def test_settings_come_from_environment_variables(tmp_path, monkeypatch):
    monkeypatch.setenv("XNAT_STANDIN_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("XNAT_STANDIN_LISTEN", "0.0.0.0:9999")
    monkeypatch.setenv("XNAT_STANDIN_LATENCY_MS", "250")
    monkeypatch.setenv("XNAT_STANDIN_DEFAULT_COMPUTE", "false")
    monkeypatch.setenv("XNAT_STANDIN_SERVICE_ACCOUNT_ENABLED", "True")  # only the exact string 'true' enables
    settings = parse_settings([])
    assert (settings.listen_host, settings.listen_port, settings.latency_ms) == ("0.0.0.0", 9999, 250)
    assert settings.default_compute is False and settings.service_account_enabled is False
    monkeypatch.setenv("XNAT_STANDIN_SERVICE_ACCOUNT_ENABLED", "true")
    assert parse_settings([]).service_account_enabled is True
    assert parse_settings(["--latency-ms", "5"]).latency_ms == 5


def test_help_says_it_is_a_stand_in():
    result = subprocess.run([sys.executable, "-m", "xnat_standin", "--help"], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(STANDIN_DIR / "src")}, check=True)
    assert "stand-in for tests and demos" in result.stdout and "NOT XNAT" in result.stdout


def test_bad_seed_is_a_clear_error(tmp_path):
    seed = tmp_path / "seed.yml"
    seed.write_text("userz: []\n")
    result = subprocess.run([sys.executable, "-m", "xnat_standin", *standin_args(tmp_path, "--seed", str(seed))],
                            capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(STANDIN_DIR / "src")},
                            check=False)
    assert result.returncode == 2
    assert "unknown seed sections ['userz']" in result.stderr
