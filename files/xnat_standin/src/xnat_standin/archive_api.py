"""XNAT's archive REST API as the notebooks' `xnat` client (xnatpy 0.8.1) reads it (contract §1.4).

From a project the caller can read (the project list's rule, readable_projects): its subjects, their
experiments, the sessions' scans, the resources of projects, subjects, experiments and scans, their files,
single files and zip downloads. Under /data/projects/{P}, /data/subjects/{S} and /data/experiments/{E},
each also under /data/archive/, as XNAT attaches them:

    .../subjects[/{S}[/experiments[/{E}]]]          .../experiments[/{E}]   (project or subject)
    .../scans[/{scan}]  .../scans/{scan,scan|ALL}/files                    (experiment)
    .../resources[/{R}[/files[/{path}]]]            .../files              (project, subject, experiment, scan)

Listings answer XNAT's ResultSet JSON and items XNAT's `items` JSON (format=json, which is also the default
here); file listings also answer format=zip. The stand-in's resources are the folders of the archive:

    {P}/resources/{R}/                 {P}/subjects/{subject label}/{R}/
    {P}/arc001/{experiment label}/RESOURCES/{R}/    {P}/arc001/{experiment label}/SCANS/{scan}/{R}/

Paths are read segment by segment from the raw request path: a segment that is empty, `.` or `..`, or holds
`/` (`%2F`), `\\`, NUL or another control character, or is not UTF-8, is a 400. A file's path must resolve to
a regular file inside both its resource folder and the archive; anything else is 404. Resource folders must
lie in their project's folder, and an id, label or scan id that is not one plain name (`..`, `a/b`, from an
unchecked seed) gives its item none. Nothing here writes.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import sqlite3
import tempfile
import zipfile
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote

from aiohttp import web

from .data_api import result_set
from .responses import DataFormatError, NotFound, json_response
from .state import principal_of, state_of
from .store import Store
from .user_options import CURRENT_ARC, can_read

MAX_SEGMENT = 255
CHUNK = 256 * 1024
SCAN_TYPE_UNSAFE = re.compile(r"\W")
UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9._-]")
routes = web.RouteTableDef()


@dataclass(frozen=True)
class Item:
    """A project, subject, experiment or scan(s) the caller may read, found from the path."""

    project: sqlite3.Row
    subject: sqlite3.Row | None = None
    experiment: sqlite3.Row | None = None
    scans: tuple[sqlite3.Row, ...] = ()

    @property
    def kind(self) -> str:
        return "scan" if self.scans else "experiment" if self.experiment else "subject" if self.subject else "project"


@dataclass(frozen=True)
class Resource:
    """One resource folder: its owner's key in the store, label, number, folder and where its files are named."""

    owner: str
    label: str
    id: int
    folder: Path
    base_uri: str  # the owner's canonical URI; files are {base_uri}/resources/{id}/files/{path}
    zip_prefix: str  # XNAT's default zip layout: {session}/scans/{scan}-{type}/resources/{label}/files/...
    category: str
    cat_id: str
    cat_desc: str


def _one_name(text: str) -> bool:
    """Whether a stored id or label can be one component of an archive path."""
    return text not in ("", ".", "..") and not any(c in text for c in "/\\\0")


def path_segments(request: web.Request) -> list[str]:
    """The request path after /data/ or /data/archive/, decoded one segment at a time (aiohttp's own decoding
    turns %2F into a separator)."""
    raw = request.rel_url.raw_path
    raw = raw[len("/data/archive/"):] if raw.startswith("/data/archive/") else raw[len("/data/"):]
    parts = raw.split("/")
    if len(parts) > 1 and parts[-1] == "":  # one trailing slash is harmless
        parts.pop()
    segments = []
    for part in parts:
        try:
            text = unquote(part, errors="strict")
        except UnicodeDecodeError:
            raise DataFormatError("The request path is not valid UTF-8.") from None
        if text in ("", ".", "..") or len(text) > MAX_SEGMENT or "/" in text or "\\" in text or \
                any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
            raise DataFormatError("The request path has an empty, relative or invalid segment.")
        segments.append(text)
    return segments


