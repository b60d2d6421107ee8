"""XNAT user options -> the swarm service of one notebook server, as pure functions.

`user_options_to_service_spec` reads the `task_template` XNAT returns from
`GET /xapi/jupyterhub/users/{u}/server/{s}/user-options` and either returns a
complete ServiceSpec or raises InvalidUserOptions naming the offending field.
Nothing here talks to Docker or XNAT, and nothing is kept between calls.
"""

from __future__ import annotations

import fnmatch
import hashlib
import posixpath
import re
import shlex
from dataclasses import dataclass
from typing import Any


class InvalidUserOptions(ValueError):
    """XNAT's user options cannot be turned into a service; the message names the field."""


@dataclass(frozen=True)
class MountSpec:
    target: str
    source: str
    type: str  # "bind" or "volume"
    read_only: bool


@dataclass(frozen=True)
class ServiceSpec:
    image: str
    args: list[str] | None  # None: the image's own command
    env: dict[str, str]
    mounts: list[MountSpec]  # in XNAT's order
    labels: dict[str, str]
    cpu_limit: float | None
    cpu_reservation: float | None
    mem_limit: int | None  # bytes
    mem_reservation: int | None  # bytes
    generic_resources: dict[str, int]  # kind -> count
    constraints: list[str]


@dataclass(frozen=True)
class SpecSettings:
    """Site policy applied to what XNAT asks for."""

    # Glob patterns; empty accepts any image XNAT names (XNAT admins choose images).
    allowed_images: tuple[str, ...] = ()
    # Host path prefixes bind sources must lie under; empty accepts any absolute path.
    allowed_bind_prefixes: tuple[str, ...] = ()


# Docker image reference: optional registry[:port]/, path components, optional :tag and @digest.
_IMAGE_RE = re.compile(
    r"(?:(?:[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)+(?::[0-9]+)?|[a-zA-Z0-9-]+:[0-9]+|localhost)/)?"
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"
    r"(?:@sha256:[a-f0-9]{64})?"
)
_ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_VOLUME_NAME_RE = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]{0,254}")
_MEM_RE = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*([kmgt]?)(?:i?b)?", re.IGNORECASE)
_MEM_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
_CONSTRAINT_KEY_RE = re.compile(
    r"node\.(?:id|hostname|role|platform\.os|platform\.arch)"
    r"|(?:node|engine)\.labels\.[A-Za-z0-9_.-]+"
)
_CONSTRAINT_RE = re.compile(r"\s*([^\s=!]+)\s*(==|!=)\s*(\S+)\s*")
_GENERIC_KIND_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def _mapping(value: Any, name: str, required: bool = False) -> dict[str, Any]:
    if value is None:
        if required:
            raise InvalidUserOptions(f"{name} is missing")
        return {}
    if not isinstance(value, dict):
        raise InvalidUserOptions(f"{name} must be an object, got {type(value).__name__}")
    return value


def _image(container_spec: dict[str, Any], settings: SpecSettings) -> str:
    image = container_spec.get("image")
    if not isinstance(image, str) or not image.strip():
        raise InvalidUserOptions("task_template.container_spec.image is missing")
    image = image.strip()
    if len(image) > 255 or not _IMAGE_RE.fullmatch(image):
        raise InvalidUserOptions(
            f"task_template.container_spec.image {image[:80]!r} is not a valid image reference"
        )
    if settings.allowed_images and not any(
        fnmatch.fnmatchcase(image, pattern) for pattern in settings.allowed_images
    ):
        raise InvalidUserOptions(
            f"task_template.container_spec.image {image!r} is not in the hub's allowed images"
        )
    return image


def _args(container_spec: dict[str, Any]) -> list[str] | None:
    command = container_spec.get("command")
    if command is None:
        return None
    if not isinstance(command, str):
        raise InvalidUserOptions("task_template.container_spec.command must be a string")
    try:
        args = shlex.split(command)
    except ValueError as e:
        raise InvalidUserOptions(f"task_template.container_spec.command cannot be parsed: {e}") from None
    return args or None


