#!/usr/bin/env python3
"""Regenerate repro/data/stdlib.json: standard-library top-level module names.

Python 3: ``sys.stdlib_module_names`` of the interpreter running this script (3.10+), plus
the modules later releases removed (PEP 594 and distutils), so code written for an older
Python 3 still has them excluded. Python 2.7: the modules of a CPython 2.7.18 library
(PY2_LINUX below), the 2.7-only names of the library reference's module index
(https://docs.python.org/2.7/py-modindex.html) and its modules for other platforms.
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


# Every top-level module of CPython 2.7.18's library on Linux: sys.builtin_module_names and
# the modules and packages of lib/python2.7 and its lib-dynload (test helpers left out).
# Python 3 modules that 2.7 never had (enum, ipaddress, pathlib, typing, asyncio, ...) are
# not standard in Python 2 code: there they are backports from PyPI.
PY2_LINUX = """
BaseHTTPServer Bastion CGIHTTPServer ConfigParser Cookie DocXMLRPCServer HTMLParser
MimeWriter Queue SimpleHTTPServer SimpleXMLRPCServer SocketServer StringIO UserDict UserList
UserString _LWPCookieJar _MozillaCookieJar __builtin__ __future__ _abcoll _ast _bisect
_codecs _codecs_cn _codecs_hk _codecs_iso2022 _codecs_jp _codecs_kr _codecs_tw _collections
_csv _ctypes _curses _curses_panel _elementtree _functools _heapq _hotshot _io _json _locale
_lsprof _md5 _multibytecodec _multiprocessing _osx_support _pyio _random _sha _sha256
_sha512 _socket _sqlite3 _sre _ssl _strptime _struct _symtable _threading_local _tkinter
_warnings _weakref _weakrefset abc aifc antigravity anydbm argparse array ast asynchat
asyncore atexit audiodev audioop base64 bdb binascii binhex bisect bsddb bz2 cPickle
cProfile cStringIO calendar cgi cgitb chunk cmath cmd code codecs codeop collections
colorsys commands compileall compiler contextlib cookielib copy copy_reg crypt csv ctypes
curses datetime dbhash decimal difflib dircache dis distutils doctest dumbdbm dummy_thread
dummy_threading email encodings ensurepip errno exceptions fcntl filecmp fileinput fnmatch
formatter fpformat fractions ftplib functools future_builtins gc genericpath getopt getpass
gettext glob grp gzip hashlib heapq hmac hotshot htmlentitydefs htmllib httplib idlelib
ihooks imaplib imghdr imp importlib imputil inspect io itertools json keyword lib2to3
linecache linuxaudiodev locale logging macpath macurl2path mailbox mailcap markupbase
marshal math md5 mhlib mimetools mimetypes mimify mmap modulefinder multifile
multiprocessing mutex netrc new nis nntplib ntpath nturl2path numbers opcode operator
optparse os os2emxpath ossaudiodev parser pdb pickle pickletools pipes pkgutil platform
plistlib popen2 poplib posix posixfile posixpath pprint profile pstats pty pwd py_compile
pyclbr pydoc pydoc_data pyexpat quopri random re readline repr resource rexec rfc822
rlcompleter robotparser runpy sched select sets sgmllib sha shelve shlex shutil signal site
smtpd smtplib sndhdr socket spwd sqlite3 sre sre_compile sre_constants sre_parse ssl stat
statvfs string stringold stringprep strop struct subprocess sunau sunaudio symbol symtable
sys sysconfig syslog tabnanny tarfile telnetlib tempfile termios test textwrap this thread
threading time timeit toaiff token tokenize trace traceback tty types unicodedata unittest
urllib urllib2 urlparse user uu uuid warnings wave weakref webbrowser whichdb wsgiref xdrlib
xml xmllib xmlrpclib xxsubtype zipfile zipimport zlib
"""
# Modules of the 2.7 module index that a Linux build lacks (Windows, or Tk not built).
PY2_OTHER_PLATFORMS = "_winreg msvcrt winsound dbm gdbm dl imageop _tkinter ttk"


def main() -> None:
    py3 = sorted(set(sys.stdlib_module_names) | set(REMOVED))
    py2 = sorted(set(PY2_ONLY.split()) | set(PY2_LINUX.split()) | set(PY2_OTHER_PLATFORMS.split()))
    data = {
        "schema_version": 1,
        "generated": dt.date.today().isoformat(),
        "generated_by": "scripts/gen_stdlib.py",
        "source": f"sys.stdlib_module_names of Python {sys.version.split()[0]}; the library "
        "of CPython 2.7.18 and the Python 2.7 module index",
        "python3": py3,
        "python2": py2,
        "removed": REMOVED,
    }
    out = Path(__file__).resolve().parent.parent / "repro" / "data" / "stdlib.json"
    out.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"wrote {out} ({len(py3)} py3, {len(py2)} py2 names)")


if __name__ == "__main__":
    main()
