"""gunicorn settings for authsite: ``gunicorn authsite.wsgi:application -b HOST:PORT``.

Each value can be overridden by the environment (GUNICORN_WORKERS, GUNICORN_THREADS,
GUNICORN_WORKER_CLASS) or on the command line. See BENCHMARKS.md for the measurements behind them.
"""

import multiprocessing
import os

# gthread workers keep client connections alive (sync workers close them after every response)
# and overlap database waits across threads, while the process count matches the cores.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count()))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
keepalive = 5
timeout = 30
graceful_timeout = 10
# Load the application once per worker after the fork, so each worker builds its own MongoDB
# client pool (pymongo clients must not cross a fork).
preload_app = False
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
