"""Offline-friendly stand-in for the pip bootstrap script ansible-test downloads.

ansible-test creates its sanity virtualenvs without pip and runs a cached bootstrap module with
`pip install` arguments. This one seeds pip from the interpreter's bundled ensurepip and then runs
`pip install` with the same arguments against the configured package index, so no other host is
needed.
"""
import subprocess
import sys

GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}

subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])
args = [a for a in sys.argv[1:] if a not in GET_PIP_ONLY]
if "--no-setuptools" not in sys.argv:
    args.append("setuptools")
if "--no-wheel" not in sys.argv:
    args.append("wheel")
subprocess.check_call([sys.executable, "-m", "pip", "install"] + args)
