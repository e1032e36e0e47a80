"""``jjj-sim-dashboard``: the what-if in a browser (a Solara app, ``jjj_sim.tools.dashboard.app``).

    jjj-sim-dashboard                      # http://127.0.0.1:8765
    jjj-sim-dashboard --port 9000 --host 0.0.0.0 --workers 2

Serves the app with Solara's Starlette server under uvicorn (as Solara documents for
deployment: ``SOLARA_APP=... uvicorn solara.server.starlette:app``), in this process, so
it works from any directory and from an installed wheel. Ctrl-C stops it. Simulations run in
a pool of worker processes (``--workers``, default min(2, cores)); 1 runs them in a thread.

The page needs Solara's browser files; where Solara's CDN cannot be reached they are fetched
once with npm into Solara's cache (``assets.py``; ``--prepare-assets`` does only that).
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import signal
import sys
import warnings

from jjj_sim.core.checks import COUNT_BOUNDS
from jjj_sim.tools.dashboard import assets

APP = "jjj_sim.tools.dashboard.app"
DEFAULT_PORT = 8765


def _interrupt(signum, frame):
    raise KeyboardInterrupt


class _BindErrors(logging.Filter):
    """Takes the error uvicorn logs when it cannot bind (``[Errno 98] ... address already in
    use``) out of its log, for the dashboard's own one-line message (``cannot_serve``)."""

    def __init__(self):
        super().__init__()
        self.errors: list[OSError] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, OSError):
            self.errors.append(record.msg)
            return False
        return True


def cannot_serve(host: str, port: int, error: OSError | None) -> str:
    """The one line for a server that did not start: the port's fault (in use, or privileged),
    the host's (not this machine's address, or no such name), or neither (uvicorn said why)."""
    if error is None:
        return "jjj-sim-dashboard: error: the server did not start (see the messages above)"
    field = "--port" if error.errno in (errno.EADDRINUSE, errno.EACCES) else "--host"
    why = os.strerror(error.errno) if error.errno in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL) \
        else (error.strerror or str(error))
    return f"jjj-sim-dashboard: error: {field}: could not serve on {host}:{port} ({why})"


def main(argv=None) -> None:
    """``jjj-sim-dashboard``: check the options, fetch Solara's browser files when missing, start the
    simulation workers and serve the what-if app with uvicorn until Ctrl-C or SIGTERM (exit 1 if it
    cannot serve). ``--prepare-assets`` only fetches the files."""
    ap = argparse.ArgumentParser(prog="jjj-sim-dashboard",
                                 description="Serve the what-if dashboard (Solara) in a browser.")
    ap.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    ap.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    ap.add_argument("--workers", type=int, default=None,
                    help="simulation worker processes (default min(2, cores); 1 = run in a thread)")
    ap.add_argument("--log-level", default="warning", help="uvicorn log level (default warning)")
    ap.add_argument("--prepare-assets", action="store_true",
                    help="only fetch Solara's browser files into its cache (with npm) and exit")
    a = ap.parse_args(argv)
    if not 0 < a.port < 65536:
        ap.error(f"--port must be 1-65535, got {a.port}")
    if a.workers is not None:
        high, reason = COUNT_BOUNDS["workers"]
        if not 1 <= a.workers <= high:
            ap.error(f"--workers must be from 1 to {high}, got {a.workers}: {reason}")
        os.environ["JJJ_SIM_DASHBOARD_WORKERS"] = str(a.workers)

    # Solara's server reads these when it is imported
    os.environ["SOLARA_APP"] = APP
    os.environ.setdefault("SOLARA_MODE", "production")
    os.environ.setdefault("SOLARA_TELEMETRY_MIXPANEL_ENABLE", "False")
    os.environ["SERVER_NAME"], os.environ["SERVER_PORT"] = a.host, str(a.port)

    # plain http on a local address: Solara falls back to SameSite=Lax cookies, which is right here
    warnings.filterwarnings("ignore", message="Cookies with samesite=none require https")
    ok = assets.ensure(log=lambda m: print(m, file=sys.stderr, flush=True))
    if a.prepare_assets:
        sys.exit(0 if ok else 1)

    import uvicorn  # here, with the runner (1.7 s: pandas, scipy, the model), once the server starts

    from jjj_sim.tools.dashboard import runner

    runner.warm_up()  # start the simulation workers while the server comes up
    url = f"http://{'127.0.0.1' if a.host in ('0.0.0.0', '') else a.host}:{a.port}"
    config = uvicorn.Config("solara.server.starlette:app", host=a.host, port=a.port, log_level=a.log_level,
                            ws_max_size=2**26)
    bind_errors = _BindErrors()
    logging.getLogger("uvicorn.error").addFilter(bind_errors)
    server = uvicorn.Server(config)
    startup = server.startup

    async def startup_then_say(sockets=None):  # "serving" once it is: after the socket is bound
        await startup(sockets=sockets)
        logging.getLogger("uvicorn.error").removeFilter(bind_errors)
        print(f"jjj-sim-dashboard: serving on {url} (Ctrl-C to stop)", flush=True)

    server.startup = startup_then_say
    # uvicorn stops gracefully on SIGINT and SIGTERM, then raises the signal again with the
    # handlers it found: make SIGTERM end like Ctrl-C, so the workers are stopped too
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    except SystemExit:  # uvicorn's exit when it cannot start (the port in use): said below
        if server.started:
            raise
    finally:
        runner.shutdown()
    if not server.started:
        print(cannot_serve(a.host, a.port, bind_errors.errors[-1] if bind_errors.errors else None), file=sys.stderr)
        sys.exit(1)
    print("jjj-sim-dashboard: stopped", flush=True)
