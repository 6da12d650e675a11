# repro's notebook check: runs inside the built image (Python 3), never on the host.
#
# Executes each notebook named on the command line with nbclient and a python3 kernel, in
# the notebook's own folder, with a time limit per cell (REPRO_CELL_TIMEOUT seconds).
# Prints one line per notebook ("ok   notebook:PATH" or "FAIL notebook:PATH  -> error",
# followed by the error's tail, each line prefixed "     | ") and exits 1 if any failed.
# Nothing is written back: the executed notebook is discarded.

import os
import re
import sys

TIMEOUT = int(os.environ.get("REPRO_CELL_TIMEOUT", "120"))
TAIL = 15
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def run(path):
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    nb = nbformat.read(path, as_version=4)
    folder = os.path.dirname(os.path.abspath(path))
    client = NotebookClient(
        nb, timeout=TIMEOUT, kernel_name="python3", resources={"metadata": {"path": folder}}
    )
    try:
        client.execute()
    except CellTimeoutError:
        return "timed out after %ss (one cell)" % TIMEOUT, []
    except DeadKernelError as exc:
        return "the kernel died: %s" % exc, []
    except CellExecutionError as exc:
        text = ANSI.sub("", str(exc)).strip().splitlines()
        first = "%s: %s" % (exc.ename, exc.evalue) if getattr(exc, "ename", "") else text[-1]
        return first.splitlines()[0] if first else "error", text[-TAIL:]
    return "", []


def main(argv):
    failed = 0
    for spec in argv:
        path = spec.partition(":")[2] or spec
        try:
            why, tail = run(path)
        except Exception as exc:  # nbformat cannot read it, the kernel cannot start, ...
            why, tail = "%s: %s" % (type(exc).__name__, exc), []
        print("%s %s%s" % ("FAIL" if why else "ok  ", spec, "  -> " + why if why else ""))
        for line in tail:
            print("     | " + line)
        sys.stdout.flush()
        failed += bool(why)
    print("%d of %d notebooks failed" % (failed, len(argv)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
