"""Stand-in for the get-pip.py that ansible-test downloads (its host is not reachable here).

ansible-test runs this inside each fresh virtual environment it builds, with pip's install
arguments.  We bootstrap pip from the interpreter's own ensurepip and install the requested
packages from the configured package index instead.
"""

import ensurepip
import os
import subprocess
import sys

ensurepip.bootstrap(upgrade=True)
# ensurepip points PIP_CONFIG_FILE at /dev/null, which would drop the machine's pip settings (CA bundle).
os.environ.pop("PIP_CONFIG_FILE", None)
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
if args:
    sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", "--disable-pip-version-check", *args]))