def _string_map(value: Any, name: str, key_re: re.Pattern[str] | None = None) -> dict[str, str]:
    result = {}
    for key, item in _mapping(value, name).items():
        if not isinstance(key, str) or not key or (key_re and not key_re.fullmatch(key)):
            raise InvalidUserOptions(f"{name} has an invalid key {str(key)[:40]!r}")
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            raise InvalidUserOptions(f"{name}.{key} must be a string")
        item = str(item)
        if "\0" in item:
            raise InvalidUserOptions(f"{name}.{key} contains a NUL character")
        result[key] = item
    return result


def _absolute_path(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidUserOptions(f"{name} is empty")
    if not value.startswith("/"):
        raise InvalidUserOptions(f"{name} {value[:80]!r} is not an absolute path")
    if "\0" in value or ".." in value.split("/"):
        raise InvalidUserOptions(f"{name} {value[:80]!r} must not contain '..' or NUL")
    return posixpath.normpath(value)


def _under(path: str, prefix: str) -> bool:
    prefix = posixpath.normpath(prefix)
    return path == prefix or path.startswith(prefix.rstrip("/") + "/")


def _mounts(container_spec: dict[str, Any], settings: SpecSettings) -> list[MountSpec]:
    raw = container_spec.get("mounts")
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise InvalidUserOptions("task_template.container_spec.mounts must be a list")
    mounts, targets = [], set()
    for index, item in enumerate(raw):
        name = f"task_template.container_spec.mounts[{index}]"
        item = _mapping(item, name, required=True)
        target = _absolute_path(item.get("target"), f"{name}.target")
        if target == "/":
            raise InvalidUserOptions(f"{name}.target must not be /")
        if target in targets:
            raise InvalidUserOptions(f"{name}.target {target!r} is used by another mount")
        targets.add(target)
        kind = item.get("type") or "bind"
        read_only = item.get("read_only", False)
        if not isinstance(read_only, bool):
            raise InvalidUserOptions(f"{name}.read_only must be true or false")
        if kind == "bind":
            source = _absolute_path(item.get("source"), f"{name}.source")
            if settings.allowed_bind_prefixes and not any(
                _under(source, p) for p in settings.allowed_bind_prefixes
            ):
                raise InvalidUserOptions(
                    f"{name}.source {source!r} is outside the hub's allowed bind-mount directories"
                )
        elif kind == "volume":
            volume = item.get("source")
            if not isinstance(volume, str) or not _VOLUME_NAME_RE.fullmatch(volume):
                # XNAT puts the compute environment's local path here even for volume mounts.
                raise InvalidUserOptions(
                    f"{name}.source {str(volume)[:80]!r} is not a Docker volume name"
                )
            source = volume
        else:
            raise InvalidUserOptions(f"{name}.type must be 'bind' or 'volume', got {str(kind)[:20]!r}")
        mounts.append(MountSpec(target=target, source=source, type=kind, read_only=read_only))
    return mounts


def parse_memory(value: Any, name: str) -> int | None:
    """'4G', '512M', '1.5g', '2GiB' or a byte count -> bytes; None/''/0 -> None."""
    if value is None or value == "" or value == 0:
        return None
    if isinstance(value, bool):
        raise InvalidUserOptions(f"{name} must be a size such as '4G'")
    amount: float  # a byte count stays an int, exact at any size
    if isinstance(value, int):
        amount, unit = value, ""
    elif isinstance(value, str) and (match := _MEM_RE.fullmatch(value.strip())):
        amount, unit = float(match.group(1)), match.group(2).lower()
    else:
        raise InvalidUserOptions(f"{name} {str(value)[:40]!r} is not a size such as '4G' or '512M'")
    size = int(amount * _MEM_UNITS[unit])
    if size <= 0:
        return None
    if size < 4 * 1024**2:
        # Docker refuses limits below 6 MB; below 4 MiB it is surely a missing unit.
        raise InvalidUserOptions(f"{name} {value!r} is below 4 MiB: is the unit missing?")
    return size


def _cpu(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidUserOptions(f"{name} must be a number of CPUs")
    if value < 0:
        raise InvalidUserOptions(f"{name} must not be negative")
    # XNAT sends 0 for "not set".
    return float(value) or None


def _generic_resources(resources: dict[str, Any]) -> dict[str, int]:
    name = "task_template.resources.generic_resources"
    result = {}
    for kind, value in _mapping(resources.get("generic_resources"), name).items():
        if not isinstance(kind, str) or not _GENERIC_KIND_RE.fullmatch(kind):
            raise InvalidUserOptions(f"{name} has an invalid resource name {str(kind)[:40]!r}")
        text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
        if not text.isdigit() or not text.isascii():
            raise InvalidUserOptions(f"{name}.{kind} must be a whole number, got {str(value)[:20]!r}")
        if int(text) > 0:
            result[kind] = int(text)
    return result


def _constraints(placement: dict[str, Any]) -> list[str]:
    name = "task_template.placement.constraints"
    raw = placement.get("constraints")
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise InvalidUserOptions(f"{name} must be a list")
    result = []
    for index, item in enumerate(raw):
        match = _CONSTRAINT_RE.fullmatch(item) if isinstance(item, str) else None
        if not match or not _CONSTRAINT_KEY_RE.fullmatch(match.group(1)):
            raise InvalidUserOptions(
                f"{name}[{index}] {str(item)[:80]!r} is not a swarm constraint such as node.role==worker"
            )
        constraint = "".join(match.groups())
        if constraint not in result:
            result.append(constraint)
    return result


def user_options_to_service_spec(options: Any, settings: SpecSettings = SpecSettings()) -> ServiceSpec:
    """Translate XNAT's user options (the parsed JSON) into a ServiceSpec.

    Raises InvalidUserOptions with the offending field's path in the message.
    """
    options = _mapping(options, "user options", required=True)
    template = _mapping(options.get("task_template"), "task_template", required=True)
    container_spec = _mapping(
        template.get("container_spec"), "task_template.container_spec", required=True
    )
    resources = _mapping(template.get("resources"), "task_template.resources")
    placement = _mapping(template.get("placement"), "task_template.placement")

    cpu_limit = _cpu(resources.get("cpu_limit"), "task_template.resources.cpu_limit")
    cpu_reservation = _cpu(resources.get("cpu_reservation"), "task_template.resources.cpu_reservation")
    if cpu_limit and cpu_reservation and cpu_reservation > cpu_limit:
        raise InvalidUserOptions("task_template.resources.cpu_reservation exceeds cpu_limit")
    mem_limit = parse_memory(resources.get("mem_limit"), "task_template.resources.mem_limit")
    mem_reservation = parse_memory(
        resources.get("mem_reservation"), "task_template.resources.mem_reservation"
    )
    if mem_limit and mem_reservation and mem_reservation > mem_limit:
        raise InvalidUserOptions("task_template.resources.mem_reservation exceeds mem_limit")

    return ServiceSpec(
        image=_image(container_spec, settings),
        args=_args(container_spec),
        env=_string_map(container_spec.get("env"), "task_template.container_spec.env", _ENV_NAME_RE),
        mounts=_mounts(container_spec, settings),
        labels=_string_map(container_spec.get("labels"), "task_template.container_spec.labels"),
        cpu_limit=cpu_limit,
        cpu_reservation=cpu_reservation,
        mem_limit=mem_limit,
        mem_reservation=mem_reservation,
        generic_resources=_generic_resources(resources),
        constraints=_constraints(placement),
    )


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


SERVICE_NAME_MAX = 63


def service_name(prefix: str, username: str, server_name: str) -> str:
    """Docker service name for one (user, server): DNS-label safe, at most 63 characters.

    Lower-cased slugs keep names readable; the hash of the exact names keeps
    them unique when slugs collide (JSmith/jsmith, a.b/a-b) or are truncated.
    """
    digest = hashlib.sha256(f"{username}\0{server_name}".encode()).hexdigest()[:10]
    body = "-".join(part for part in (_slug(prefix), _slug(username), _slug(server_name)) if part)
    body = body[: SERVICE_NAME_MAX - len(digest) - 1].strip("-")
    if not body or not body[0].isalpha():
        body = ("x-" + body).strip("-")[: SERVICE_NAME_MAX - len(digest) - 1].strip("-")
    return f"{body}-{digest}"
