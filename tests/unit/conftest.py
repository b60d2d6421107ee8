"""Make the collection importable as ansible_collections.xnat_jupyterhub.deploy under plain pytest.

ansible-test units puts the collection on sys.path itself; from a checkout, collections/ (which links
back to the repository root) does the same job.
"""

import os
import sys

_COLLECTIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "collections")
if os.path.isdir(os.path.join(_COLLECTIONS, "ansible_collections")) and _COLLECTIONS not in sys.path:
    sys.path.insert(0, os.path.normpath(_COLLECTIONS))
