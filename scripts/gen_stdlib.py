#!/usr/bin/env python3
"""Regenerate repro/data/stdlib.json: standard-library top-level module names.

Python 3: ``sys.stdlib_module_names`` of the interpreter running this script (3.10+), plus
the modules later releases removed (PEP 594 and distutils), so code written for an older
Python 3 still has them excluded. Python 2.7: the list below, taken from the 2.7 library
reference's module index (https://docs.python.org/2.7/py-modindex.html).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

# Removed from the standard library, with the first release that lacks them.
REMOVED = {
    "asynchat": "3.12", "asyncore": "3.12", "distutils": "3.12", "imp": "3.12", "smtpd": "3.12",
    "aifc": "3.13", "audioop": "3.13", "cgi": "3.13", "cgitb": "3.13", "chunk": "3.13",
    "crypt": "3.13", "imghdr": "3.13", "mailcap": "3.13", "msilib": "3.13", "nis": "3.13",
    "nntplib": "3.13", "ossaudiodev": "3.13", "pipes": "3.13", "sndhdr": "3.13", "spwd": "3.13",
    "sunau": "3.13", "telnetlib": "3.13", "uu": "3.13", "xdrlib": "3.13", "lib2to3": "3.13",
    "binhex": "3.11", "formatter": "3.10", "parser": "3.10", "symbol": "3.10",
    "macpath": "3.8", "dummy_threading": "3.9", "_dummy_thread": "3.9",
}  # fmt: skip

PY2_ONLY = """
BaseHTTPServer Bastion CGIHTTPServer Canvas ConfigParser Cookie DocXMLRPCServer Dialog
FileDialog FixTk HTMLParser MimeWriter Queue ScrolledText SimpleDialog SimpleHTTPServer
SimpleXMLRPCServer SocketServer StringIO Tix Tkconstants Tkdnd Tkinter UserDict UserList
UserString __builtin__ anydbm bsddb cPickle cProfile cStringIO commands compiler cookielib
copy_reg dbhash dircache dl dumbdbm dummy_thread exceptions fpformat future_builtins gdbm
hotshot htmlentitydefs htmllib httplib ihooks imageop imputil itertools markupbase md5
mhlib mimetools mimify multifile mutex new popen2 posixfile repr rexec rfc822 robotparser
sets sgmllib sha statvfs string thread tkColorChooser tkCommonDialog tkFileDialog tkFont
tkMessageBox tkSimpleDialog toaiff ttk urllib2 urlparse user whichdb xmllib xmlrpclib
"""


def main() -> None:
    py3 = sorted(set(sys.stdlib_module_names) | set(REMOVED))
    py2 = sorted(set(PY2_ONLY.split()) | (set(py3) - {"asyncio", "concurrent", "tomllib"}))
    data = {
        "schema_version": 1,
        "generated": dt.date.today().isoformat(),
        "generated_by": "scripts/gen_stdlib.py",
        "source": f"sys.stdlib_module_names of Python {sys.version.split()[0]}; "
        "Python 2.7 module index",
        "python3": py3,
        "python2": py2,
        "removed": REMOVED,
    }
    out = Path(__file__).resolve().parent.parent / "repro" / "data" / "stdlib.json"
    out.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"wrote {out} ({len(py3)} py3, {len(py2)} py2 names)")


if __name__ == "__main__":
    main()
