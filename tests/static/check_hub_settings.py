"""The hub role agrees with the hub's settings, declared once in xnat_jupyterhub_hub.settings.SETTINGS.

For each setting a role variable sets: the variable has a default in roles/hub/defaults/main.yml
equal to the declared one (or the declared role default), the same default and the matching type in
meta/argument_specs.yml, and a line in the stack template's environment. Every environment variable
the template sets is declared. Prints one line per problem, naming the file to change.
"""

import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles" / "hub"
sys.path.insert(0, str(ROOT / "files" / "hub" / "src"))

from xnat_jupyterhub_hub.settings import SETTINGS, SETTINGS_BY_ENV  # noqa: E402  # pylint: disable=wrong-import-position

TEMPLATE = ROLE / "templates" / "hub-stack.yml.j2"
ENV_LINE = re.compile(r"^\s*'([A-Z][A-Z0-9_]*)':\s*(.+?),?$")


def env_text(value):
    """A role value as the stack template hands it to the hub."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    return str(value)


def template_env():
    """NAME -> expression of the template's `env` dictionary."""
    text = TEMPLATE.read_text(encoding="utf-8")
    block = text.split("{% set env = {", 1)[1].split("} | combine", 1)[0]
    return dict(match.groups() for line in block.splitlines() if (match := ENV_LINE.match(line)))


def main():
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text(encoding="utf-8"))
    specs = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))
    options = specs["argument_specs"]["main"]["options"]
    env = template_env()
    problems = []
    for name in env:
        if name not in SETTINGS_BY_ENV:
            problems.append(f"{TEMPLATE.relative_to(ROOT)}: sets {name}, which xnat_jupyterhub_hub.settings does not"
                            " declare")
    for setting in SETTINGS:
        var = setting.role_var
        if var is None:
            continue
        if var not in defaults:
            problems.append(f"roles/hub/defaults/main.yml: no default for {var} ({setting.env})")
        elif "{{" not in str(defaults[var]):
            declared = setting.role_default if setting.role_default is not None else setting.default
            if declared is not None and setting.reader.read(env_text(defaults[var])) != \
                    setting.reader.read(env_text(declared)):
                problems.append(f"roles/hub/defaults/main.yml: {var} is {defaults[var]!r}, but {setting.env}"
                                f" is declared with {declared!r}")
        if var not in options:
            problems.append(f"roles/hub/meta/argument_specs.yml: {var} ({setting.env}) is not declared")
        else:
            if options[var].get("type", "str") != setting.reader.argspec_type:
                problems.append(f"roles/hub/meta/argument_specs.yml: {var} has type {options[var].get('type', 'str')},"
                                f" {setting.env} is read as {setting.reader.argspec_type}")
            if var in defaults and "{{" not in str(defaults[var]) and options[var].get("default") != defaults[var]:
                problems.append(f"roles/hub/meta/argument_specs.yml: {var}'s default {options[var].get('default')!r}"
                                f" differs from defaults/main.yml's {defaults[var]!r}")
        if setting.env not in env:
            problems.append(f"{TEMPLATE.relative_to(ROOT)}: no line '{setting.env}': {var}")
        elif var not in env[setting.env]:
            problems.append(f"{TEMPLATE.relative_to(ROOT)}: {setting.env} does not come from {var}")
    for problem in problems:
        print(problem)
    print(f"hub settings: {len(SETTINGS)} declared, {sum(1 for s in SETTINGS if s.role_var)} set by the role,"
          f" {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
