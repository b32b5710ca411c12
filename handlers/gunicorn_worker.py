"""gunicorn's threaded worker, stamping each request's arrival when it is accepted.

With `--threads 4`, a request waits for a free thread after gunicorn accepts it; that wait
counts against Slack's 3 s ack window, so the stamp is taken before it
(handlers/arrival.py). Procfile: `gunicorn --worker-class handlers.gunicorn_worker.ArrivalWorker`.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from gunicorn.workers.gthread import ThreadWorker

from handlers.arrival import accepted_at


class ArrivalWorker(ThreadWorker):
    def init_process(self) -> None:
        # opsbot's own log lines (one per slash command's ack) at gunicorn's --log-level.
        if not logging.getLogger().handlers:
            logging.basicConfig(level=self.log.error_log.getEffectiveLevel(),
                                format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        super().init_process()

    def enqueue_req(self, conn: Any) -> None:
        # Called on accept and whenever a kept-alive connection brings its next request.
        conn.opsbot_arrival = time.monotonic()
        super().enqueue_req(conn)

    def handle_request(self, req: Any, conn: Any) -> Any:
        accepted_at(getattr(conn, "opsbot_arrival", None))
        try:
            return super().handle_request(req, conn)
        finally:
            accepted_at(None)
