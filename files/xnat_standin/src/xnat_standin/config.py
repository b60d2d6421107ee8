"""Command line and environment settings of the stand-in."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENV_PREFIX = "XNAT_STANDIN_"

DESCRIPTION = """\
XNAT stand-in for tests and demos -- NOT XNAT.

A small HTTP server that implements the XNAT side of the XNAT <-> JupyterHub
contract (users, roles, JupyterHub plugin preferences, compute environments,
user options, the notebook launch flow) so that JupyterHub and the Ansible
modules can be tested without a real XNAT. Never use it as an archive.

Every option can also be set with an environment variable named
XNAT_STANDIN_<OPTION> (upper case, dashes as underscores), for example
XNAT_STANDIN_LISTEN=0.0.0.0:8080. Secrets are only read from files: the
*-file options take a path, never the secret itself.
"""


@dataclass(frozen=True)
class Settings:
    listen_host: str
    listen_port: int
    data_dir: Path
    seed: Path | None
    sample_dir: Path | None
    archive_path: Path
    site_url: str
    processing_url: str
    admin_username: str
    admin_password_file: Path | None
    service_account: bool
    service_account_username: str
    service_account_password_file: Path | None
    service_account_enabled: bool
    jupyterhub_token_file: Path | None
    default_compute: bool
    hub_timeout: float
    latency_ms: int
    fault_injection: bool
    log_level: str


def _env_default(name: str, fallback: str | None) -> str | None:
    return os.environ.get(ENV_PREFIX + name.upper().replace("-", "_"), fallback)


def _flag_default(name: str, fallback: bool) -> bool:
    value = _env_default(name, None)
    if value is None:
        return fallback
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m xnat_standin",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )

    def opt(name: str, fallback: str | None, help_text: str, **kwargs: Any) -> None:
        parser.add_argument(f"--{name}", default=_env_default(name, fallback), help=help_text, **kwargs)

    def flag(name: str, fallback: bool, help_text: str) -> None:
        parser.add_argument(
            f"--{name}", default=_flag_default(name, fallback),
            action=argparse.BooleanOptionalAction, help=help_text,
        )

    opt("listen", "127.0.0.1:8080", "address to listen on, HOST:PORT (default %(default)s)")
    opt("data-dir", None, "directory for the SQLite database and generated files (required)")
    opt("seed", None, "YAML or JSON seed file: users, roles, projects, preferences, site config, compute")
    opt("sample-dir", None, "a sample to start from: its seed.yml is seeded before --seed and its archive/ "
        "is copied into the archive path, keeping files that exist (the image's sample is /opt/xnat-standin/sample)")
    opt("archive-path", None, "XNAT-side archive root, laid out as {project}/arc001/... "
        "(default: DATA_DIR/archive)")
    opt("site-url", "", "site preference siteUrl, applied at every start when set")
    opt("processing-url", "", "site preference processingUrl, applied at every start when set")
    opt("admin-username", "admin", "login of the site administrator created on first start")
    opt("admin-password-file", None, "file holding the administrator's initial password; without "
        "it a random password is written to DATA_DIR/admin-password (mode 0600)")
    flag("service-account", True, "create the plugin's 'jupyterhub' service account on first start "
         "(contract §2.1)")
    opt("service-account-username", "jupyterhub", "service account login (plugin: JH_XNAT_USERNAME)")
    opt("service-account-password-file", None, "file holding the service account's initial password; "
        "without it the plugin's default 'jupyterhub' is used, as XNAT does")
    parser.add_argument(
        "--service-account-enabled", action="store_true",
        default=_env_default("service-account-enabled", "") == "true",
        help="create the service account enabled; as with the plugin's JH_XNAT_SERVICE_USER_ENABLED, "
        "the environment variable enables it only for the exact string 'true'",
    )
    opt("jupyterhub-token-file", None, "file holding the hub service token; stored as preference "
        "jupyterHubToken at every start, like the plugin's environment seeding")
    flag("default-compute", True, "create the plugin's default compute environment and hardware when "
         "there is none (contract §2.4)")
    opt("hub-timeout", "10", "timeout in seconds of each call to the JupyterHub API", type=float)
    opt("latency-ms", "0", "artificial delay added to role, preference and user-options GETs", type=int)
    flag("fault-injection", False, "enable the admin-only /standin/faults endpoint used by tests")
    opt("log-level", "INFO", "logging level")
    return parser


def parse_settings(argv: list[str] | None = None) -> Settings:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.data_dir:
        parser.error("--data-dir (or XNAT_STANDIN_DATA_DIR) is required")
    try:
        host, port = _listen(args.listen)
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))
    data_dir = Path(args.data_dir).resolve()

    def path_or_none(value: str | None) -> Path | None:
        return Path(value).resolve() if value else None

    return Settings(
        listen_host=host,
        listen_port=port,
        data_dir=data_dir,
        seed=path_or_none(args.seed),
        sample_dir=path_or_none(args.sample_dir),
        archive_path=path_or_none(args.archive_path) or data_dir / "archive",
        site_url=args.site_url,
        processing_url=args.processing_url,
        admin_username=args.admin_username,
        admin_password_file=path_or_none(args.admin_password_file),
        service_account=args.service_account,
        service_account_username=args.service_account_username,
        service_account_password_file=path_or_none(args.service_account_password_file),
        service_account_enabled=args.service_account_enabled,
        jupyterhub_token_file=path_or_none(args.jupyterhub_token_file),
        default_compute=args.default_compute,
        hub_timeout=float(args.hub_timeout),
        latency_ms=int(args.latency_ms),
        fault_injection=args.fault_injection,
        log_level=args.log_level,
    )


def read_text_secret(path: Path) -> str:
    """A secret from a file, without the trailing newline editors add.

    Unlike the hub's reader (xnat_jupyterhub_hub.settings.read_secret_file), this does not check the
    file's mode: the stand-in reads test and demo secrets, which may be readable by others.
    """
    return path.read_text(encoding="utf-8").rstrip("\r\n")
