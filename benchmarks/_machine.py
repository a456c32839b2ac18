"""What every benchmark prints about the machine it ran on, and its memory."""

import os
import platform
import resource
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


def print_machine(packages):
    """Python, platform, CPUs, load average and the ``packages``' versions."""
    print(f"python {platform.python_version()} on {platform.platform()}")
    print(f"cpu count {os.cpu_count()}, load average {load_average()}")
    print("versions: " + ", ".join(f"{p} {package_version(p)}" for p in packages))


def peak_mib():
    """Peak resident memory of this process, MiB.

    ``VmHWM`` of /proc/self/status where there is one: ``ru_maxrss`` survives
    ``execve`` on Linux, so a spawned child would report at least the RSS its
    parent had when it forked.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
