"""jhsingle-native-proxy, as XNAT's dashboard commands name it, with four faults of 0.8.2 mended.

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
"""

import asyncio
import re
import sys

from jhsingle_native_proxy import main
from jhsingle_native_proxy.proxyhandlers import ProxyHandler, SuperviseAndProxyHandler
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
