"""What every benchmark prints about the machine it ran on."""

import os
from importlib.metadata import PackageNotFoundError, version


def package_version(name):
    """The installed version of ``name``, or 'unknown'."""
    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


def load_average():
    """The 1, 5 and 15 minute load averages, or 'n/a' where there are none."""
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except (AttributeError, OSError):  # not on every platform
        return "n/a"
