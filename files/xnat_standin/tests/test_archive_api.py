"""XNAT's archive API as notebook code reads it (contract §1.4): subjects, experiments, scans, resources and their
files, through the notebooks' `xnat` client (xnatpy 0.8.1) and as plain HTTP, including hostile paths."""

from __future__ import annotations

import asyncio
import hashlib
import io
import shutil
import zipfile
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
import xnat
from yarl import URL

from standin_testing import ADMIN, STANDIN_DIR, USER, Reply, Standin

pytestmark = pytest.mark.asyncio

SAMPLE = STANDIN_DIR / "sample_archive"
SESSION_DIR = Path("DEMO01") / "arc001" / "SUBJ01_MR1"
T1_FILE = SESSION_DIR / "SCANS" / "1" / "DICOM" / "1.dcm"
T2_FILE = SESSION_DIR / "SCANS" / "2" / "NIFTI" / "t2w.json"
PROTOCOL = Path("DEMO01") / "resources" / "protocols" / "protocol.txt"
SECRET_TEXT = b"outside-the-archive: must never be served"
MEMBER = ("mmember", "pw-mmember")
SCAN_FILES = "/data/experiments/XNAT_E00001/scans/1/resources/DICOM/files"
PROTOCOL_FILES = "/data/projects/DEMO01/resources/protocols/files"


@pytest_asyncio.fixture
async def archive(standin_factory, tmp_path):
    """The sample archive copied to tmp_path/archive, with a private project and traps: symlinks out of the
    archive, out of a resource, into a loop and to nothing, next to a secret file outside the archive."""
    root = tmp_path / "archive"
    shutil.copytree(SAMPLE, root)
    outside = tmp_path / "outside"
    (outside / "resources" / "stolen").mkdir(parents=True)
    (outside / "secret.txt").write_bytes(SECRET_TEXT)
    (outside / "resources" / "stolen" / "secret.txt").write_bytes(SECRET_TEXT)

    dicom = root / T1_FILE.parent
    (dicom / "leak.txt").symlink_to(outside / "secret.txt")  # a file link out of the archive
    (dicom / "outdir").symlink_to(outside, target_is_directory=True)  # a folder link out of the archive
    (dicom / "protocol-link.txt").symlink_to(root / PROTOCOL)  # inside the archive, outside this resource
    (dicom / "same.dcm").symlink_to("1.dcm")  # inside this resource: served
    (dicom / "loop").symlink_to("loop")
    (dicom / "dangling").symlink_to(tmp_path / "nothing-here")
    (root / "DEMO01" / "resources" / "stolen").symlink_to(outside / "resources" / "stolen",
                                                          target_is_directory=True)  # a resource folder link out
    (root / PROTOCOL.parent / "résumé ü.txt").write_text("unicode name\n")
    (root / "LINKED").symlink_to(outside, target_is_directory=True)  # a whole project folder linked out
    (root / "SECRET" / "resources" / "confidential").mkdir(parents=True)
    (root / "SECRET" / "resources" / "confidential" / "plan.txt").write_text("members only\n")

    standin = await standin_factory("--seed", str(STANDIN_DIR / "sample_seed.yml"), "--archive-path", str(root))
    await standin.create_user(*USER)
    await standin.create_user(*MEMBER)
    store = standin.state.store
    store.upsert_project("SECRET", "Private study", "private", [MEMBER[0]])
    subject = store.upsert_subject("XNAT_S00900", "SECRET", "HIDDEN01")
    store.upsert_experiment("XNAT_E00900", "SECRET", subject, "HIDDEN01_MR1", "xnat:mrSessionData")
    store.upsert_scan("XNAT_E00900", "1", "xnat:mrScanData", "T1w")
    store.upsert_project("LINKED", "Linked out", "public", [])
    return standin


async def raw_get(standin: Standin, raw_path: str, auth: tuple[str, str] | None = USER) -> Reply:
    """A GET whose path goes out exactly as written: no client-side normalisation of `..` or escapes."""
    headers = {"Authorization": aiohttp.encode_basic_auth(*auth)} if auth else {}
    async with aiohttp.ClientSession() as client:
        async with client.get(URL(standin.url + raw_path, encoded=True), headers=headers,
                              allow_redirects=False) as reply:
            body = await reply.read()
            return Reply(reply.status, reply.headers, body.decode("utf-8", "replace"))


