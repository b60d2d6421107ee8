"""Every role default is declared in meta/argument_specs.yml with a type, and every declared option has a default."""
import pathlib
import sys

import yaml

failures = []
for role in sorted(pathlib.Path("roles").iterdir()):
    defaults_file = role / "defaults" / "main.yml"
    specs_file = role / "meta" / "argument_specs.yml"
    if not specs_file.exists():
        failures.append(f"roles/{role.name}: no meta/argument_specs.yml")
        continue
    defaults = yaml.safe_load(defaults_file.read_text()) if defaults_file.exists() else {}
    specs = yaml.safe_load(specs_file.read_text()) or {}
    options = ((specs.get("argument_specs") or {}).get("main") or {}).get("options") or {}
    for name in sorted(set(defaults or {}) - set(options)):
        failures.append(f"roles/{role.name}: default '{name}' is not declared in meta/argument_specs.yml")
    for name in sorted(set(options) - set(defaults or {})):
        failures.append(f"roles/{role.name}: option '{name}' has no default in defaults/main.yml")
    for name, spec in options.items():
        if "type" not in spec or "description" not in spec:
            failures.append(f"roles/{role.name}: option '{name}' needs a type and a description")

if failures:
    print("\n".join(failures))
    sys.exit(1)
print(f"argument specs match defaults in {len(list(pathlib.Path('roles').iterdir()))} roles")
