# Copyright: Contributors to the xnat_jupyterhub.deploy collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the dashboard modules share: the plugin's dashboard resources behind the compute-config flow,
the rules for the words XNAT substitutes into a dashboard's command line, and names of compute configs."""

import re

from ansible_collections.xnat_jupyterhub.deploy.plugins.module_utils.xnat import XnatRequestError

FRAMEWORKS, DASHBOARDS = "frameworks", "configs"
CUSTOM = "custom"
# Option name -> XNAT's scope key; XNAT requires all three on a dashboard.
DASHBOARD_SCOPE_KEYS = (("site", "Site"), ("project", "Project"), ("datatype", "DataType"))

# Names: letters, digits, spaces and . _ ( ) + -, starting with a letter or digit (frameworks are path segments).
NAME = re.compile(r"\w[\w .()+-]{0,254}", re.UNICODE)
# XNAT substitutes these into a command line split at whitespace: no spaces, no leading '-'.
GIT_URL = re.compile(r"(https?|git|ssh)://[A-Za-z0-9._~%!$&'()*+,;=:@/-]+|[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[A-Za-z0-9._~/-]+")
GIT_REF = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._/-]{0,254}")
MAIN_FILE = re.compile(r"[\w@+-][\w.@+-]*(/[\w@+-][\w.@+-]*)*", re.UNICODE)
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
MAX_TEXT = 4096


def check_name(name, what):
    if not isinstance(name, str) or not NAME.fullmatch(name) or name != name.strip():
        raise XnatRequestError(f"{what} {name!r} is not valid: use letters, digits, spaces and . _ ( ) + -, "
                               "starting with a letter or digit (at most 255 characters)")


def check_text(text, what):
    if text is not None and (len(text) > MAX_TEXT or CONTROL.search(text)):
        raise XnatRequestError(f"{what} must be at most {MAX_TEXT} characters without control characters")


def check_git(url, branch, main_file_path):
    """Refuse values XNAT would paste into the dashboard's command line as extra arguments."""
    if url is not None and (len(url) > 2048 or not GIT_URL.fullmatch(url)):
        raise XnatRequestError(f"git_repo_url {url[:100]!r} is not a git URL: use http(s)://, git://, ssh:// or "
                               "user@host:path, without spaces")
    if branch is not None and (not GIT_REF.fullmatch(branch) or ".." in branch.split("/")):
        raise XnatRequestError(f"git_repo_branch {branch[:100]!r} is not a branch name: letters, digits and "
                               ". _ / -, not starting with '-'")
    if main_file_path is not None and (len(main_file_path) > 1024 or not MAIN_FILE.fullmatch(main_file_path)
                                       or ".." in main_file_path.split("/")):
        raise XnatRequestError(f"main_file_path {main_file_path[:100]!r} must be a relative path inside the "
                               "repository, without '..', spaces or a leading '/'")


class DashboardResources:
    """The plugin's dashboard frameworks and dashboards in the shape manage_compute_config works with.

    Frameworks are addressed by name in XNAT's paths; the adapter remembers the names of the listed ids.
    """

    def __init__(self, client):
        self.client = client
        self._names = {}

    def list_compute(self, kind):
        items = self.client.list_dashboards(kind)
        if kind == FRAMEWORKS:
            self._names = dict((item.get("id"), item.get("name")) for item in items)
        return items

    def _key(self, kind, config_id):
        return self._names.get(config_id, config_id) if kind == FRAMEWORKS else config_id

    def create_compute(self, kind, body):
        return self.client.create_dashboard(kind, body)

    def update_compute(self, kind, config_id, body):
        self.client.update_dashboard(kind, self._key(kind, config_id), dict(body, id=config_id))

    def delete_compute(self, kind, config_id):
        self.client.delete_dashboard(kind, self._key(kind, config_id))


class NamedConfigs:
    """Translates between the names of compute environments or hardware (what the modules speak) and ids."""

    def __init__(self, client, kind, what, name_of):
        self.client, self.kind, self.what, self.name_of = client, kind, what, name_of
        self._items = None

    def items(self):
        if self._items is None:
            self._items = self.client.list_compute(self.kind)
        return self._items

    def by_id(self, config_id):
        return next((item for item in self.items() if item.get("id") == config_id), None)

    def name(self, config_id):
        item = self.by_id(config_id)
        return self.name_of(item) if item else f"#{config_id}"

    def find(self, name):
        matches = [item for item in self.items() if self.name_of(item) == name]
        if not matches:
            known = sorted(str(self.name_of(item)) for item in self.items())
            raise XnatRequestError("unknown {} {!r}. Known: {}".format(self.what, name, ", ".join(known) or "none"))
        if len(matches) > 1:
            raise XnatRequestError(f"{self.what} name {name!r} is used more than once in XNAT")
        return matches[0]
