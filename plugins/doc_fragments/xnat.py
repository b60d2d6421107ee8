# Copyright: Contributors to the xnat_jupyterhub.deploy collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

class ModuleDocFragment:
    """Connection options shared by every XNAT module (plugins/module_utils/xnat.py xnat_argument_spec)."""

    DOCUMENTATION = r"""
options:
  url:
    description:
      - Root URL of XNAT, for example V(https://xnat.example.org). The modules add C(/xapi/...) themselves.
    type: str
    required: true
  auth_username:
    description:
      - An XNAT site administrator the module acts as.
    type: str
    required: true
  auth_password:
    description:
      - Password of O(auth_username). Never logged or returned.
    type: str
    required: true
  validate_certs:
    description:
      - Verify XNAT's TLS certificate. Only turn this off for a throw-away test site.
    type: bool
    default: true
  ca_path:
    description:
      - A PEM file of certificate authorities to trust for XNAT's TLS certificate, instead of the system store.
    type: path
  client_cert:
    description:
      - A PEM client certificate, for sites whose proxy asks for one. May hold the key too.
    type: path
  client_key:
    description:
      - The private key of O(client_cert) when it is kept in a separate file.
    type: path
  connect_timeout:
    description:
      - Seconds to wait for a TCP and TLS connection to XNAT.
    type: float
    default: 10.0
  timeout:
    description:
      - Seconds to wait for XNAT to answer a request once connected. A request that times out is not repeated.
    type: float
    default: 30.0
  retries:
    description:
      - How many times to repeat a request after a failed connection or an HTTP 502, 503 or 504 answer,
        waiting 0.5, 1, 2, ... seconds in between.
      - A C(POST), which XNAT does not treat idempotently, is repeated only when it surely never reached XNAT
        (the connection could not be made) or XNAT answered 503.
    type: int
    default: 3
requirements:
  - requests (on the host that runs the module, normally the Ansible controller)
notes:
  - The modules talk to XNAT from the host they run on; run them on the controller by delegating them to V(localhost).
  - Error messages carry the HTTP status and a short excerpt of XNAT's answer, with passwords and tokens masked.
"""

    # Shared by the compute modules (xnat_compute_environment, xnat_hardware).
    SCOPES = r"""
options:
  scopes:
    description:
      - Where the configuration is offered. XNAT checks the site, the project and the user of a launch.
      - When creating, an omitted O(scopes) offers it everywhere; when updating, leaves the scopes as they are.
        When O(scopes) is given, a scope left out of it is open to everybody.
    type: dict
    suboptions:
      site:
        description: The site scope. Leave it open unless the configuration should be switched off everywhere.
        type: dict
        suboptions:
          enabled:
            description:
              - V(true) offers it for every id of this scope; V(false) only for the ids in O(scopes.site.ids).
              - Defaults to V(true) when O(scopes.site.ids) is empty and to V(false) otherwise.
            type: bool
          ids:
            description: Ids for which it is offered when not enabled for all.
            type: list
            elements: str
            default: []
      project:
        description: The project scope; its ids are XNAT project ids.
        type: dict
        suboptions:
          enabled:
            description:
              - V(true) offers it in every project; V(false) only in the projects in O(scopes.project.ids).
              - Defaults to V(true) when O(scopes.project.ids) is empty and to V(false) otherwise.
            type: bool
          ids:
            description: Project ids for which it is offered when not enabled for all.
            type: list
            elements: str
            default: []
      user:
        description: The user scope; its ids are XNAT user names.
        type: dict
        suboptions:
          enabled:
            description:
              - V(true) offers it to every user; V(false) only to the users in O(scopes.user.ids).
              - Defaults to V(true) when O(scopes.user.ids) is empty and to V(false) otherwise.
            type: bool
          ids:
            description: User names to whom it is offered when not enabled for all.
            type: list
            elements: str
            default: []
"""