async def raw_request_line(standin: Standin, target: bytes) -> tuple[int, bytes]:
    """Bytes no HTTP client would send (raw non-UTF-8 in the request line)."""
    url = URL(standin.url)
    reader, writer = await asyncio.open_connection(url.host, url.port)
    auth = aiohttp.encode_basic_auth(*USER).encode()
    writer.write(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nAuthorization: " + auth
                 + b"\r\nConnection: close\r\n\r\n")
    await writer.drain()
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    return int(answer.split(b" ", 2)[1]), answer


def result(reply: Reply) -> list[dict]:
    assert reply.status == 200, reply.text
    assert reply.headers["Content-Type"].startswith("application/json")
    result_set = reply.json["ResultSet"]
    assert result_set["totalRecords"] == str(len(result_set["Result"]))
    return result_set["Result"]


def zip_members(body: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


async def get_bytes(standin: Standin, path: str, auth: tuple[str, str] = USER) -> tuple[int, bytes, str]:
    async with aiohttp.ClientSession() as client:
        async with client.get(standin.url + path, headers={"Authorization": aiohttp.encode_basic_auth(*auth)},
                              allow_redirects=False) as reply:
            return reply.status, await reply.read(), reply.headers.get("Content-Type", "")


# --- with the notebooks' xnat client ----------------------------------------------------------------------------


def browse_with_xnatpy(url: str, download_dir: Path) -> dict:
    """What a notebook does: walk project → subject → experiment → scan → resource → file, and download."""
    seen: dict = {}
    with xnat.connect(url, user=USER[0], password=USER[1], default_timeout=20) as session:
        project = session.projects["DEMO01"]
        seen["subjects"] = sorted(s.label for s in project.subjects.values())
        subject = project.subjects["SUBJ01"]
        seen["subject_id"] = subject.id
        seen["experiments"] = sorted(e.label for e in subject.experiments.values())
        experiment = subject.experiments["SUBJ01_MR1"]
        seen["experiment_id"] = experiment.id
        seen["scans"] = {s.id: s.type for s in experiment.scans.values()}
        scan = experiment.scans["1"]
        seen["scan_resources"] = sorted(r.label for r in scan.resources.values())
        resource = scan.resources["DICOM"]
        seen["files"] = sorted(resource.files.keys())
        resource.files["1.dcm"].download(str(download_dir / "1.dcm"), verbose=False)
        scan.download(str(download_dir / "scan.zip"), verbose=False)
        resource.download(str(download_dir / "resource.zip"), verbose=False)
        experiment.download(str(download_dir / "experiment.zip"), verbose=False)
        seen["project_resources"] = sorted(r.label for r in project.resources.values())
        seen["subject_resources"] = sorted(r.label for r in subject.resources.values())
        seen["experiment_resources"] = sorted(r.label for r in experiment.resources.values())
        protocol = project.resources["protocols"].files["protocol.txt"]
        protocol.download(str(download_dir / "protocol.txt"), verbose=False)
    return seen


async def test_xnat_client_walks_the_archive_and_downloads(standin_factory, tmp_path):
    standin = await standin_factory("--seed", str(STANDIN_DIR / "sample_seed.yml"), "--archive-path", str(SAMPLE))
    await standin.create_user(*USER)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    seen = await asyncio.to_thread(browse_with_xnatpy, standin.url, downloads)

    assert seen["subjects"] == ["SUBJ01"] and seen["subject_id"] == "XNAT_S00001"
    assert seen["experiments"] == ["SUBJ01_MR1"] and seen["experiment_id"] == "XNAT_E00001"
    assert seen["scans"] == {"1": "T1w", "2": "T2w"}
    assert seen["scan_resources"] == ["DICOM"] and seen["files"] == ["1.dcm"]
    assert seen["project_resources"] == ["protocols"]
    assert seen["subject_resources"] == ["demographics"]
    assert seen["experiment_resources"] == ["notes"]

    assert (downloads / "1.dcm").read_bytes() == (SAMPLE / T1_FILE).read_bytes()
    assert (downloads / "protocol.txt").read_bytes() == (SAMPLE / PROTOCOL).read_bytes()
    scan_zip = zip_members((downloads / "scan.zip").read_bytes())
    assert scan_zip == {"SUBJ01_MR1/scans/1-T1w/resources/DICOM/files/1.dcm": (SAMPLE / T1_FILE).read_bytes()}
    assert zip_members((downloads / "resource.zip").read_bytes()) == scan_zip
    assert zip_members((downloads / "experiment.zip").read_bytes()) == {
        **scan_zip, "SUBJ01_MR1/scans/2-T2w/resources/NIFTI/files/t2w.json": (SAMPLE / T2_FILE).read_bytes()}


# --- listings and items -----------------------------------------------------------------------------------------


async def test_listings_answer_result_sets_and_honour_columns(archive):
    subjects = result(await archive.call("GET", "/data/projects/DEMO01/subjects?format=json", auth=USER))
    assert [(s["ID"], s["label"], s["URI"]) for s in subjects] == [
        ("XNAT_S00001", "SUBJ01", "/data/subjects/XNAT_S00001")]
    picked = result(await archive.call("GET", "/data/projects/DEMO01/subjects?format=json&columns=ID,label",
                                       auth=USER))
    assert picked == [{"ID": "XNAT_S00001", "label": "SUBJ01"}]
    # json is the default format; unknown columns are left out
    assert result(await archive.call("GET", "/data/projects/DEMO01/subjects?columns=label,nonsense", auth=USER)) \
        == [{"label": "SUBJ01"}]

    for path in ("/data/projects/DEMO01/experiments", "/data/projects/DEMO01/subjects/SUBJ01/experiments",
                 "/data/archive/projects/DEMO01/subjects/XNAT_S00001/experiments",
                 "/data/subjects/XNAT_S00001/experiments"):
        rows = result(await archive.call("GET", path + "?format=json", auth=USER))
        assert [(e["ID"], e["label"], e["xsiType"]) for e in rows] == [
            ("XNAT_E00001", "SUBJ01_MR1", "xnat:mrSessionData")], path

    scans = result(await archive.call("GET", "/data/experiments/XNAT_E00001/scans?format=json", auth=USER))
    assert [(s["ID"], s["type"], s["URI"]) for s in scans] == [
        ("1", "T1w", "/data/experiments/XNAT_E00001/scans/1"), ("2", "T2w", "/data/experiments/XNAT_E00001/scans/2")]
    assert result(await archive.call("GET", "/data/experiments/XNAT_E00001/scans?columns=ID", auth=USER)) == [
        {"ID": "1"}, {"ID": "2"}]

    for bad in ("xml", "csv", "zip", "html"):
        refused = await archive.call("GET", f"/data/projects/DEMO01/subjects?format={bad}", auth=USER)
        assert refused.status == 400 and refused.headers["Content-Type"].startswith("text/plain"), bad


async def test_items_answer_xnats_item_json(archive):
    project = (await archive.call("GET", "/data/projects/DEMO01?format=json", auth=USER)).json["items"][0]
    assert project["meta"]["xsi:type"] == "xnat:projectData" and project["data_fields"]["ID"] == "DEMO01"
    subject = (await archive.call("GET", "/data/projects/DEMO01/subjects/SUBJ01", auth=USER)).json["items"][0]
    assert subject["data_fields"] == {"ID": "XNAT_S00001", "project": "DEMO01", "label": "SUBJ01"}
    experiment = (await archive.call("GET", "/data/archive/experiments/XNAT_E00001", auth=USER)).json["items"][0]
    assert experiment["meta"]["xsi:type"] == "xnat:mrSessionData"
    assert experiment["data_fields"]["label"] == "SUBJ01_MR1" and experiment["data_fields"]["modality"] == "MR"
    scan = (await archive.call("GET", "/data/experiments/SUBJ01_MR1/scans/2", auth=USER))
    assert scan.status == 404  # experiments are found by label only below their project
    scan = (await archive.call("GET", "/data/projects/DEMO01/experiments/SUBJ01_MR1/scans/2", auth=USER))
    assert scan.json["items"][0]["data_fields"]["type"] == "T2w"


async def test_resources_and_file_listings(archive):
    resources = result(await archive.call("GET", "/data/experiments/XNAT_E00001/scans/1/resources", auth=USER))
    assert [(r["label"], r["file_count"]) for r in resources] == [("DICOM", "2")]  # 1.dcm and the link same.dcm
    number = resources[0]["xnat_abstractresource_id"]
    by_label = result(await archive.call("GET", SCAN_FILES, auth=USER))
    by_number = result(await archive.call(
        "GET", f"/data/experiments/XNAT_E00001/scans/1/resources/{number}/files", auth=USER))
    assert by_label == by_number
    data = (archive.state.settings.archive_path / T1_FILE).read_bytes()
    assert {row["Name"]: (row["Size"], row["digest"]) for row in by_label} == {
        "1.dcm": (str(len(data)), hashlib.md5(data).hexdigest()),
        "same.dcm": (str(len(data)), hashlib.md5(data).hexdigest())}
    assert {row["URI"] for row in by_label} == {
        f"/data/experiments/XNAT_E00001/scans/1/resources/{number}/files/1.dcm",
        f"/data/experiments/XNAT_E00001/scans/1/resources/{number}/files/same.dcm"}

    for row in by_label:
        status, body, content_type = await get_bytes(archive, row["URI"])
        assert (status, body) == (200, data) and not content_type.startswith("text/plain")

    project_resources = result(await archive.call("GET", "/data/projects/DEMO01/resources", auth=USER))
    assert [r["label"] for r in project_resources] == ["protocols"]  # not the folder linked out as "stolen"
    assert result(await archive.call("GET", "/data/subjects/XNAT_S00001/resources", auth=USER))[0]["label"] \
        == "demographics"
    item = (await archive.call("GET", "/data/projects/DEMO01/resources/protocols", auth=USER)).json["items"][0]
    assert item["meta"]["xsi:type"] == "xnat:resourceCatalog" and item["data_fields"]["file_count"] == "2"


async def test_unicode_file_names_are_listed_and_served(archive):
    rows = result(await archive.call("GET", PROTOCOL_FILES, auth=USER))
    assert sorted(row["Name"] for row in rows) == ["protocol.txt", "résumé ü.txt"]
    status, body, _type = await get_bytes(archive, PROTOCOL_FILES + "/r%C3%A9sum%C3%A9%20%C3%BC.txt")
    assert (status, body) == (200, b"unicode name\n")


async def test_zip_downloads(archive):
    root = archive.state.settings.archive_path
    status, body, content_type = await get_bytes(archive, SCAN_FILES + "?format=zip")
    assert status == 200 and content_type == "application/zip"
    t1 = (root / T1_FILE).read_bytes()
    assert zip_members(body) == {"SUBJ01_MR1/scans/1-T1w/resources/DICOM/files/1.dcm": t1,
                                 "SUBJ01_MR1/scans/1-T1w/resources/DICOM/files/same.dcm": t1}
    status, body, _type = await get_bytes(archive, "/data/experiments/XNAT_E00001/scans/1,2/files?format=zip")
    assert status == 200 and sorted(zip_members(body)) == [
        "SUBJ01_MR1/scans/1-T1w/resources/DICOM/files/1.dcm", "SUBJ01_MR1/scans/1-T1w/resources/DICOM/files/same.dcm",
        "SUBJ01_MR1/scans/2-T2w/resources/NIFTI/files/t2w.json"]
    status, body, _type = await get_bytes(archive, "/data/projects/DEMO01/files?format=zip")
    assert status == 200 and SECRET_TEXT not in b"".join(zip_members(body).values())
    assert sorted(zip_members(body)) == ["DEMO01/resources/protocols/files/protocol.txt",
                                         "DEMO01/resources/protocols/files/résumé ü.txt"]
    # nothing to zip is a 404, as in XNAT
    assert (await archive.call("GET", "/data/projects/LINKED/files?format=zip", auth=USER)).status == 404


@pytest.mark.parametrize("path", [
    "/data/projects/NOPE", "/data/projects/NOPE/subjects",
    "/data/projects/DEMO01/subjects/NOPE", "/data/subjects/NOPE", "/data/subjects/NOPE/experiments",
    "/data/projects/DEMO01/experiments/NOPE", "/data/experiments/NOPE", "/data/experiments/NOPE/scans",
    "/data/projects/DEMO01/subjects/SUBJ01/experiments/NOPE",
    "/data/experiments/XNAT_E00001/scans/99", "/data/experiments/XNAT_E00001/scans/1,99/files",
    "/data/experiments/XNAT_E00001/scans/99/resources", "/data/experiments/XNAT_E00001/scans/1/resources/NOPE",
    "/data/experiments/XNAT_E00001/scans/1/resources/NOPE/files", SCAN_FILES + "/nope.dcm",
    SCAN_FILES + "/1.dcm/more", "/data/experiments/XNAT_E00001/scans/1/resources/DICOM/other",
    "/data/projects/DEMO01/unknown", "/data/projects/DEMO01/scans", "/data/subjects/XNAT_S00001/scans",
    "/data/experiments/XNAT_E00001/subjects", "/data/experiments/XNAT_E00001/scans/1,2",
    "/data/experiments/XNAT_E00001/scans/1,2/resources", "/data/projects/DEMO01/files/protocol.txt",
    "/data/projects/LINKED/resources/stolen", "/data/projects/LINKED/resources/stolen/files/secret.txt",
    "/data/experiments/XNAT_S00001", "/data/subjects/XNAT_E00001",
])
async def test_unknown_items_are_404(archive, path):
    reply = await archive.call("GET", path, auth=USER)
    assert reply.status == 404, reply.text
    assert reply.headers["Content-Type"].startswith("text/plain")


async def test_without_credentials_401(archive):
    reply = await archive.call("GET", "/data/projects/DEMO01/subjects", auth=None)
    assert reply.status == 401 and reply.headers["WWW-Authenticate"] == 'Basic realm="XNAT"'
    assert (await archive.call("GET", SCAN_FILES + "/1.dcm", auth=(USER[0], "wrong"))).status == 401


@pytest.mark.parametrize("path", [
    "/data/projects/SECRET", "/data/projects/SECRET/subjects", "/data/projects/SECRET/subjects/HIDDEN01",
    "/data/projects/SECRET/experiments", "/data/subjects/XNAT_S00900", "/data/archive/subjects/XNAT_S00900",
    "/data/experiments/XNAT_E00900", "/data/experiments/XNAT_E00900/scans", "/data/experiments/XNAT_E00900/scans/1",
    "/data/projects/SECRET/resources", "/data/projects/SECRET/resources/confidential/files",
    "/data/projects/SECRET/resources/confidential/files/plan.txt", "/data/projects/SECRET/files?format=zip",
    # a private item reached through a readable project is not in that project
    "/data/projects/DEMO01/subjects/XNAT_S00900", "/data/projects/DEMO01/experiments/XNAT_E00900",
])
async def test_a_private_project_is_as_absent_as_an_unknown_one(archive, path):
    """The stand-in answers 404 for items of projects the caller cannot read, exactly as for unknown ones, so
    that nothing tells which private ids exist (contract §6)."""
    refused = await archive.call("GET", path, auth=USER)
    assert refused.status == 404 and "members only" not in refused.text, path
    unknown = await archive.call("GET", path.replace("SECRET", "NOPE").replace("00900", "00999"), auth=USER)
    assert unknown.status == 404
    if "DEMO01" not in path:
        assert (await get_bytes(archive, path, auth=MEMBER))[0] == 200, path
        assert (await get_bytes(archive, path, auth=ADMIN))[0] == 200, path


async def test_members_and_administrators_download_private_files(archive):
    for auth in (MEMBER, ADMIN):
        status, body, _type = await get_bytes(archive, "/data/projects/SECRET/resources/confidential/files/plan.txt",
                                              auth=auth)
        assert (status, body) == (200, b"members only\n")


# --- hostile paths ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw_path", [
    PROTOCOL_FILES + "/..%2F..%2F..%2F..%2Foutside%2Fsecret.txt",  # encoded slashes
    PROTOCOL_FILES + "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/outside/secret.txt",  # encoded dots
    PROTOCOL_FILES + "/%2E%2E",
    PROTOCOL_FILES + "/.%2e/x",
    PROTOCOL_FILES + "/./protocol.txt",
    PROTOCOL_FILES + "/protocol.txt%00.png",  # NUL
    PROTOCOL_FILES + "/%00",
    PROTOCOL_FILES + "/..%5C..%5Csecret.txt",  # backslashes
    PROTOCOL_FILES + "/%2Fetc%2Fpasswd",  # an absolute path in one segment
    PROTOCOL_FILES + "//etc/passwd",  # an empty segment
    PROTOCOL_FILES + "/protocol%0A.txt", PROTOCOL_FILES + "/%7F",  # control characters
    PROTOCOL_FILES + "/%FF%FE", PROTOCOL_FILES + "/%C0%AE%C0%AE/secret.txt",  # not UTF-8 (overlong dots)
    PROTOCOL_FILES + "/%ED%A0%80",  # a UTF-16 surrogate in UTF-8
    PROTOCOL_FILES + "/" + "a" * 256,  # a segment longer than a file name may be
    "/data/projects/DEMO01/subjects/" + "S" * 300,
    "/data/projects/%2e%2e/resources", "/data/projects/..%2FDEMO01/resources",
    "/data/experiments/XNAT_E00001/scans/1%2F..%2F2/files",
    "/data/projects/DEMO01/subjects/SUBJ01%00/experiments",
])
async def test_hostile_paths_are_400(archive, raw_path):
    reply = await raw_get(archive, raw_path)
    assert reply.status == 400, (raw_path, reply.status, reply.text[:200])
    assert reply.headers["Content-Type"].startswith("text/plain") and "outside-the-archive" not in reply.text


