#!/usr/bin/python
# Copyright: Contributors to the xnat_jupyterhub.deploy collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
---
module: xnat_user
short_description: Manage an XNAT user account, its password and its roles
version_added: 1.0.0
description:
  - Makes sure an XNAT user exists with the given profile, enabled and verified flags, password and roles,
    for example the C(jupyterhub) service account that JupyterHub uses to read launch settings from XNAT.
  - The XNAT JupyterHub plugin creates that account itself, B(disabled) and with a well-known password.
    This module enables it only after the new password is in place.
  - XNAT cannot report a password, and setting one is never idempotent in XNAT. The module therefore checks
    the password by logging in as the user (C(GET /xapi/users/{name}/roles) with the user's own credentials)
    and sends a new password only when that login fails.
  - A disabled or unverified account cannot log in, so its password cannot be checked. When such an account is
    being enabled and verified, the module sets the password first. When it stays disabled or unverified, the
    module leaves the password alone and warns.
author:
  - XNAT JupyterHub deployment maintainers (@xnat-jupyterhub)
extends_documentation_fragment:
  - xnat_jupyterhub.deploy.xnat
attributes:
  check_mode:
    support: full
    description: Reports what would change and changes nothing. The password check is a read and runs in check mode too.
  diff_mode:
    support: full
    description: Shows the profile, flags and roles before and after; a password only as a placeholder.
  idempotent:
    support: full
    description: A second run with the same arguments reports no change, including the password
      (see O(update_password)).
options:
  name:
    description:
      - Login name of the user, matched exactly (XNAT compares user names case-sensitively).
    type: str
    required: true
  state:
    description:
      - V(present) makes sure the user exists as described.
      - XNAT's REST API cannot delete users, so V(absent) means the account can no longer be used; it is B(disabled)
        (which also invalidates its alias tokens). A missing user counts as absent. All other options are ignored.
    type: str
    choices: [present, absent]
    default: present
  password:
    description:
      - The user's password. Required to create a user. Never logged, shown in a diff or returned.
    type: str
  update_password:
    description:
      - V(always) makes an existing account's password equal O(password), checked by logging in as the user.
      - V(on_create) sets O(password) only when the module creates the user.
    type: str
    choices: [always, on_create]
    default: always
  enabled:
    description:
      - Whether the account can log in. Defaults to V(true) when the user is created; left as it is otherwise.
    type: bool
  verified:
    description:
      - Whether the account's email counts as verified. Defaults to V(true) when the user is created;
        left as it is otherwise.
    type: bool
  first_name:
    description:
      - First name. Defaults to O(name) when the user is created.
    type: str
  last_name:
    description:
      - Last name. Defaults to O(name) when the user is created.
    type: str
  email:
    description:
      - Email address. Required to create a user.
    type: str
  roles:
    description:
      - XNAT role names, matched exactly, for example V(JupyterHub) (the hub's service account), V(Jupyter)
        (may use JupyterHub) or V(Administrator).
      - A role XNAT does not define is an error, reported before anything changes. A user that does not exist yet
        is created first, disabled, because roles can only be checked against an existing user; check mode
        cannot see the error in that case.
      - What happens with them depends on O(roles_state).
    type: list
    elements: str
  roles_state:
    description:
      - V(present) adds the roles in O(roles) and keeps others; V(absent) removes the roles in O(roles);
        V(exact) makes the user hold exactly O(roles).
    type: str
    choices: [present, absent, exact]
    default: present
notes:
  - Checking a wrong password counts as one failed login for the account in XNAT.
  - The XNAT plugin re-creates nothing once the account exists, and XNAT's environment seeding does not touch
    users, so the state set here persists across XNAT restarts.
"""

EXAMPLES = r"""
---
- name: Make the hub's service account usable
  xnat_jupyterhub.deploy.xnat_user:
    url: https://xnat.example.org
    auth_username: admin
    auth_password: "{{ vault_xnat_admin_password }}"
    name: jupyterhub
    password: "{{ vault_xnat_service_password }}"
    enabled: true
    verified: true
    roles: [JupyterHub]
  delegate_to: localhost

- name: Let a researcher use JupyterHub
  xnat_jupyterhub.deploy.xnat_user:
    url: https://xnat.example.org
    auth_username: admin
    auth_password: "{{ vault_xnat_admin_password }}"
    name: jsmith
    roles: [Jupyter]
  delegate_to: localhost

- name: Take JupyterHub access away again
  xnat_jupyterhub.deploy.xnat_user:
    url: https://xnat.example.org
    auth_username: admin
    auth_password: "{{ vault_xnat_admin_password }}"
    name: jsmith
    roles: [Jupyter]
    roles_state: absent
  delegate_to: localhost

- name: Retire an account (XNAT cannot delete users; this disables it)
  xnat_jupyterhub.deploy.xnat_user:
    url: https://xnat.example.org
    auth_username: admin
    auth_password: "{{ vault_xnat_admin_password }}"
    name: former_hub
    state: absent
  delegate_to: localhost
"""

RETURN = r"""
user:
  description: The user as XNAT reports it after the module ran; empty when the user does not exist.
  returned: always
  type: dict
  contains:
    name:
      description: Login name.
      type: str
      sample: jupyterhub
    first_name:
      description: First name.
      type: str
      sample: jupyterhub
    last_name:
      description: Last name.
      type: str
      sample: jupyterhub
    email:
      description: Email address.
      type: str
      sample: jupyterhub@example.org
    enabled:
      description: Whether the account can log in.
      type: bool
      sample: true
    verified:
      description: Whether the account is verified.
      type: bool
      sample: true
    roles:
      description: Roles the user holds, sorted.
      type: list
      elements: str
      sample: [JupyterHub]
password_changed:
  description: Whether the module set (or, in check mode, would set) the password.
  returned: always
  type: bool
  sample: false
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.xnat_jupyterhub.deploy.plugins.module_utils.xnat import (
    SECRET_CHANGED,
    SECRET_UNCHANGED,
    XnatRequestError,
    XnatRestClient,
    fail_module,
    xnat_argument_spec,
)

PROFILE_FIELDS = (("first_name", "firstName"), ("last_name", "lastName"), ("email", "email"))


def user_state(xnat_user):
    """XNAT's user JSON reduced to what this module manages."""
    if not xnat_user:
        return {}
    return dict(
        name=xnat_user.get("username"),
        first_name=xnat_user.get("firstName"),
        last_name=xnat_user.get("lastName"),
        email=xnat_user.get("email"),
        enabled=bool(xnat_user.get("enabled")),
        verified=bool(xnat_user.get("verified")),
        roles=sorted(xnat_user.get("roles") or []),
    )


def desired_roles(current_roles, roles, roles_state):
    if roles is None:
        return sorted(current_roles)
    if roles_state == "exact":
        return sorted(set(roles))
    if roles_state == "absent":
        return sorted(set(current_roles) - set(roles))
    return sorted(set(current_roles) | set(roles))


def unknown_roles_error(unknown):
    return XnatRequestError("unknown XNAT role(s): {}. Role names are case-sensitive, for example JupyterHub, Jupyter,"
                            " Administrator".format(", ".join(unknown)))


def check_roles_known(client, name, roles, held):
    """Fail on a role XNAT does not define, before anything changes (the probe is a no-op, even in check mode)."""
    unknown = client.undefined_roles(name, sorted(set(roles) - set(held)))
    if unknown:
        raise unknown_roles_error(unknown)


def with_password_marker(state, changed):
    shown = dict(state)
    shown["password"] = SECRET_CHANGED if changed else SECRET_UNCHANGED
    return shown


def create_user(module, client, result):
    p = module.params
    name = p["name"]
    missing = [opt for opt in ("password", "email") if not p[opt]]
    if missing:
        raise XnatRequestError("user {!r} does not exist; to create it, give {}".format(name, " and ".join(missing)))
    after = dict(
        name=name,
        first_name=p["first_name"] if p["first_name"] is not None else name,
        last_name=p["last_name"] if p["last_name"] is not None else name,
        email=p["email"],
        enabled=p["enabled"] if p["enabled"] is not None else True,
        verified=p["verified"] if p["verified"] is not None else True,
        roles=desired_roles([], p["roles"], p["roles_state"]),
    )
    result.update(changed=True, password_changed=True, user=after)
    if module._diff:
        result["diff"] = dict(before={}, after=with_password_marker(after, True))
    if module.check_mode:
        return
    # Roles can only be checked once the user exists: create it disabled, so a bad role leaves no usable account.
    client.create_user(dict(
        username=name, password=p["password"], firstName=after["first_name"], lastName=after["last_name"],
        email=after["email"], enabled=after["enabled"] and not after["roles"], verified=after["verified"]))
    if after["roles"]:
        unknown = client.undefined_roles(name, after["roles"])
        if unknown:
            raise XnatRequestError(f"{unknown_roles_error(unknown).msg}; user {name!r} was created disabled")
        client.add_user_roles(name, after["roles"])
        if after["enabled"]:
            client.set_user_enabled(name, True)


def update_user(module, client, result, before):
    p = module.params
    name = p["name"]
    after = dict(before)
    for option, _field in PROFILE_FIELDS:
        if p[option] is not None:
            after[option] = p[option]
    for flag in ("enabled", "verified"):
        if p[flag] is not None:
            after[flag] = p[flag]
    if p["roles"] and p["roles_state"] != "absent":
        check_roles_known(client, name, p["roles"], held=before["roles"])
    after["roles"] = desired_roles(before["roles"], p["roles"], p["roles_state"])

    set_password = False
    if p["password"] is not None and p["update_password"] == "always":
        if not (after["enabled"] and after["verified"]):
            module.warn(f"user {name!r} is and stays disabled or unverified, so its password cannot be checked;"
                        " it was left unchanged")
        elif not (before["enabled"] and before["verified"]):
            # XNAT refuses every login of a disabled or unverified account, so set the password before enabling it.
            set_password = True
        else:
            set_password = not client.credentials_work(name, p["password"])

    changed = set_password or after != before
    result.update(changed=changed, password_changed=set_password, user=after)
    if not changed:
        return
    if module._diff:
        result["diff"] = dict(before=with_password_marker(before, False),
                              after=with_password_marker(after, set_password))
    if module.check_mode:
        return

    if before["enabled"] and not after["enabled"]:
        client.set_user_enabled(name, False)
    profile = dict((field, after[option]) for option, field in PROFILE_FIELDS if after[option] != before[option])
    if set_password:
        profile["password"] = p["password"]
    if profile:
        client.update_user(name, profile)
    if after["verified"] != before["verified"]:
        client.set_user_verified(name, after["verified"])
    to_add = sorted(set(after["roles"]) - set(before["roles"]))
    if to_add:
        client.add_user_roles(name, to_add)
    for role in sorted(set(before["roles"]) - set(after["roles"])):
        client.remove_user_role(name, role)
    if after["enabled"] and not before["enabled"]:
        client.set_user_enabled(name, True)


def disable_user(module, client, result, before):
    after = dict(before, enabled=False)
    result.update(changed=before["enabled"], password_changed=False, user=after)
    if not before["enabled"]:
        return
    if module._diff:
        result["diff"] = dict(before=before, after=after)
    if not module.check_mode:
        client.set_user_enabled(module.params["name"], False)


def main():
    argument_spec = xnat_argument_spec()
    argument_spec.update(
        name=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        password=dict(type="str", no_log=True),
        update_password=dict(type="str", default="always", choices=["always", "on_create"], no_log=False),
        enabled=dict(type="bool"),
        verified=dict(type="bool"),
        first_name=dict(type="str"),
        last_name=dict(type="str"),
        email=dict(type="str"),
        roles=dict(type="list", elements="str"),
        roles_state=dict(type="str", default="present", choices=["present", "absent", "exact"]),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    client = XnatRestClient.from_module(module, secrets=[module.params["password"]])
    name = module.params["name"]
    result = dict(changed=False, password_changed=False, user={})
    try:
        before = user_state(client.get_user(name))
        if not before:
            if module.params["state"] == "present":
                create_user(module, client, result)
        elif module.params["state"] == "absent":
            disable_user(module, client, result, before)
        else:
            update_user(module, client, result, before)
        if result["changed"] and not module.check_mode:
            result["user"] = user_state(client.get_user(name))
    except XnatRequestError as exc:
        fail_module(module, exc, client)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
