"""A stand-in for XNAT's JupyterHub-related REST API, for tests and demos. It is not XNAT."""

__version__ = "0.1.0"
