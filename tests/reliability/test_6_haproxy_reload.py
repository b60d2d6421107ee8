"""haproxy reloaded five times while requests keep coming: none of them fails."""

from __future__ import annotations

import subprocess
import threading
import time

import requests

from local_site import BASE_URL, HUB_URL

WORKERS = 4
SECONDS = 20
RELOADS = 5


def test_haproxy_reload_drops_no_request(site, figures):
    urls = [HUB_URL + "/hub/health", BASE_URL + "/app/login"]
    stop = threading.Event()
    results: list[int | str] = []
    lock = threading.Lock()

    def load(index: int) -> None:
        url = urls[index % len(urls)]
        while not stop.is_set():
            try:
                # A connection per request: what is tested is that the listening sockets pass to the new process.
                status = requests.get(url, verify=False, timeout=10, headers={"Connection": "close"}).status_code
            except requests.RequestException as e:
                status = type(e).__name__
            with lock:
                results.append(status)

    threads = [threading.Thread(target=load, args=(i,), daemon=True) for i in range(WORKERS)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + SECONDS
    for _reload in range(RELOADS):
        time.sleep(SECONDS / (RELOADS + 1))
        subprocess.run(["service", "haproxy", "reload"], check=True, timeout=60, stdin=subprocess.DEVNULL,
                       capture_output=True)
    time.sleep(max(0.0, deadline - time.monotonic()))
    stop.set()
    for thread in threads:
        thread.join(15)
    failed = [r for r in results if r != 200]
    figures.add("haproxy reload", f"{len(results)} requests over {SECONDS} s with {RELOADS} reloads:"
                f" {len(failed)} failed {sorted(set(map(str, failed)))}")
    assert results and not failed
