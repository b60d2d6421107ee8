import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from xnat_jupyterhub_hub.settings import SETTINGS, SettingsError, load_settings, read_secret_file, settings_table

HUB_DIR = Path(__file__).resolve().parent.parent
TOKEN = "0123456789abcdef0123456789abcdef"
COOKIE = "ab" * 32


def write_secret(directory, name, value, mode=0o600):
    path = directory / name
    path.write_text(value + "\n")
    path.chmod(mode)
    return path


@pytest.fixture
def secrets_dir(tmp_path):
    directory = tmp_path / "secrets"
    directory.mkdir()
    write_secret(directory, "jh_xnat_password", "service-pass")
    write_secret(directory, "jh_xnat_service_token", TOKEN)
    return directory


@pytest.fixture
def environ(secrets_dir):
    return {"JH_XNAT_URL": "https://xnat.example.org/", "JH_SECRETS_DIR": str(secrets_dir)}


def test_defaults_with_only_the_required_settings(environ, secrets_dir):
    settings = load_settings(environ)
    assert settings.xnat_url == "https://xnat.example.org"
    assert settings.xnat_username == "jupyterhub"
    assert settings.xnat_verify_tls is True
    assert settings.base_url == "/jupyterhub"
    assert (settings.start_timeout, settings.http_timeout) == (180, 75)
    assert (settings.notebook_uid, settings.notebook_gid) == (1000, 1000)
    assert settings.xnat_password.read() == "service-pass"
    assert settings.xnat_service_token.read() == TOKEN
    assert settings.cookie_secret is None and settings.proxy_token is None and settings.db_url is None
    assert settings.secrets_file_images == ("*xnat-jupyterhub/notebook:*", "*xnat-jupyterhub/dashboard:*")
    assert (settings.idle_culler_timeout, settings.idle_culler_every) == (0, 300)


def test_secret_values_stay_out_of_reprs(environ):
    assert "service-pass" not in repr(load_settings(environ))
    assert TOKEN not in repr(load_settings(environ))


