"""JupyterHub for XNAT: XNAT password login and XNAT-configured notebook services on Docker Swarm."""

__version__ = "0.1.0"
