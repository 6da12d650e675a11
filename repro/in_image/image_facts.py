# repro's look at a built image: runs inside it (Python 2.7 or 3.x), never on the host.
# Prints one JSON object: the lock (/opt/repro/lock.txt), which distribution provides each
# installed top-level module, the distribution release (/etc/os-release), its installed
# system packages (dpkg's status file: name, version, architecture) and the licences both
# kinds of package declare. The smoke test's repair reads it to map "No module named X" /
# "cannot import name" to a package; the manifest and the SBOM record the rest.
import json
import re

out = {"lock": [], "modules": {}, "os": {}, "system": [], "licenses": {"python": {}, "system": {}}}


def declared_licenses(meta):
    """The licences a distribution's metadata declares (``get``/``get_all`` of its headers):
    its SPDX ``License-Expression``, else a one-line ``License`` field, else the names in
    its ``License ::`` classifiers."""
    expression = (meta.get("License-Expression") or "").strip()
    if expression:
        return [expression]
    field = (meta.get("License") or "").strip()
    if field and "\n" not in field and len(field) <= 80 and field.upper() != "UNKNOWN":
        return [field]
    found = []
    for classifier in meta.get_all("Classifier") or []:
        parts = [p.strip() for p in classifier.split("::")]
        name = parts[-1]
        if (
            parts[0] == "License"
            and len(parts) > 1
            and name != "OSI Approved"
            and name not in found
        ):
            found.append(name)
    return found


def copyright_licenses(text):
    """The licence names of a machine-readable Debian copyright file (DEP-5), in order."""
    if not re.match(r"Format:\s*\S*dep5|Format:\s*https?://www\.debian\.org/doc/packaging", text):
        return []
    found = []
    for line in text.splitlines():
        if line.startswith("License:"):
            name = line[len("License:") :].strip()
            if name and name not in found:
                found.append(name)
    return found


try:
    with open("/opt/repro/lock.txt") as fh:
        out["lock"] = [line.strip() for line in fh if line.strip()]
except Exception:
    pass
try:
    with open("/etc/os-release") as fh:
        for line in fh:
            key, _, value = line.strip().partition("=")
            if key in ("ID", "VERSION_ID", "VERSION_CODENAME"):
                out["os"][key.lower()] = value.strip('"')
except Exception:
    pass


def dpkg_installed(text):
    """[name, version, architecture] of every installed package in a dpkg status file."""
    found = []
    for record in text.split("\n\n"):
        fields = {}
        for line in record.splitlines():
            if line[:1] not in (" ", "\t") and ":" in line:
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
        status = fields.get("Status", "").split()
        if fields.get("Package") and status[-1:] == ["installed"]:
            found.append(
                [fields["Package"], fields.get("Version", ""), fields.get("Architecture", "")]
            )
    return sorted(found)


try:
    with open("/var/lib/dpkg/status") as fh:
        out["system"] = dpkg_installed(fh.read())
except Exception:
    pass
for name in sorted(set(p[0] for p in out["system"])):
    try:
        with open("/usr/share/doc/%s/copyright" % name) as fh:
            names = copyright_licenses(fh.read())
    except Exception:
        continue
    if names:
        out["licenses"]["system"][name] = names


def add(top, dist):
    if top and top != "__pycache__" and not top.startswith(".."):
        out["modules"].setdefault(top, dist)


try:
    from importlib import metadata

    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        names = declared_licenses(dist.metadata)
        if name and names:
            out["licenses"]["python"].setdefault(name, names)
        top = dist.read_text("top_level.txt")
        if top:
            for module in top.split():
                add(module, name)
            continue
        for path in dist.files or []:
            first = str(path).split("/")[0]
            if first.endswith(".py"):
                add(first[:-3], name)
            elif "." not in first:
                add(first, name)
except ImportError:
    try:
        from email.parser import Parser

        import pkg_resources

        for dist in pkg_resources.working_set:
            for kind in ("METADATA", "PKG-INFO"):
                if dist.has_metadata(kind):
                    names = declared_licenses(Parser().parsestr(dist.get_metadata(kind)))
                    if names:
                        out["licenses"]["python"].setdefault(dist.project_name, names)
                    break
            if dist.has_metadata("top_level.txt"):
                for module in dist.get_metadata_lines("top_level.txt"):
                    add(module.strip(), dist.project_name)
    except Exception:
        pass
print(json.dumps(out))
