"""The hub's worst event-loop stall: how late a 10 ms timer on the hub's loop wakes up.

JupyterHub's own `event_loop_interval_seconds` metric is a histogram sampled every 50 ms,
so it cannot give the maximum of one run; this meter can, and it can be reset between runs.
"""

import asyncio
import json

from tornado import web

SAMPLE_SECONDS = 0.01


class StallMeter:
    def __init__(self):
        self.worst = 0.0
        self.samples = 0
        self._task = None

    def ensure_running(self):
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._sample())

    async def _sample(self):
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(SAMPLE_SECONDS)
            late = loop.time() - before - SAMPLE_SECONDS
            self.samples += 1
            self.worst = max(self.worst, late)

    def take(self):
        """The worst stall and the sample count since the previous take; then start over."""
        reading = {"max_stall_seconds": self.worst, "samples": self.samples}
        self.worst, self.samples = 0.0, 0
        return reading


METER = StallMeter()


class StallHandler(web.RequestHandler):
    """GET: the reading since the previous GET (the first GET starts the meter)."""

    async def get(self):
        METER.ensure_running()
        # let the sampler wake once more, so a stall that just ended is counted in this reading
        await asyncio.sleep(3 * SAMPLE_SECONDS)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(METER.take()))