def _wanted_format(request: web.Request, allowed: Collection[str]) -> str:
    fmt = request.query.get("format", "json").lower()
    if fmt not in allowed:
        raise DataFormatError(f"The XNAT stand-in answers this request in {' or '.join(allowed)} only.")
    return fmt


def _pick_columns(request: web.Request, rows: list[dict[str, str]]) -> list[dict[str, str]]:
    wanted = [c for c in request.query.get("columns", "").split(",") if c]
    return [{c: row[c] for c in wanted if c in row} for row in rows] if wanted else rows


def _items(xsi_type: str, fields: dict[str, Any]) -> web.Response:
    """XNAT's JSON for one item (format=json): the item, its current version, no history."""
    return json_response({"items": [{"children": [], "meta": {"xsi:type": xsi_type, "isHistory": False},
                                     "data_fields": fields}]})


class Archive:
    """The archive as the caller may see it."""

    def __init__(self, request: web.Request) -> None:
        state, principal = state_of(request), principal_of(request)
        self.request = request
        self.store: Store = state.store
        self.root = state.settings.archive_path
        self.user, self.roles = principal.user, principal.roles

    def project(self, project_id: str, what: str = "") -> sqlite3.Row:
        """A project the caller may read; others are as absent as unknown ones (contract §6)."""
        project = self.store.project(project_id)
        if project is None or not can_read(self.store, self.user, self.roles, project_id):
            raise NotFound(f"Unable to find {what or f'project {project_id}'}.")
        return project

    def _subject_of(self, experiment: sqlite3.Row) -> sqlite3.Row:
        subject = self.store.subject(experiment["subject_id"])
        if subject is None:
            raise NotFound(f"Unable to find the subject of experiment {experiment['id']}.")
        return subject

    def root_item(self, head: str, key: str) -> Item:
        if head == "projects":
            return Item(self.project(key))
        if head == "subjects":
            subject = self.store.subject(key)
            if subject is None:
                raise NotFound(f"Unable to find subject {key}.")
            return Item(self.project(subject["project_id"], f"subject {key}"), subject)
        experiment = self.store.experiment(key)
        if experiment is None:
            raise NotFound(f"Unable to find experiment {key}.")
        return Item(self.project(experiment["project_id"], f"experiment {key}"), self._subject_of(experiment),
                    experiment)

    # resources

    def _inside(self, folder: Path, project_root: Path) -> bool:
        """Whether a folder built from stored ids and labels really lies in its project's folder, and that in the
        archive: labels come from seeds unchecked, and a link may point anywhere."""
        try:
            archive, project = self.root.resolve(), project_root.resolve()
            return project != archive and project.is_relative_to(archive) and \
                folder.resolve().is_relative_to(project)
        except (OSError, RuntimeError):
            return False

    def resources(self, item: Item) -> list[Resource]:
        """The item's resource folders, numbered in the store (so on the event loop's thread, like every store
        call); the folders are few and small, only their files are read in a thread."""
        project_id = item.project["id"]
        project_root = self.root / project_id
        # an id, label or scan id that is not one plain name (`.`, `..`, `a/b`) names no folder of its own
        names = [project_id, *(scan["scan_id"] for scan in item.scans)]
        if item.kind == "subject" and item.subject is not None:
            names.append(item.subject["label"])
        elif item.experiment is not None:
            names.append(item.experiment["label"])
        if not all(_one_name(name) for name in names):
            return []
        if item.kind == "project":
            parents = [(f"project:{project_id}", project_root / "resources", f"/data/projects/{project_id}",
                        project_id, "resources", "", "")]
        elif item.kind == "subject" and item.subject is not None:
            subject = item.subject
            parents = [(f"subject:{subject['id']}", project_root / "subjects" / subject["label"],
                        f"/data/projects/{project_id}/subjects/{subject['id']}", subject["label"], "resources",
                        "", "")]
        elif item.kind == "experiment" and item.experiment is not None:
            session = item.experiment
            parents = [(f"experiment:{session['id']}", project_root / CURRENT_ARC / session["label"] / "RESOURCES",
                        f"/data/experiments/{session['id']}", session["label"], "resources", session["id"], " ")]
        else:
            if item.experiment is None:
                raise NotFound("Unable to find the scans' experiment.")
            session = item.experiment
            parents = []
            for scan in item.scans:
                scan_type = SCAN_TYPE_UNSAFE.sub("_", scan["type"])
                scan_dir = f"{scan['scan_id']}-{scan_type}" if scan_type else scan["scan_id"]
                parents.append((f"scan:{scan['id']}",
                                project_root / CURRENT_ARC / session["label"] / "SCANS" / scan["scan_id"],
                                f"/data/experiments/{session['id']}/scans/{scan['scan_id']}",
                                f"{session['label']}/scans/{scan_dir}", "scans", scan["scan_id"], scan["type"]))
        found = []
        for owner, folder, base_uri, zip_root, category, cat_id, cat_desc in parents:
            if not folder.is_dir() or not self._inside(folder, project_root):
                continue
            for child in sorted(folder.iterdir()):
                if child.is_dir() and not child.name.startswith(".") and self._inside(child, project_root):
                    found.append(Resource(owner, child.name, self.store.resource_id(owner, child.name), child,
                                          base_uri, f"{zip_root}/resources/{child.name}/files", category, cat_id,
                                          cat_desc))
        return found

    def resource(self, item: Item, key: str) -> Resource:
        """By number first, then by label, as XNAT looks resources up."""
        resources = self.resources(item)
        by_id = next((r for r in resources if key.isdigit() and str(r.id) == key), None)
        found = by_id or next((r for r in resources if r.label == key), None)
        if found is None:
            raise NotFound(f"Unable to find resource {key}.")
        return found


