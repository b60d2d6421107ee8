"""What notebook code calls (contract §1.4): enough of XNAT's session and data API for the
`xnat` client (xnatpy 0.8.1) to connect with XNAT_HOST / XNAT_USER / XNAT_PASS and list projects.

xnatpy's connect: GET / (with Basic for alias tokens) or PUT /data/services/auth for a session,
GET /data/auth, GET /data/JSESSION, GET /xapi/siteConfig/buildInfo, GET /xapi/schemas[/xnat],
GET /data/search/elements[/{type}]; then GET /data/archive/projects; DELETE /data/JSESSION at the end.
"""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

from aiohttp import web

from .auth import SESSION_COOKIE
from .responses import NotFound, json_response
from .state import principal_of, state_of
from .user_options import readable_projects

# The XNAT release line whose API the stand-in follows; xnatpy picks its schema reader by it.
XNAT_VERSION = "1.9.0"
XNAT_NAMESPACE = "http://nrg.wustl.edu/xnat"

# The part of XNAT's xnat.xsd the stand-in serves data for: type -> (base type, attributes, child listings).
# A child listing (wrapper element, item element, item type) is how XNAT's schema nests subjects' experiments,
# sessions' scans and every item's resources; xnatpy builds `subject.experiments`, `experiment.scans` and the
# subject and experiment `resources` from them (contract §1.4).
XNAT_TYPES: dict[str, tuple[str | None, tuple[str, ...], tuple[tuple[str, str, str], ...]]] = {
    "projectData": (None, ("ID", "secondary_ID", "name", "description"),
                    (("resources", "resource", "abstractResource"),)),
    "subjectData": (None, ("ID", "project", "label"),
                    (("resources", "resource", "abstractResource"),
                     ("experiments", "experiment", "subjectAssessorData"))),
    "experimentData": (None, ("ID", "project", "label", "date"), (("resources", "resource", "abstractResource"),)),
    "subjectAssessorData": ("experimentData", ("subject_ID",), ()),
    "imageSessionData": ("subjectAssessorData", ("modality",), (("scans", "scan", "imageScanData"),)),
    "mrSessionData": ("imageSessionData", (), ()),
    "imageScanData": (None, ("ID", "type", "image_session_ID", "project"), ()),
    "mrScanData": ("imageScanData", (), ()),
    "abstractResource": (None, ("label", "file_count", "file_size"), ()),
    "resourceCatalog": ("abstractResource", (), ()),
}
# Searchable data types (XNAT's /data/search/elements), with their display fields.
SEARCH_ELEMENTS = {
    "xnat:projectData": ("Project", "Projects", ("ID", "NAME", "DESCRIPTION")),
    "xnat:subjectData": ("Subject", "Subjects", ("SUBJECT_ID", "SUBJECT_LABEL", "PROJECT")),
    "xnat:mrSessionData": ("MR Session", "MR Sessions", ("SESSION_ID", "LABEL", "PROJECT", "SUBJECT_ID")),
}
PROJECT_COLUMNS = ("ID", "secondary_ID", "name", "description", "pi_firstname", "pi_lastname", "URI")

routes = web.RouteTableDef()


def xnat_schema() -> str:
    """XSD for XNAT_TYPES in XNAT's namespace: what xnatpy builds its object model from."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             f'<xs:schema targetNamespace="{XNAT_NAMESPACE}" xmlns:xnat="{XNAT_NAMESPACE}"'
             ' xmlns:xdat="http://nrg.wustl.edu/xdat" xmlns:xs="http://www.w3.org/2001/XMLSchema"'
             ' elementFormDefault="qualified" attributeFormDefault="unqualified">']
    for name in XNAT_TYPES:
        lines.append(f'  <xs:element name={quoteattr(name[0].upper() + name[1:].removesuffix("Data"))}'
                     f' type="xnat:{name}"/>')
    for name, (base, attributes, listings) in XNAT_TYPES.items():
        children = "".join(
            f'<xs:element name={quoteattr(wrapper)} minOccurs="0"><xs:complexType><xs:sequence>'
            f'<xs:element name={quoteattr(item)} type="xnat:{item_type}" minOccurs="0" maxOccurs="unbounded"/>'
            f'</xs:sequence></xs:complexType></xs:element>' for wrapper, item, item_type in listings)
        fields = (f"<xs:sequence>{children}</xs:sequence>" if children else "") + \
            "".join(f'<xs:attribute name={quoteattr(a)} type="xs:string"/>' for a in attributes)
        if base:
            fields = f'<xs:complexContent><xs:extension base="xnat:{base}">{fields}</xs:extension></xs:complexContent>'
        lines.append(f'  <xs:complexType name={quoteattr(name)}>{fields}</xs:complexType>')
    lines.append("</xs:schema>")
    return "\n".join(lines) + "\n"


def result_set(rows: list[dict]) -> web.Response:
    """XNAT's table shape for /data listings in JSON."""
    return json_response({"ResultSet": {"Result": rows, "totalRecords": str(len(rows))}})


