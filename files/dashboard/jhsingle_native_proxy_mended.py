"""jhsingle-native-proxy, as XNAT's dashboard commands name it, with six faults of 0.8.2 mended.

- Websockets: it checks a websocket's Origin by calling check_origin for every request that carries
  one; Tornado 6.6 moved the same-origin comparison out of check_origin, so every browser websocket got
  403 (Panel, Streamlit and Voila never rendered). check_origin here applies Tornado's own cross-origin
  rule (Sec-Fetch-Site, else Origin against Host) with the original check as its fallback.
- Readiness: it polls GET / on the app with one second per try; Voila answers / only after its kernel
  has started and run the notebook, so it never counted as ready. Here the app is ready when its port
  accepts connections; the page itself is then fetched with the proxy's request timeout.
- --ready-timeout: 60 s when not given, as its help text says (the code said 10). A start slower than
  that left the request hanging for good (it waits for the app to exit before showing the error).
- Tokens in logs: XNAT opens dashboards with ?token=; the proxy's access log and the app's (which got
  the same query) wrote it to the service's log. The token is masked in the proxy's log and not passed
  on to the app, which has no use for the hub's token.
- ?token= signed in only the first request: JupyterHub keeps a token from the URL in the OAuth cookie
  only for handlers that are not websocket handlers, and every handler of the proxy is one (it serves
  both). Each of the page's scripts then started an OAuth round of its own; their state cookies
  overwrote one another and the page never loaded. Here a page load (not a websocket upgrade, not a
  script's fetch) signed in by ?token= keeps the token in the cookie, as jupyterhub-singleuser does.
- A request without a sign-in answered its redirect to the hub's login and then raised TypeError
  (an awaited None), logged as an uncaught exception for every such request; it now just redirects.
"""

import asyncio
import inspect
import re
import sys

from jhsingle_native_proxy import main
from jhsingle_native_proxy.proxyhandlers import ProxyHandler, SuperviseAndProxyHandler
from jupyterhub.services.auth import HubOAuth
from tornado.log import access_log

_TOKEN_IN_QUERY = re.compile(r"([?&]token=)[^&]*")

_check_origin = ProxyHandler.check_origin


def _check_origin_as_tornado_does(self, origin):
    return self._check_cross_origin(lambda o: _check_origin(self, o)) is None


async def _port_accepts_connections(self, process):
    try:
        writer = (await asyncio.open_connection("localhost", self.port))[1]
    except OSError:
        return False
    writer.close()
    return True


def _keep_url_token_in_cookie(self, handler):
    token = handler.get_argument("token", "")
    if not token or not getattr(handler, "_token_authenticated", False):
        return  # no token in the URL, or the request was signed in some other way
    headers = handler.request.headers
    if headers.get("Upgrade", "").lower() == "websocket" or headers.get("Sec-Fetch-Mode", "navigate") != "navigate":
        return
    self.set_cookie(handler, token)


async def _oauth_proxy_or_redirect(self, port, path):
    answer = _oauth_proxy(self, port, path)  # None once it has redirected to the hub's login
    return await answer if inspect.isawaitable(answer) else answer


def _log_request_without_token(handler):
    status = handler.get_status()
    log = access_log.info if status < 400 else access_log.warning if status < 500 else access_log.error
    uri = _TOKEN_IN_QUERY.sub(r"\1[secret]", handler.request.uri)
    log("%d %s %s (%s) %.2fms", status, handler.request.method, uri, handler.request.remote_ip,
        1000.0 * handler.request.request_time())


def _make_app_logging_without_token(*args, **kwargs):
    app = _make_app(*args, **kwargs)
    app.settings["log_function"] = _log_request_without_token
    return app


def _query_arguments_without_token(self):
    return {k: v for k, v in _query_arguments(self).items() if k != "token"}


_make_app = main.make_app
_oauth_proxy = SuperviseAndProxyHandler.oauth_proxy
HubOAuth._persist_url_token_if_set = _keep_url_token_in_cookie
SuperviseAndProxyHandler.oauth_proxy = _oauth_proxy_or_redirect
_query_arguments = ProxyHandler.proxy_query_arguments
main.make_app = _make_app_logging_without_token
ProxyHandler.proxy_query_arguments = _query_arguments_without_token
if hasattr(ProxyHandler, "_check_cross_origin"):
    ProxyHandler.check_origin = _check_origin_as_tornado_does
SuperviseAndProxyHandler._http_ready_func = _port_accepts_connections
for _param in main.run.params:
    if _param.name == "ready_timeout":
        _param.default = 60

if __name__ == "__main__":
    sys.argv[0] = "jhsingle-native-proxy"
    sys.exit(main.run())
