"""Metrics for Prometheus on the local site: the hub's /hub/metrics with the metrics service's token (and
with no other), and haproxy's exporter on its loopback listener."""

from __future__ import annotations

import re

from local_site import HUB_URL, credential, http

HAPROXY_METRICS = "http://127.0.0.1:8405/metrics"
SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$", re.MULTILINE)


def samples(text: str) -> dict[str, list[str]]:
    """Metric name -> the label sets it was reported with (Prometheus text format)."""
    found: dict[str, list[str]] = {}
    for name, labels, _value in SAMPLE.findall(text):
        found.setdefault(name, []).append(labels)
    return found


def test_prometheus_scrapes_the_hub_and_haproxy(site, figures):
    hub = http("GET", f"{HUB_URL}/hub/metrics", token=credential("metrics-token"))
    assert hub.status_code == 200 and hub.headers["Content-Type"].startswith("text/plain"), hub.text[:300]
    hub_samples = samples(hub.text)
    assert "jupyterhub_active_users" in hub_samples, sorted(hub_samples)[:40]

    # Only the metrics service may read them: not anonymous, not XNAT's service, and the token reads nothing else.
    assert http("GET", f"{HUB_URL}/hub/metrics").status_code == 403
    assert http("GET", f"{HUB_URL}/hub/metrics", token=site.hub.token).status_code == 403
    assert http("GET", f"{HUB_URL}/hub/api/users", token=credential("metrics-token")).status_code == 403

    proxy = http("GET", HAPROXY_METRICS)
    assert proxy.status_code == 200, proxy.text[:300]
    proxy_samples = samples(proxy.text)
    backends = {re.search(r'proxy="([^"]+)"', labels).group(1)
                for labels in proxy_samples.get("haproxy_backend_status", []) if 'proxy="' in labels}
    assert {"jupyterhub", "xnat"} <= backends, backends
    assert http("GET", HAPROXY_METRICS.replace("/metrics", "/")).status_code == 404

    figures.add("metrics", f"hub /hub/metrics: {len(hub_samples)} metrics (jupyterhub_active_users among them),"
                f" 403 without the metrics token; haproxy exporter: {len(proxy_samples)} metrics, backends"
                f" {sorted(backends)}")
