"""The baseline: the reference design's XNAT login, blocking `requests` calls in `authenticate`.

It asks XNAT exactly what XnatAuthenticator asks (the user's roles, then the
allUsersCanStartJupyter preference when the role is missing), so the benchmark
compares only blocking against non-blocking HTTP.
"""

from urllib.parse import quote

import requests
from jupyterhub.auth import Authenticator
from traitlets import Float, Unicode

XNAT_ACCESS = "xnat_access"


class BlockingXnatAuthenticator(Authenticator):
    xnat_url = Unicode(help="XNAT's root URL.").tag(config=True)
    jupyter_role = Unicode("Jupyter").tag(config=True)
    # the reference design has no timeout; one here only keeps the benchmark bounded
    timeout = Float(20.0).tag(config=True)

    def check_allow_config(self):
        """XNAT's answer is the allow config."""

    def check_allowed(self, username, authentication=None):
        return bool(authentication and authentication.get(XNAT_ACCESS))

    def _get(self, path, username, password):
        return requests.get(f"{self.xnat_url}/{path}", auth=(username, password),
                            headers={"Accept": "application/json"},
                            timeout=self.timeout, allow_redirects=False)

    async def authenticate(self, handler, data):
        username, password = data["username"], data["password"]
        roles = self._get(f"xapi/users/{quote(username, safe='')}/roles", username, password)
        if roles.status_code == 401:
            return None
        roles.raise_for_status()
        if any(role.lower() == self.jupyter_role.lower() for role in roles.json()):
            return {"name": username, XNAT_ACCESS: "role"}
        preference = self._get("xapi/jupyterhub/preferences/allUsersCanStartJupyter", username, password)
        all_users = preference.status_code == 200 and preference.json().get("allUsersCanStartJupyter") is True
        return {"name": username, XNAT_ACCESS: "all-users" if all_users else None}