def test_values_from_the_environment(environ, secrets_dir):
    write_secret(secrets_dir, "jh_cookie_secret", COOKIE)
    write_secret(secrets_dir, "proxy", "proxy-token-value")
    environ.update(
        JH_XNAT_USERNAME="hubsvc", JH_XNAT_VERIFY_TLS="false", JH_START_TIMEOUT="300",
        JH_HTTP_TIMEOUT="30", JH_NETWORK="net1", NB_UID="1042", NB_GID="100",
        JH_ALLOWED_IMAGES="a/b:*, c/d:1 ,", JH_ADMIN_USERS="JSmith,ann", JH_BASE_URL="hub/",
        JH_SECRET_PROXY_TOKEN="proxy", JH_XNAT_REQUEST_TIMEOUT="2.5", JH_LOG_LEVEL="debug",
        JH_IDLE_CULLER_TIMEOUT="3600", JH_IDLE_CULLER_EVERY="120",
    )
    settings = load_settings(environ)
    assert settings.xnat_username == "hubsvc"
    assert settings.xnat_verify_tls is False
    assert settings.start_timeout == 300 and settings.http_timeout == 30
    assert settings.network == "net1"
    assert (settings.notebook_uid, settings.notebook_gid) == (1042, 100)
    assert settings.allowed_images == ("a/b:*", "c/d:1")
    assert settings.admin_users == ("JSmith", "ann")
    assert settings.base_url == "/hub"
    assert settings.cookie_secret.read() == COOKIE
    assert settings.proxy_token.read() == "proxy-token-value"
    assert settings.xnat_request_timeout == 2.5
    assert settings.log_level == "DEBUG"
    assert (settings.idle_culler_timeout, settings.idle_culler_every) == (3600, 120)


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("JH_XNAT_URL", "", "JH_XNAT_URL must be set"),
        ("JH_XNAT_URL", "ftp://x", "JH_XNAT_URL must be an http(s) URL"),
        ("JH_XNAT_URL", "https://admin:pw@xnat", "without credentials"),
        ("JH_XNAT_VERIFY_TLS", "maybe", "JH_XNAT_VERIFY_TLS must be true or false, got 'maybe'"),
        ("JH_START_TIMEOUT", "soon", "JH_START_TIMEOUT must be a whole number of seconds, at least 1, got 'soon'"),
        ("JH_START_TIMEOUT", "0", "at least 1"),
        ("JH_PENDING_GRACE", "nan", "JH_PENDING_GRACE must be a number of seconds, at least 0"),
        ("NB_UID", "0", "NB_UID must be a whole number, at least 1, got '0'"),
        ("JH_SERVICE_PREFIX", "Jupyter_", "JH_SERVICE_PREFIX must be 1-20 lower-case letters"),
        ("JH_BASE_URL", "/a b", "JH_BASE_URL must be a URL path"),
        ("JH_BASE_URL", "/a//b", "JH_BASE_URL must be a URL path"),
        ("JH_HUB_CONNECT_IP", "http://hub", "JH_HUB_CONNECT_IP must be a host name"),
        ("JH_ALLOWED_BIND_PREFIXES", "data", "JH_ALLOWED_BIND_PREFIXES must be absolute paths"),
        ("JH_ADMIN_USERS", "ok,no way", "JH_ADMIN_USERS must be XNAT usernames"),
        ("JH_TRUSTED_PROXIES", "10.0.0.0/33", "JH_TRUSTED_PROXIES must be IP addresses or networks"),
        ("JH_LOG_LEVEL", "loud", "JH_LOG_LEVEL must be DEBUG, INFO"),
        ("JH_XNAT_CA_FILE", "/nonexistent/ca.pem", "JH_XNAT_CA_FILE: /nonexistent/ca.pem does not exist"),
        ("JH_SECRET_XNAT_PASSWORD", "../etc/passwd", "file name inside JH_SECRETS_DIR"),
        ("JH_IDLE_CULLER_TIMEOUT", "-1", "JH_IDLE_CULLER_TIMEOUT must be a whole number of seconds, at least 0"),
        ("JH_IDLE_CULLER_TIMEOUT", "1h", "JH_IDLE_CULLER_TIMEOUT must be a whole number"),
        ("JH_IDLE_CULLER_TIMEOUT", "90.5", "JH_IDLE_CULLER_TIMEOUT must be a whole number"),
        ("JH_IDLE_CULLER_EVERY", "0", "JH_IDLE_CULLER_EVERY must be a whole number of seconds, at least 1"),
    ],
)
def test_bad_values_are_named(environ, name, value, message):
    environ[name] = value
    with pytest.raises(SettingsError, match=re.escape(message)):
        load_settings(environ)


def test_missing_required_secret(environ, secrets_dir):
    (secrets_dir / "jh_xnat_password").unlink()
    with pytest.raises(SettingsError, match="JH_SECRET_XNAT_PASSWORD: secret file .*jh_xnat_password does not exist"):
        load_settings(environ)


def test_empty_secret(environ, secrets_dir):
    write_secret(secrets_dir, "jh_xnat_password", "  ")
    with pytest.raises(SettingsError, match="is empty"):
        load_settings(environ)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_secret_readable_by_others_is_refused(environ, secrets_dir, mode):
    (secrets_dir / "jh_xnat_password").chmod(mode)
    with pytest.raises(SettingsError, match=f"mode {mode:04o}"):
        load_settings(environ)


def test_secret_that_is_a_directory(environ, secrets_dir):
    (secrets_dir / "jh_xnat_password").unlink()
    (secrets_dir / "jh_xnat_password").mkdir(mode=0o700)
    with pytest.raises(SettingsError, match="not a regular file"):
        load_settings(environ)


@pytest.mark.parametrize("token", ["secret-token", "short"])
def test_weak_service_token_is_refused(environ, secrets_dir, token):
    write_secret(secrets_dir, "jh_xnat_service_token", token)
    with pytest.raises(SettingsError, match="too weak"):
        load_settings(environ)


def test_optional_secret_named_explicitly_must_exist(environ):
    environ["JH_SECRET_COOKIE"] = "my_cookie"
    with pytest.raises(SettingsError, match="JH_SECRET_COOKIE: secret file .*my_cookie does not exist"):
        load_settings(environ)


def test_cookie_secret_must_be_hex(environ, secrets_dir):
    write_secret(secrets_dir, "jh_cookie_secret", "not-hex")
    with pytest.raises(SettingsError, match="64 hex digits"):
        load_settings(environ)


