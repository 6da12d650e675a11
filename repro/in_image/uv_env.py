# repro's bridge from pip's configuration to uv: runs inside the build, never on the host.
#
# uv does not read pip.conf. Given the pip configuration repro passes as a build secret,
# print shell `export` lines for the index settings uv understands, to be eval'ed in the
# same RUN (so index tokens never reach a layer). Prints nothing for a missing file.

import configparser
import shlex
import sys

KEYS = (
    ("index-url", "UV_INDEX_URL"),
    ("extra-index-url", "UV_EXTRA_INDEX_URL"),
    ("find-links", "UV_FIND_LINKS"),
)


def main(argv):
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(argv[1:2])
    except (configparser.Error, OSError):
        return 0
    for key, var in KEYS:
        values = []
        for section in ("global", "install"):
            if parser.has_option(section, key):
                values = parser.get(section, key).split()
        if values:
            sep = "," if var == "UV_FIND_LINKS" else " "
            print("export %s=%s" % (var, shlex.quote(sep.join(values))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
