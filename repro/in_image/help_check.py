# repro's entry-point check: runs inside the built image (Python 2.7 or 3.x), never on the host.
#
# Each argument names a program of the repository; each is started with --help in a fresh
# interpreter with a timeout, which imports everything the program imports and parses its
# command line without doing its work:
#   console:NAME=MODULE:ATTR   a console script (called as NAME --help)
#   module:PKG                 python -m PKG --help
#   script:PATH                python PATH --help
# A "absl-" prefix (absl-script:PATH) marks programs whose flags library (absl,
# tf.app.flags) exits 1 after printing the help: exit 1 without a traceback passes there.
# A program that exits non-zero without a Python traceback did not crash: --help is just
# not its help flag, so it is reported as SKIP, not FAIL.
# Prints one line per program ("ok   SPEC", "FAIL SPEC  -> last error line" followed by the
# output's tail, each line prefixed "     | ", or "SKIP SPEC  -> why") and exits 1 if any
# program failed.

import os
import subprocess
import sys
import threading

TIMEOUT = int(os.environ.get("REPRO_HELP_TIMEOUT", "60"))
TAIL = 40  # a chained traceback (try: import a; except ImportError: import b) whole
CONSOLE = (
    "import importlib, sys\n"
    "sys.argv = [%r, '--help']\n"
    "f = importlib.import_module(%r)\n"
    "for name in %r.split('.'):\n"
    "    f = getattr(f, name)\n"
    "sys.exit(f())\n"
)


def argv_for(kind, target):
    if kind == "console":
        name, _, ref = target.partition("=")
        module, _, attr = ref.partition(":")
        return [sys.executable, "-c", CONSOLE % (name, module, attr or "main")]
    if kind == "module":
        return [sys.executable, "-m", target, "--help"]
    return [sys.executable, target, "--help"]


def check(spec):
    kind, _, target = spec.partition(":")
    absl = kind.startswith("absl-")
    if absl:
        kind = kind[len("absl-") :]
    proc = subprocess.Popen(
        argv_for(kind, target), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    timer = threading.Timer(TIMEOUT, proc.kill)
    timer.start()
    try:
        out, _ = proc.communicate()
    finally:
        timer.cancel()
    text = out.decode("utf-8", "replace").strip().splitlines()
    traceback = any(line.startswith("Traceback (most recent call last)") for line in text)
    code = proc.returncode
    if code == 0:
        return "ok", "", []
    if code < 0:
        return "FAIL", "timed out after %ss or killed (signal %s)" % (TIMEOUT, -code), text[-TAIL:]
    if traceback:
        return "FAIL", text[-1] if text else "exit code %s" % code, text[-TAIL:]
    if absl and code == 1 and text:
        return "ok", "", []
    return "SKIP", "exit %s without a traceback: --help is not its help flag" % code, []


def main(argv):
    failed = skipped = 0
    for spec in argv:
        status, why, tail = check(spec)
        print("%s %s%s" % (status.ljust(4), spec, "  -> " + why if why else ""))
        for line in tail:
            print("     | " + line)
        sys.stdout.flush()
        failed += status == "FAIL"
        skipped += status == "SKIP"
    print("%d of %d programs failed, %d skipped" % (failed, len(argv), skipped))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
