# repro's import check: runs inside the built image (Python 2.7 or 3.x), never on the host.
#
# For each module named on the command line, in a fresh interpreter with a timeout:
#   - a module of a package (its folder has __init__.py) is imported whole;
#   - a script is not run: only its import statements are executed, so a training script
#     with code at top level does not start training.
# Prints one line per module ("ok   KIND:TARGET" or "FAIL KIND:TARGET  -> last error line",
# then the tail of the output, each line prefixed "     | ") and exits 1 if any failed.

import ast
import os
import subprocess
import sys

TIMEOUT = int(os.environ.get("REPRO_IMPORT_TIMEOUT", "60"))
TAIL = 40  # a chained traceback (try: import a; except ImportError: import b) whole


def import_lines(path):
    with open(path, "rb") as fh:
        source = fh.read()
    try:
        tree = ast.parse(source, path)
    except SyntaxError as exc:
        return None, "SyntaxError: %s (%s, line %s)" % (exc.msg, path, exc.lineno)
    lines = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                lines.append("import %s" % alias.name)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            if node.module == "__future__":
                continue
            names = ", ".join(a.name for a in node.names)
            lines.append("from %s import %s" % (node.module, names))
    return lines, None


def check(kind, target, cwd):
    if kind == "module":
        code = "import importlib; importlib.import_module(%r)" % target
    else:
        lines, error = import_lines(target)
        if error:
            return False, error, []
        code = "\n".join(lines) or "pass"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(
            None,
            [
                cwd,
                os.path.dirname(os.path.abspath(target)) if kind == "script" else "",
                env.get("PYTHONPATH", ""),
            ],
        )
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=cwd,
        env=env,
    )
    try:
        import threading

        timer = threading.Timer(TIMEOUT, proc.kill)
        timer.start()
        out, _ = proc.communicate()
        timer.cancel()
    except Exception as exc:
        return False, "could not run: %s" % exc, []
    text = out.decode("utf-8", "replace").strip().splitlines()
    if proc.returncode == 0:
        return True, "", []
    if proc.returncode < 0:
        why = "timed out after %ss or killed (signal %s)" % (TIMEOUT, -proc.returncode)
        return False, why, text[-TAIL:]
    return False, (text[-1] if text else "exit code %s" % proc.returncode), text[-TAIL:]


def main(argv):
    failures = 0
    cwd = os.getcwd()
    for item in argv:
        kind, _, target = item.partition(":")
        ok, why, tail = check(kind, target, cwd)
        print("%s %s%s" % ("ok  " if ok else "FAIL", item, "" if ok else "  -> " + why))
        for line in tail:
            print("     | " + line)
        sys.stdout.flush()
        if not ok:
            failures += 1
    print("%d of %d imports failed" % (failures, len(argv)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
