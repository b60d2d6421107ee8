"""Pieces for running a real JupyterHub on loopback in tests: a free port and a proxy that keeps routes in memory."""

import socket

# JupyterHub config text: a proxy that only remembers routes, so the hub runs without configurable-http-proxy.
ROUTES_IN_MEMORY = """
from jupyterhub.proxy import Proxy

class RoutesInMemory(Proxy):
    routes = {}
    async def start(self): pass
    async def stop(self): pass
    async def add_route(self, routespec, target, data):
        self.routes[routespec] = {"routespec": routespec, "target": target, "data": data}
    async def delete_route(self, routespec): self.routes.pop(routespec, None)
    async def get_all_routes(self): return dict(self.routes)

c = get_config()
c.JupyterHub.proxy_class = RoutesInMemory
"""


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
