#!/usr/bin/env python3
"""Fail when a built layer holds native code that will not load on arm64 Lambda.

Usage: check_layer_arch.py [LAYER_DIR]   (default .aws-sam/build/PaylinkLayer)

A layer built for x86_64 attached to arm64 functions imports fine until the first
native extension (pydantic_core, ...) is loaded, so this runs after every `sam build`.
"""

from __future__ import annotations

import argparse
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_LAYER_DIR = Path(".aws-sam/build/PaylinkLayer")
ELF_MAGIC = b"\x7fELF"
EM_AARCH64 = 183
MACHINE_NAMES = {3: "i386", 40: "arm", 62: "x86-64", 183: "aarch64", 243: "riscv"}
PACKAGE_MARKER = Path("python/paylink/__init__.py")
# e_ident (16 bytes), e_type (2), e_machine (2): the same offsets for 32- and 64-bit ELF.
_HEADER_SIZE = 20
_EI_DATA = 5
_ELFDATA2MSB = 2


@dataclass
class Report:
    files_seen: int = 0
    native: list[tuple[Path, int]] = field(default_factory=list)

    @property
    def offenders(self) -> list[tuple[Path, int]]:
        return [(path, machine) for path, machine in self.native if machine != EM_AARCH64]


def elf_machine(path: Path) -> int | None:
    """The ELF e_machine of a file, or None when it is not an ELF file."""
    try:
        with path.open("rb") as fh:
            header = fh.read(_HEADER_SIZE)
    except OSError:
        return None
    if len(header) < _HEADER_SIZE or not header.startswith(ELF_MAGIC):
        return None
    byte_order = ">" if header[_EI_DATA] == _ELFDATA2MSB else "<"
    (machine,) = struct.unpack_from(f"{byte_order}H", header, 18)
    return int(machine)


def scan(layer_dir: Path) -> Report:
    report = Report()
    for path in sorted(layer_dir.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        report.files_seen += 1
        machine = elf_machine(path)
        if machine is not None:
            report.native.append((path, machine))
        elif path.suffix == ".so" or ".so." in path.name:
            # A shared object that is not ELF cannot be loaded by Lambda either.
            report.native.append((path, -1))
    return report


def check(layer_dir: Path) -> tuple[list[str], Report]:
    """Problems found in a built layer (none when it is fit for arm64), and what was scanned."""
    if not layer_dir.is_dir():
        return [f"{layer_dir}: not a directory (run `sam build` first)"], Report()
    problems: list[str] = []
    if not (layer_dir / PACKAGE_MARKER).is_file():
        problems.append(f"{layer_dir}: no {PACKAGE_MARKER} (wrong layer layout, e.g. python/python/)")
    report = scan(layer_dir)
    if report.files_seen == 0:
        problems.append(f"{layer_dir}: no files inspected")
    for path, machine in report.offenders:
        name = MACHINE_NAMES.get(machine, "not ELF" if machine < 0 else f"e_machine={machine}")
        problems.append(f"{path.relative_to(layer_dir)}: {name}, expected aarch64")
    return problems, report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("layer_dir", nargs="?", type=Path, default=DEFAULT_LAYER_DIR)
    args = parser.parse_args(argv)
    layer_dir: Path = args.layer_dir

    problems, report = check(layer_dir)
    if problems:
        print(f"layer architecture check failed for {layer_dir}:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print(f"checked {len(report.native)} native extensions in {report.files_seen} files: all aarch64")
    return 0


if __name__ == "__main__":
    sys.exit(main())
