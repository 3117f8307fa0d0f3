"""Debian's python3-torch (and python3-pil) for the scripts that compare with PyTorch or write test fixtures.

The same LibTorch 1.13 and OpenBLAS as the harness; installed with apt-get
(through sudo when not root) the first time a script needs it, then the script
starts again. Never a runtime dependency of the harness. Usage, first thing in
a script's main(): debian_torch.ensure_torch("encoder_vs_pytorch", "benchmark only")
"""
import os
import subprocess
import sys


def ensure_debian(tool, why, modules, packages):
    """Imports `modules`, or installs Debian's `packages` with apt-get and restarts the script once."""
    try:
        for m in modules:
            __import__(m)
        return
    except ImportError:
        pass
    flag = "LACO_INSTALL_TRIED_" + "_".join(p.replace("-", "_") for p in packages)
    if os.environ.get(flag):
        sys.exit(f"{tool}: {', '.join(packages)} still missing after apt-get install")
    cmd = ["apt-get", "install", "-y", "--no-install-recommends"] + list(packages)
    if os.geteuid() != 0:
        cmd = ["sudo"] + cmd
    print(f"{tool}: installing Debian's {', '.join(packages)} ({why}):", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    os.environ[flag] = "1"
    os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)


def ensure_torch(tool, why):
    ensure_debian(tool, why, ["numpy", "torch"], ["python3-torch", "python3-numpy"])


def ensure_pil(tool, why):
    ensure_debian(tool, why, ["numpy", "PIL"], ["python3-pil", "python3-numpy"])