@pytest.mark.parametrize("raw_path", [
    PROTOCOL_FILES + "/../../../../outside/secret.txt",  # literal dots: normalised by the server, or refused
    PROTOCOL_FILES + "/../../../../../../../../etc/passwd",
    "/data/projects/DEMO01/../../../outside/secret.txt",
    SCAN_FILES + "/leak.txt",  # a link out of the archive
    SCAN_FILES + "/outdir/secret.txt",  # through a folder linked out of the archive
    SCAN_FILES + "/outdir/resources/stolen/secret.txt",
    SCAN_FILES + "/protocol-link.txt",  # a link to another resource's file
    SCAN_FILES + "/loop", SCAN_FILES + "/dangling",
    SCAN_FILES + "/outdir",  # a folder is not a file
    "/data/projects/DEMO01/resources/stolen/files/secret.txt",  # a resource folder linked out
    "/data/projects/DEMO01/resources/stolen/files",
    "/data/projects/LINKED/resources/stolen/files/secret.txt",  # a project folder linked out
    PROTOCOL_FILES + "/%252e%252e/%252e%252e/secret.txt",  # double encoding is a literal name
    PROTOCOL_FILES + "/" + "/".join(["d" * 200] * 30),  # a path longer than the system allows
    PROTOCOL_FILES + "/%E2%80%AEtxt.exe",  # right-to-left override: just an unknown name
    "/data/projects/DEMO01/subjects/%F0%9F%98%80", "/data/experiments/XNAT_E00001/scans/%D9%A1",
    "/data/experiments/XNAT_E00001/scans/1,,2/files", "/data/experiments/XNAT_E00001/scans/,/files",
])
async def test_paths_out_of_the_archive_or_resource_are_clear_4xx(archive, raw_path):
    reply = await raw_get(archive, raw_path)
    assert 400 <= reply.status < 500, (raw_path, reply.status, reply.text[:200])
    assert "outside-the-archive" not in reply.text and "root:" not in reply.text


