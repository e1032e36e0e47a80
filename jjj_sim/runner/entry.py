"""What every command does at its edge: one-line errors and their exit codes (2: bad input,
1: an output that cannot be written), SIGTERM handled like Ctrl-C, and ``tool_errors`` around
a tool's work.
"""

from __future__ import annotations

import os
import signal
import sys
from contextlib import contextmanager
from pathlib import Path

from jjj_sim.core.errors import ConfigError, OutputError, write_error


def first_line(e: Exception) -> str:
    """The first line of ``e``'s message (its class name if the message is empty)."""
    text = str(e).strip().splitlines()
    return text[0] if text else e.__class__.__name__



EXIT_BAD_INPUT = 2



EXIT_WRITE = 1  # an output that cannot be written (the input was fine)



def fail(message: str, prog: str = "jjj-sim", code: int = EXIT_BAD_INPUT) -> None:
    """Print ``prog: error: message`` (one line) and exit with ``code`` (2: bad input)."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    sys.exit(code)



def exit_on_sigterm() -> None:
    """Make SIGTERM (``kill``, ``timeout``, a scheduler's stop) end this process as Ctrl-C does,
    through its cleanup: an output directory it made and left empty is removed, its lock
    released. Only in this process: worker processes keep the default."""
    main_pid = os.getpid()

    def handler(signum, frame):
        if os.getpid() != main_pid:  # a forked worker: die as before
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)



@contextmanager
def tool_errors(prog: str, out: str | None = None):
    """Around a tool's work (compare, sensitivity, explore): bad input is one line naming the
    field, exit 2; a write that fails (disk full, read-only) one line naming ``--out``, exit 1
    (the staging directory is gone by then and nothing was moved into place). SIGTERM ends the
    tool through the same cleanup (``exit_on_sigterm``)."""
    exit_on_sigterm()
    try:
        yield
    except ConfigError as e:
        fail(str(e), prog)
    except OutputError as e:
        fail(str(e), prog, EXIT_WRITE)
    except OSError as e:
        print(f"{prog}: error: --out: {write_error(e, Path(out or 'outputs'))}", file=sys.stderr)
        sys.exit(1)
