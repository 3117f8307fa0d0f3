"""Debian's python3-torch for the scripts that compare with PyTorch or write test fixtures.

The same LibTorch 1.13 and OpenBLAS as the harness; installed with apt-get
(through sudo when not root) the first time a script needs it, then the script
starts again. Never a runtime dependency of the harness. Usage, first thing in
a script's main(): debian_torch.ensure_torch("encoder_vs_pytorch", "benchmark only")
"""
import os
import subprocess
import sys


def ensure_torch(tool, why):
    try:
        import numpy  # noqa: F401
        import torch  # noqa: F401
        return
    except ImportError:
        pass
    if os.environ.get("LACO_TORCH_INSTALL_TRIED"):
        sys.exit(f"{tool}: python3-torch is still missing after apt-get install")
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", "python3-torch", "python3-numpy"]
    if os.geteuid() != 0:
        cmd = ["sudo"] + cmd
    print(f"{tool}: installing Debian's python3-torch ({why}):", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    os.environ["LACO_TORCH_INSTALL_TRIED"] = "1"
    os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