async def test_links_out_of_a_resource_are_never_listed_or_zipped(archive):
    rows = result(await archive.call("GET", SCAN_FILES, auth=USER))
    assert sorted(row["Name"] for row in rows) == ["1.dcm", "same.dcm"]
    for path in (SCAN_FILES + "?format=zip", "/data/experiments/XNAT_E00001/scans/ALL/files?format=zip",
                 "/data/projects/DEMO01/files?format=zip"):
        status, body, _type = await get_bytes(archive, path)
        assert status == 200 and SECRET_TEXT not in b"".join(zip_members(body).values()), path
        assert not any("leak" in name or "outdir" in name or "stolen" in name for name in zip_members(body))
    linked = result(await archive.call("GET", "/data/projects/LINKED/resources", auth=USER))
    assert linked == []


async def test_non_utf8_bytes_in_the_request_line_are_refused(archive):
    status, answer = await raw_request_line(archive, PROTOCOL_FILES.encode() + b"/\xff\xfe.txt")
    assert 400 <= status < 500 and SECRET_TEXT not in answer


async def test_labels_that_are_paths_do_not_leave_their_project(archive, tmp_path):
    """Labels come from seeds, unchecked; a subject or experiment labelled like a path must not reach another
    project's folders (nor the archive's parent)."""
    root = archive.state.settings.archive_path
    for folder in ("OTHER/subjects", "OTHER/arc001", "SECRET/arc001/HIDDEN01_MR1/RESOURCES/raw",
                   "SECRET/arc001/HIDDEN01_MR1/SCANS/1/DICOM"):
        (root / folder).mkdir(parents=True)
    (root / "SECRET/arc001/HIDDEN01_MR1/RESOURCES/raw/data.txt").write_text("members only\n")
    (root / "SECRET/arc001/HIDDEN01_MR1/SCANS/1/DICOM/1.dcm").write_text("members only\n")
    (tmp_path / "resources" / "up").mkdir(parents=True)  # what the project folder's parent would offer
    (tmp_path / "resources" / "up" / "x.txt").write_text("outside-the-archive\n")
    store = archive.state.store
    store.upsert_project("OTHER", "Other", "public", [])
    climbing = store.upsert_subject("XNAT_S00950", "OTHER", "../../SECRET/resources")
    store.upsert_experiment("XNAT_E00950", "OTHER", climbing, "../../SECRET/arc001/HIDDEN01_MR1",
                            "xnat:mrSessionData")
    store.upsert_scan("XNAT_E00950", "1", "xnat:mrScanData", "T1w")
    store.upsert_subject("XNAT_S00951", "OTHER", "..")
    store.upsert_subject("XNAT_S00952", "OTHER", "../../..")
    store.upsert_project("..", "Parent", "public", [])
    for path in ("/data/subjects/XNAT_S00950/resources", "/data/experiments/XNAT_E00950/resources",
                 "/data/experiments/XNAT_E00950/scans/1/resources", "/data/subjects/XNAT_S00951/resources",
                 "/data/subjects/XNAT_S00952/resources"):
        reply = await archive.call("GET", path, auth=USER)
        assert reply.status == 200 and result(reply) == [], (path, reply.text)
    for path in ("/data/subjects/XNAT_S00950/resources/confidential/files/plan.txt",
                 "/data/experiments/XNAT_E00950/resources/raw/files/data.txt",
                 "/data/experiments/XNAT_E00950/scans/1/resources/DICOM/files/1.dcm",
                 "/data/subjects/XNAT_S00950/files?format=zip", "/data/experiments/XNAT_E00950/files?format=zip",
                 "/data/experiments/XNAT_E00950/scans/ALL/files?format=zip",
                 "/data/subjects/XNAT_S00952/resources/up/files/x.txt"):
        status, body, _type = await get_bytes(archive, path)
        assert status == 404 and b"members only" not in body and b"outside-the-archive" not in body, path
    # a project id that is a path: refused in the URL, and its folder is never read
    assert (await raw_get(archive, "/data/projects/%2E%2E/resources")).status == 400
    assert (await raw_get(archive, "/data/projects/../resources")).status in (400, 404)
