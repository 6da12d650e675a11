# repro's look at a built image: runs inside it (Python 2.7 or 3.x), never on the host.
# Prints one JSON object: the lock (/opt/repro/lock.txt), which distribution provides each
# installed top-level module, the distribution release (/etc/os-release) and its installed
# system packages (dpkg's status file: name, version, architecture). The smoke test's
# repair reads it to map "No module named X" / "cannot import name" to a package; the
# manifest and the SBOM record the lock and the system packages.
import json

out = {"lock": [], "modules": {}, "os": {}, "system": []}
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


def add(top, dist):
    if top and top != "__pycache__" and not top.startswith(".."):
        out["modules"].setdefault(top, dist)


try:
    from importlib import metadata

    for dist in metadata.distributions():
        name = dist.metadata["Name"]
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
        import pkg_resources

        for dist in pkg_resources.working_set:
            if dist.has_metadata("top_level.txt"):
                for module in dist.get_metadata_lines("top_level.txt"):
                    add(module.strip(), dist.project_name)
    except Exception:
        pass
print(json.dumps(out))