def _files_of(resource: Resource) -> list[tuple[str, Path]]:
    """(path relative to the resource folder, file) for every regular file inside the folder, symlinks included
    only when they stay inside it."""
    root = resource.folder.resolve()
    found = []
    for directory, folders, names in os.walk(root):
        folders[:] = sorted(f for f in folders if not f.startswith("."))
        for name in sorted(names):
            path = Path(directory) / name
            try:
                real = path.resolve(strict=True)
            except (OSError, RuntimeError):
                continue
            if real.is_relative_to(root) and real.is_file():
                found.append((path.relative_to(root).as_posix(), real))
    return found


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _file_rows(resources: list[Resource]) -> list[tuple[dict[str, str], Resource, str, Path]]:
    """CatalogUtils.FILE_HEADERS rows, each with its resource, relative path and file (runs in a thread)."""
    rows = []
    for resource in resources:
        for relative, path in _files_of(resource):
            # the name under which the file is listed (a link inside the resource keeps its own name)
            rows.append(({"Name": relative.rsplit("/", 1)[-1],
                          "Size": str(path.stat().st_size),
                          "URI": f"{resource.base_uri}/resources/{resource.id}/files/{relative}",
                          "collection": resource.label, "file_tags": "", "file_format": "", "file_content": "",
                          "cat_ID": str(resource.id), "digest": _md5(path)}, resource, relative, path))
    return rows


def _resource_row(resource: Resource) -> dict[str, str]:
    files = _files_of(resource)
    return {"xnat_abstractresource_id": str(resource.id), "label": resource.label,
            "element_name": "xnat:resourceCatalog", "category": resource.category, "cat_id": resource.cat_id,
            "cat_desc": resource.cat_desc, "format": "", "content": "", "tags": "",
            "file_count": str(len(files)), "file_size": str(sum(path.stat().st_size for _rel, path in files))}


def _write_zip(entries: list[tuple[str, Path]], target: IO[bytes]) -> None:
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, path in entries:
            archive.write(path, name)


