"""HTTP probe that runs in a container on the benchmark's overlay network.

The baseline notebooks publish no port: like the hub, this probe reaches them by their swarm
service name (dnsrr) over the overlay. The benchmark asks it, through its own published port,
to wait for one URL: POST /wait {"url", "token", "timeout", "interval"} answers once the URL
returned 200, with the number of attempts, or 504 with the last outcome when time ran out.
Started as `python -c <this file's text>` with the stand-in image's Python (it has aiohttp).
"""

import asyncio
import sys
import time

from aiohttp import ClientError, ClientSession, ClientTimeout, TCPConnector, web

ATTEMPT_SECONDS = 2


async def wait_for_200(request):
    job = await request.json()
    deadline = time.monotonic() + float(job["timeout"])
    headers = {"Authorization": f"token {job['token']}"}
    attempts, last = 0, "no attempt"
    # No DNS cache and no kept-alive connections: every attempt resolves the name and connects anew.
    connector = TCPConnector(use_dns_cache=False, force_close=True)
    async with ClientSession(connector=connector, timeout=ClientTimeout(total=ATTEMPT_SECONDS)) as session:
        while time.monotonic() < deadline:
            attempts += 1
            try:
                async with session.get(job["url"], headers=headers, allow_redirects=False) as answer:
                    if answer.status == 200:
                        return web.json_response({"attempts": attempts})
                    last = f"HTTP {answer.status}"
            except (TimeoutError, ClientError, OSError) as e:
                last = f"{type(e).__name__}: {e}"
            await asyncio.sleep(float(job["interval"]))
    return web.json_response({"attempts": attempts, "last": last}, status=504)


async def alive(request):
    return web.json_response({"probe": "ready"})


def main():
    app = web.Application()
    app.add_routes([web.post("/wait", wait_for_200), web.get("/", alive)])
    web.run_app(app, host="0.0.0.0", port=int(sys.argv[1]), access_log=None, print=None)


if __name__ == "__main__":
    main()
