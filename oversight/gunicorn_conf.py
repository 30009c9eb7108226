"""gunicorn settings for Oversight: ``gunicorn -c python:oversight.gunicorn_conf …``.

Each worker warms up (``oversight.warm``) once it has loaded the app and before it takes
a request. Everything else (workers, bind address, timeouts) stays on the command line.
"""

from __future__ import annotations


def post_worker_init(worker) -> None:
    from oversight.warm import warm_worker

    took = warm_worker(worker.wsgi)
    if took is not None:
        worker.log.info("Worker warmed (seconds): %s", took)
