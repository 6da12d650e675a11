# repro lab: writes the kernel JupyterLab offers, inside the lab layer of a packed image.
# Runs with the lab's own Python (/opt/repro/lab/bin/python), never on the host. The kernel
# is the image's environment (argv[1], its Python): with its own ipykernel when it has one;
# otherwise its Python runs the lab's ipykernel, found at the *end* of sys.path, so that
# every package of the environment comes first and none is replaced.
import json
import os
import subprocess
import sys
import sysconfig

env_python = sys.argv[1]
quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
own = subprocess.call([env_python, "-c", "import ipykernel_launcher"], **quiet) == 0
version = (
    subprocess.check_output([env_python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
    .decode()
    .strip()
)
if own:
    argv = [env_python, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    how = "the environment's own ipykernel"
else:
    paths = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    code = (
        "import sys; sys.path.extend(%r); "
        "from ipykernel.kernelapp import launch_new_instance; launch_new_instance()" % paths
    )
    argv = [env_python, "-c", code, "-f", "{connection_file}"]
    how = "ipykernel from the lab layer, after the environment's packages on sys.path"
spec = {
    "argv": argv,
    "display_name": "Python %s (the image's environment)" % version,
    "language": "python",
    "metadata": {"repro": {"python": env_python, "ipykernel": how}},
}
folder = os.path.join(sys.prefix, "share", "jupyter", "kernels", "python3")
os.makedirs(folder, exist_ok=True)
with open(os.path.join(folder, "kernel.json"), "w") as fh:
    json.dump(spec, fh, indent=1)
print("kernel: %s with %s" % (env_python, how))
