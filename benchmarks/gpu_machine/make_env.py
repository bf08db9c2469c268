"""A virtual environment with only the GPU machine's packages and the carried wheels, linked from
this environment's installs: where the GPU check is known to start before a GPU is lent.

    python benchmarks/gpu_machine/make_env.py DEST

DEST gets a venv (no pip) whose site-packages holds a symbolic link to every top-level module,
package and .dist-info folder of each installed distribution named in packages.txt (the GPU
machine's image) or wheels.txt (what benchmarks/gpu_wheels.sh carries there). Anything else
installed here, papermill or imagehash say, cannot be imported from it: a step of the check that
needs a package the machine would not have fails in the test suite, not on the GPU. torch 2.14.1
stands in for the machine's 2.11, so what this catches is a missing package, not a missing API.
"""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
LISTS = (HERE / "packages.txt", HERE / "wheels.txt")


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def allowed(lists=LISTS) -> dict[str, str | None]:
    """name -> pinned version (None where the list pins none)."""
    out = {}
    for path in lists:
        for line in path.read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                name, _, version = line.partition("==")
                out[norm(name)] = version or None
    return out


def build(dest: Path) -> list[str]:
    """The venv at ``dest``; returns the allowed distributions that are not installed here."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(dest)], check=True)
    site = next((dest / "lib").glob("python*/site-packages"))
    names = allowed()
    found = set()
    for dist in importlib.metadata.distributions():
        name = norm(dist.metadata["Name"])
        if name not in names or name in found:
            continue
        found.add(name)
        root = Path(dist.locate_file(""))
        tops = {Path(f).parts[0] for f in dist.files or [] if not Path(f).parts[0].startswith("..")}
        for top in sorted(tops):
            link, target = site / top, root / top
            if target.exists() and not link.exists():
                link.symlink_to(target)
    return sorted(set(names) - found)


if __name__ == "__main__":
    missing = build(Path(sys.argv[1]))
    print(f"not installed here (so not importable there either): {', '.join(missing) or 'none'}")