async def _zip_response(request: web.Request, name: str, entries: list[tuple[str, Path]]) -> web.StreamResponse:
    """The files as one zip, built in a temporary file and streamed; no files is a 404, as in XNAT."""
    if not entries:
        raise NotFound("No files to download.")
    with tempfile.TemporaryFile() as spool:
        await asyncio.to_thread(_write_zip, entries, spool)
        size = spool.tell()
        spool.seek(0)
        response = web.StreamResponse(headers={"Content-Type": "application/zip",
                                               "Content-Disposition": f'attachment; filename="{name}.zip"'})
        response.content_length = size
        await response.prepare(request)
        while chunk := await asyncio.to_thread(spool.read, CHUNK):
            await response.write(chunk)
        await response.write_eof()
        return response


async def _files(archive: Archive, item: Item, resources: list[Resource], rest: list[str]) -> web.StreamResponse:
    request = archive.request
    if rest:  # one file: only below one resource
        if len(resources) != 1:
            raise NotFound("Name the file's resource: .../resources/{resource}/files/{path}.")
        root = resources[0].folder.resolve()
        candidate = root.joinpath(*rest)
        try:
            real = candidate.resolve(strict=True)
        except (OSError, RuntimeError):
            raise NotFound("Unable to find file.") from None
        if not real.is_relative_to(root) or not real.is_relative_to(archive.root.resolve()) or not real.is_file():
            raise NotFound("Unable to find file.")
        return web.FileResponse(real)
    fmt = _wanted_format(request, ("json", "zip"))
    rows = await asyncio.to_thread(_file_rows, resources)
    if fmt == "zip":
        name = item.experiment["label"] if item.experiment else item.subject["label"] if item.subject \
            else item.project["id"]
        entries = [(f"{resource.zip_prefix}/{rel}", path) for _row, resource, rel, path in rows]
        return await _zip_response(request, UNSAFE_IN_NAME.sub("_", name), entries)
    return result_set([row for row, _resource, _rel, _path in rows])


async def _resources(archive: Archive, item: Item, rest: list[str]) -> web.StreamResponse:
    if not rest:
        _wanted_format(archive.request, ("json",))
        resources = archive.resources(item)
        return result_set(await asyncio.to_thread(lambda: [_resource_row(r) for r in resources]))
    resource = archive.resource(item, rest[0])
    if len(rest) == 1:
        _wanted_format(archive.request, ("json",))
        return _items("xnat:resourceCatalog", await asyncio.to_thread(_resource_row, resource))
    if rest[1] != "files":
        raise NotFound(f"Nothing at {rest[1]} below a resource.")
    return await _files(archive, item, [resource], rest[2:])


def _subject_rows(subjects: list[sqlite3.Row]) -> list[dict[str, str]]:
    return [{"ID": s["id"], "project": s["project_id"], "label": s["label"], "insert_date": "", "insert_user": "",
             "URI": f"/data/subjects/{s['id']}"} for s in subjects]


def _experiment_rows(experiments: list[sqlite3.Row]) -> list[dict[str, str]]:
    return [{"ID": e["id"], "project": e["project_id"], "subject_ID": e["subject_id"], "label": e["label"],
             "xsiType": e["xsi_type"], "date": "", "insert_date": "", "URI": f"/data/experiments/{e['id']}"}
            for e in experiments]


def _scan_rows(experiment: sqlite3.Row, scans: list[sqlite3.Row]) -> list[dict[str, str]]:
    return [{"xnat_imagescandata_id": str(s["id"]), "ID": s["scan_id"], "type": s["type"], "quality": "usable",
             "xsiType": s["xsi_type"], "note": "", "series_description": s["type"],
             "URI": f"/data/experiments/{experiment['id']}/scans/{s['scan_id']}"} for s in scans]


def _item_json(item: Item) -> web.Response:
    project = item.project
    if item.kind == "project":
        return _items("xnat:projectData", {"ID": project["id"], "secondary_ID": project["id"],
                                           "name": project["name"], "description": ""})
    if item.kind == "subject" and item.subject is not None:
        subject = item.subject
        return _items("xnat:subjectData", {"ID": subject["id"], "project": project["id"], "label": subject["label"]})
    experiment = item.experiment
    if experiment is None:
        raise NotFound("Unable to find the experiment.")
    if item.kind == "experiment":
        fields = {"ID": experiment["id"], "project": project["id"], "label": experiment["label"],
                  "subject_ID": experiment["subject_id"]}
        if experiment["xsi_type"] == "xnat:mrSessionData":
            fields["modality"] = "MR"
        return _items(experiment["xsi_type"], fields)
    scan = item.scans[0]
    return _items(scan["xsi_type"], {"ID": scan["scan_id"], "type": scan["type"], "project": project["id"],
                                     "image_session_ID": experiment["id"], "xnat_imagescandata_id": scan["id"]})


