# Copyright: XNAT JupyterHub deployment maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: tree_hash
short_description: Content hash of one or more directory trees on the controller
version_added: 1.0.0
author: XNAT JupyterHub deployment maintainers (@xnat-jupyterhub)
description:
  - Returns one SHA-256 hex digest over the relative paths, executable bits and contents of every
    file below the given directories, in a stable order.
  - Used to tag images by the content they are built from, so that an unchanged tree keeps its tag
    and a changed tree gets a new one.
options:
  _terms:
    description: Directories (or single files) to hash, on the controller.
    type: list
    elements: path
    required: true
  exclude:
    description:
      - Glob patterns matched against each path relative to its directory; matching files and
        directories are left out.
      - C(__pycache__), C(*.pyc) and C(*.egg-info) are always left out.
    type: list
    elements: str
    default: []
  extra:
    description: Further strings mixed into the digest, such as a base image name or a version pin.
    type: list
    elements: str
    default: []
  length:
    description: Number of hex characters to return; 0 returns the full digest.
    type: int
    default: 0
"""

EXAMPLES = r"""
- name: Tag the hub image by its source tree
  ansible.builtin.set_fact:
    hub_tag: "{{ lookup('xnat_jupyterhub.deploy.tree_hash', 'files/hub', exclude=['tests'], length=12) }}"
"""

RETURN = r"""
_raw:
  description: The hex digest, as a one-element list.
  type: list
  elements: str
"""

import fnmatch
import hashlib
import os

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

ALWAYS_EXCLUDED = ("__pycache__", "*.pyc", "*.egg-info", ".pytest_cache")


def _excluded(relpath, patterns):
    parts = relpath.split(os.sep)
    for pattern in patterns:
        if fnmatch.fnmatch(relpath, pattern):
            return True
        if any(fnmatch.fnmatch(part, pattern) for part in parts):
            return True
    return False


def tree_digest(paths, exclude=(), extra=()):
    """SHA-256 over (relative path, executable bit, content) of every file, sorted by path."""
    patterns = tuple(exclude) + ALWAYS_EXCLUDED
    digest = hashlib.sha256()
    for root in paths:
        if not os.path.exists(root):
            raise AnsibleLookupError(f"tree_hash: {root} does not exist")
        entries = []
        if os.path.isfile(root):
            entries.append((os.path.basename(root), root))
        else:
            for dirpath, dirnames, filenames in os.walk(root):
                rel_dir = os.path.relpath(dirpath, root)
                dirnames[:] = sorted(
                    d for d in dirnames
                    if not _excluded(os.path.normpath(os.path.join(rel_dir, d)), patterns)
                )
                for name in filenames:
                    rel = os.path.normpath(os.path.join(rel_dir, name))
                    if not _excluded(rel, patterns):
                        entries.append((rel, os.path.join(dirpath, name)))
        for rel, full in sorted(entries):
            executable = os.access(full, os.X_OK)
            digest.update(rel.encode("utf-8") + b"\0" + (b"x" if executable else b"-") + b"\0")
            with open(full, "rb") as handle:
                for chunk in iter(lambda: handle.read(65536), b""):
                    digest.update(chunk)
            digest.update(b"\0")
    for item in extra:
        digest.update(b"extra\0" + str(item).encode("utf-8") + b"\0")
    return digest.hexdigest()


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        length = self.get_option("length")
        if length < 0:
            raise AnsibleLookupError("tree_hash: length must not be negative")
        paths = [self._loader.path_dwim(term) for term in terms]
        value = tree_digest(paths, self.get_option("exclude"), self.get_option("extra"))
        return [value[:length] if length else value]