def test_client_certificate_needs_its_key(environ, tmp_path):
    cert = tmp_path / "client.pem"
    cert.write_text("cert")
    environ["JH_XNAT_CLIENT_CERT"] = str(cert)
    with pytest.raises(SettingsError, match="JH_SECRET_XNAT_CLIENT_KEY"):
        load_settings(environ)


def test_read_secret_file_strips_newlines(tmp_path):
    assert read_secret_file(write_secret(tmp_path, "s", "value")) == "value"


def test_every_wrong_value_is_reported_at_once_one_line_each(environ):
    environ.update(JH_START_TIMEOUT="soon", NB_UID="-5", JH_LOG_LEVEL="loud")
    with pytest.raises(SettingsError) as info:
        load_settings(environ)
    lines = str(info.value).splitlines()
    assert [line.split(" ")[0] for line in lines] == ["JH_START_TIMEOUT", "NB_UID", "JH_LOG_LEVEL"], lines


def test_defaults_are_valid_values():
    for setting in SETTINGS:
        if setting.default is not None:
            setting.reader.read(setting.default)


def test_readme_shows_the_settings_table():
    readme = (HUB_DIR / "README.md").read_text(encoding="utf-8")
    assert settings_table() in readme, "files/hub/README.md: paste the output of python -m xnat_jupyterhub_hub.settings"


CONFIG_SUMMARY = (
    "c = hub.config\n"
    "print(c.JupyterHub.bind_url, c.JupyterHub.cookie_secret_file, c.JupyterHub.db_url)\n"
    "print(c.JupyterHub.load_roles[0]['scopes'], c.JupyterHub.services[0]['name'])\n"
    "print(c.XnatSwarmSpawner.xnat_service_password_file, c.XnatClient.url)\n"
    "print(c.Spawner.hub_connect_url, c.JupyterHub.cleanup_servers, c.JupyterHub.allow_named_servers)\n"
)


def run_config(environ, tmp_path, prints=CONFIG_SUMMARY):
    """Load jupyterhub_config.py the way JupyterHub does, in a clean interpreter, then run `prints` (Python
    that prints what the test reads from `hub.config`)."""
    script = (
        "import json, sys\n"
        "from jupyterhub.app import JupyterHub\n"
        "hub = JupyterHub()\n"
        f"hub.load_config_file({str(HUB_DIR / 'jupyterhub_config.py')!r})\n"
        + prints
    )
    return subprocess.run(
        [sys.executable, "-c", script], env={**environ, "PATH": os.environ["PATH"], "PYTHONPATH": str(HUB_DIR / "src")},
        capture_output=True, text=True, cwd=tmp_path, timeout=60, check=False,
    )


def test_config_file_applies_the_settings(environ, secrets_dir, tmp_path):
    result = run_config(environ, tmp_path)
    assert result.returncode == 0, result.stderr
    assert ("http://:8000/jupyterhub /srv/jupyterhub/jupyterhub_cookie_secret"
            " sqlite:////srv/jupyterhub/jupyterhub.sqlite") in result.stdout
    assert "['read:hub', 'admin:users', 'servers', 'tokens'] xnat" in result.stdout
    assert f"{secrets_dir}/jh_xnat_password https://xnat.example.org" in result.stdout
    assert "http://jupyterhub:8081 False True" in result.stdout
    assert TOKEN not in result.stdout + result.stderr