async def _walk(archive: Archive, segments: list[str]) -> web.StreamResponse:
    store, request = archive.store, archive.request
    if len(segments) < 2:
        raise NotFound("Name the item: /data/projects/{id}, /data/subjects/{id} or /data/experiments/{id}.")
    item = archive.root_item(segments[0], segments[1])
    rest = segments[2:]
    while rest:
        name, rest = rest[0], rest[1:]
        if name == "resources" and len(item.scans) <= 1:
            return await _resources(archive, item, rest)
        if name == "files" and not rest:
            return await _files(archive, item, archive.resources(item), rest)
        if len(item.scans) > 1:
            break
        if name == "subjects" and item.kind == "project":
            if not rest:
                _wanted_format(request, ("json",))
                return result_set(_pick_columns(request, _subject_rows(store.subjects(item.project["id"]))))
            subject = store.subject_in_project(item.project["id"], rest[0])
            if subject is None:
                raise NotFound(f"Unable to find subject {rest[0]}.")
            item, rest = Item(item.project, subject), rest[1:]
        elif name == "experiments" and item.kind in ("project", "subject"):
            if not rest:
                _wanted_format(request, ("json",))
                experiments = store.experiments(item.subject["id"]) if item.subject is not None \
                    else store.project_experiments(item.project["id"])
                return result_set(_pick_columns(request, _experiment_rows(experiments)))
            experiment = store.experiment_in_project(item.project["id"], rest[0])
            if experiment is None or (item.subject is not None and experiment["subject_id"] != item.subject["id"]):
                raise NotFound(f"Unable to find experiment {rest[0]}.")
            item, rest = Item(item.project, archive._subject_of(experiment), experiment), rest[1:]
        elif name == "scans" and item.kind == "experiment" and item.experiment is not None:
            experiment = item.experiment
            if not rest:
                _wanted_format(request, ("json",))
                return result_set(_pick_columns(request, _scan_rows(experiment, store.scans(experiment["id"]))))
            if rest[0] == "ALL":
                scans = store.scans(experiment["id"])
            else:
                scans = []
                for scan_id in dict.fromkeys(rest[0].split(",")):
                    scan = store.experiment_scan(experiment["id"], scan_id)
                    if scan is None:
                        raise NotFound(f"Unable to find scan {scan_id}.")
                    scans.append(scan)
            if not scans:  # scans/ALL of a session without scans: an empty listing, or nothing to zip
                if rest[1:] == ["files"]:
                    return await _files(archive, item, [], [])
                raise NotFound("The session has no scans.")
            item, rest = Item(item.project, item.subject, experiment, tuple(scans)), rest[1:]
        else:
            raise NotFound(f"Nothing at {name} below a {item.kind}.")
    if len(item.scans) > 1:
        raise NotFound("Several scans can only be downloaded together: .../scans/{ids}/files.")
    _wanted_format(request, ("json",))
    return _item_json(item)


# /data/projects and /data/archive/projects themselves are data_api's project list. The tail matches any
# character, line breaks included, so that path_segments (not the router's generic 404) answers for them.
@routes.get(r"/data/projects/{tail:[\s\S]+}")
@routes.get(r"/data/archive/projects/{tail:[\s\S]+}")
@routes.get(r"/data/subjects/{tail:[\s\S]+}")
@routes.get(r"/data/archive/subjects/{tail:[\s\S]+}")
@routes.get(r"/data/experiments/{tail:[\s\S]+}")
@routes.get(r"/data/archive/experiments/{tail:[\s\S]+}")
async def archive_item(request: web.Request) -> web.StreamResponse:
    return await _walk(Archive(request), path_segments(request))
