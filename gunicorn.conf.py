"""gunicorn settings for authsite: ``gunicorn authsite.wsgi:application -b HOST:PORT``.

Each value can be overridden by the environment (GUNICORN_WORKERS, GUNICORN_THREADS,
GUNICORN_WORKER_CLASS) or on the command line. See BENCHMARKS.md for the measurements behind them.
The site itself reads its settings from the environment; with DEBUG off (the default) it refuses to
start without SECRET_KEY, JWT_SIGNING_KEY and MFA_ENCRYPTION_KEYS (README, "Configuration").
"""

import multiprocessing
import os

# Measured with `python -m bench workers` (BENCHMARKS.md, "gunicorn workers"): on the floor and
# GET me, every choice cost the same server CPU per request (within about 10 %: sync, gthread with
# 1-8 threads, 2-4 workers on 2 cores), and throughput differences stayed inside the machine's noise.
# So the choice rests on what the loopback benchmark cannot show: gthread keeps client
# connections alive (sync closes each after one response: a new TCP, or TLS, handshake per
# request) and its threads use the time a request waits on a remote database (0.3-1 ms per round
# trip, up to 4 per request) or on Argon2 (which releases the GIL). One process per core; more
# processes or more than 4 threads bought nothing but memory.
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