def _session_of(request: web.Request) -> str | None:
    session = request.cookies.get(SESSION_COOKIE)
    return session if session in state_of(request).auth.sessions else None


@routes.get("/data/auth")
async def auth_check(request: web.Request) -> web.Response:
    """XNAT answers an authenticated caller (password, alias token or session) with this line."""
    return web.Response(text=f"User '{principal_of(request).username}' is logged in", content_type="text/plain")


@routes.get("/data/JSESSION")
async def session_id(request: web.Request) -> web.Response:
    """The caller's session id; Basic credentials without a session get a new one, as in XNAT."""
    session = _session_of(request)
    if session is not None:
        return web.Response(text=session, content_type="text/plain")
    session = state_of(request).auth.start_session(principal_of(request).user)
    response = web.Response(text=session, content_type="text/plain")
    response.set_cookie(SESSION_COOKIE, session, httponly=True, path="/")
    return response


@routes.delete("/data/JSESSION")
async def end_session(request: web.Request) -> web.Response:
    state_of(request).auth.end_session(request.cookies.get(SESSION_COOKIE))
    response = web.Response(text="", content_type="text/plain")
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


@routes.get("/xapi/siteConfig/buildInfo")
async def build_info(request: web.Request) -> web.Response:
    return json_response({"version": XNAT_VERSION, "buildNumber": "xnat-standin"})


@routes.get("/xapi/schemas")
async def schema_names(request: web.Request) -> web.Response:
    return json_response(["xnat"])


@routes.get("/xapi/schemas/{schema}")
async def schema(request: web.Request) -> web.Response:
    if request.match_info["schema"] != "xnat":
        raise NotFound(f"No schema named {request.match_info['schema']}.")
    return web.Response(text=xnat_schema(), content_type="application/xml")


@routes.get("/data/search/elements")
async def search_elements(request: web.Request) -> web.Response:
    return result_set([{"ELEMENT_NAME": name, "SINGULAR": singular, "PLURAL": plural}
                       for name, (singular, plural, _fields) in SEARCH_ELEMENTS.items()])


@routes.get("/data/search/elements/{element}")
async def search_fields(request: web.Request) -> web.Response:
    element = request.match_info["element"]
    if element not in SEARCH_ELEMENTS:
        raise NotFound(f"No data type named {element}.")
    return result_set([{"FIELD_ID": field, "HEADER": field, "TYPE": "string", "ELEMENT_NAME": element}
                       for field in SEARCH_ELEMENTS[element][2]])


@routes.get("/data/projects")
@routes.get("/data/archive/projects")  # XNAT serves its archive under both prefixes; xnatpy uses this one
async def projects(request: web.Request) -> web.Response:
    """The projects the caller can read; `columns=` picks fields, as XNAT's table API does."""
    principal = principal_of(request)
    wanted = [c for c in request.query.get("columns", "").split(",") if c] or list(PROJECT_COLUMNS)
    rows = []
    for project in readable_projects(state_of(request).store, principal.user, principal.roles):
        row = {"ID": project["id"], "secondary_ID": project["id"], "name": project["name"], "description": "",
               "pi_firstname": "", "pi_lastname": "", "URI": f"/data/projects/{project['id']}"}
        rows.append({column: row[column] for column in wanted if column in row})
    return result_set(rows)