def test_config_file_tunes_sqlite_and_freezes_loaded_objects(environ, tmp_path):
    script = (
        "import gc\n"
        "from sqlalchemy import text\n"
        "from jupyterhub import orm\n"
        "from jupyterhub.app import JupyterHub\n"
        "hub = JupyterHub()\n"
        f"hub.load_config_file({str(HUB_DIR / 'jupyterhub_config.py')!r})\n"
        "print('frozen', gc.get_freeze_count() > 10000)\n"
        f"session = orm.new_session_factory('sqlite:///{tmp_path / 'jupyterhub.sqlite'}')()\n"
        "print(*(session.execute(text('PRAGMA ' + p)).scalar() for p in ('journal_mode', 'synchronous')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], env={**environ, "PATH": os.environ["PATH"], "PYTHONPATH": str(HUB_DIR / "src")},
        capture_output=True, text=True, cwd=tmp_path, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["frozen True", "wal 1"]


def test_config_file_stops_with_the_settings_error(environ, secrets_dir, tmp_path):
    (secrets_dir / "jh_xnat_service_token").chmod(0o644)
    result = run_config(environ, tmp_path)
    assert result.returncode != 0
    assert "JH_SECRET_XNAT_SERVICE_TOKEN" in result.stderr and "group and others must have no access" in result.stderr


def hub_services_and_roles(environ, tmp_path):
    """c.JupyterHub.services (tokens left out) and load_roles, as jupyterhub_config.py sets them."""
    result = run_config(environ, tmp_path, (
        "services = [{k: v for k, v in s.items() if k != 'api_token'} for s in hub.config.JupyterHub.services]\n"
        "print(json.dumps({'services': services, 'roles': hub.config.JupyterHub.load_roles}))\n"))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_no_idle_culler_by_default(environ, tmp_path):
    config = hub_services_and_roles(environ, tmp_path)
    assert [s["name"] for s in config["services"]] == ["xnat"]
    assert [r["name"] for r in config["roles"]] == ["xnat"]


def test_idle_culler_service_and_its_narrow_role(environ, tmp_path):
    environ.update(JH_IDLE_CULLER_TIMEOUT="900", JH_IDLE_CULLER_EVERY="60")
    config = hub_services_and_roles(environ, tmp_path)
    culler = {s["name"]: s for s in config["services"]}["idle-culler"]
    assert culler == {"name": "idle-culler", "command": [
        sys.executable, "-m", "jupyterhub_idle_culler", "--timeout=900", "--cull-every=60",
        "--remove-named-servers=True"]}
    role = {r["name"]: r for r in config["roles"]}["idle-culler"]
    assert role["services"] == ["idle-culler"]
    assert sorted(role["scopes"]) == ["delete:servers", "list:users", "read:servers", "read:users:activity"]
    assert {r["name"]: r for r in config["roles"]}["xnat"]["services"] == ["xnat"]


def test_our_traits_default_to_the_declared_defaults():
    """A setting's trait in this package's own classes starts with the setting's default: one default."""
    from xnat_jupyterhub_hub.spawner import XnatSwarmSpawner  # pylint: disable=import-outside-toplevel
    from xnat_jupyterhub_hub.xnat import XnatClient  # pylint: disable=import-outside-toplevel

    own = {"XnatSwarmSpawner": XnatSwarmSpawner, "XnatClient": XnatClient}
    differing = []
    for setting in SETTINGS:
        section, _sep, name = (setting.trait or "").partition(".")
        cls = own.get(section)
        if cls is None or name not in cls.class_own_traits() or setting.default is None:
            continue
        declared = setting.reader.read(setting.default)
        default = cls.class_traits()[name].default()
        if (list(declared) if isinstance(declared, tuple) else declared) != default:
            differing.append(f"{setting.trait}: {default!r}, declared {setting.env}={setting.default!r}")
    assert not differing, differing


def test_metrics_service_only_with_its_token_and_only_read_metrics(environ, secrets_dir, tmp_path):
    write_secret(secrets_dir, "jh_metrics_token", "m" * 40)
    config = hub_services_and_roles(environ, tmp_path)
    assert [s["name"] for s in config["services"]] == ["xnat", "metrics"]
    metrics = {r["name"]: r for r in config["roles"]}["metrics"]
    assert (metrics["scopes"], metrics["services"]) == (["read:metrics"], ["metrics"])


def test_site_snippets_run_last_in_name_order_with_the_hubs_c(environ, tmp_path):
    snippets = tmp_path / "config.d"
    snippets.mkdir()
    (snippets / "b-second.py").write_text("c.JupyterHub.template_vars['order'] += ['b']\n")
    (snippets / "a-first.py").write_text("c.JupyterHub.template_vars['order'] = ['a']\n")
    (snippets / "ignored.txt").write_text("raise SystemExit('not a snippet')\n")
    environ["JH_EXTRA_CONFIG_DIR"] = str(snippets)
    result = run_config(environ, tmp_path, "print(json.dumps(hub.config.JupyterHub.template_vars))\n")
    assert result.returncode == 0, result.stderr
    template_vars = json.loads(result.stdout)
    assert template_vars["order"] == ["a", "b"] and "xnat_url" in template_vars
