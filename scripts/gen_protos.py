"""Generate the Python gRPC code from protos/ (``make proto``), or check it is current.

``--check`` generates into a temporary folder and fails when anything differs from the
committed files, so a proto change without regenerated code cannot land.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import sys
import tempfile
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "protos"
PACKAGE = Path("sitoo_bloomreach") / "v1"
INIT_TEXT = '"""Generated from protos/ by `make proto`; do not edit."""\n'


def generate(out_dir: Path) -> None:
    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in (PROTO_ROOT / PACKAGE).glob("*.proto"))
    # The mypy plugins are console scripts beside this interpreter.
    bin_dir = str(Path(sys.executable).parent)
    os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    include = str(Path(protoc.__file__).parent / "_proto")
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{include}",
        f"--python_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        f"--mypy_out={out_dir}",
        f"--mypy_grpc_out={out_dir}",
        *protos,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    for package_dir in (out_dir / "sitoo_bloomreach", out_dir / PACKAGE):
        (package_dir / "__init__.py").write_text(INIT_TEXT)
        (package_dir / "py.typed").write_text("")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if generated code is stale")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        generate(out)
        generated = out / PACKAGE
        committed = ROOT / PACKAGE
        if args.check:
            names = sorted(p.name for p in generated.iterdir())
            present = sorted(p.name for p in committed.iterdir()) if committed.exists() else []
            present = [n for n in present if n != "__pycache__"]
            _, mismatch, errors = filecmp.cmpfiles(generated, committed, names, shallow=False)
            if mismatch or errors or names != present:
                extra = sorted(set(present) - set(names))
                print(
                    "generated code is stale; run `make proto`: "
                    f"differs={mismatch} missing={errors} extra={extra}",
                    file=sys.stderr,
                )
                return 1
            print("generated code is current")
            return 0
        shutil.rmtree(ROOT / "sitoo_bloomreach", ignore_errors=True)
        shutil.copytree(out / "sitoo_bloomreach", ROOT / "sitoo_bloomreach")
        print(f"generated {PACKAGE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
