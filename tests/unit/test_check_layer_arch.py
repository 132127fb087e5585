import struct
from pathlib import Path

import pytest

from scripts.check_layer_arch import main

EM_X86_64 = 62
EM_AARCH64 = 183


def fake_elf(path: Path, machine: int) -> None:
    """Write the start of a 64-bit little-endian ELF shared object for `machine`."""
    # e_ident: magic, ELFCLASS64, ELFDATA2LSB, EV_CURRENT, padding; then e_type=ET_DYN, e_machine.
    ident = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(ident + struct.pack("<HH", 3, machine) + bytes(44))


@pytest.fixture
def layer(tmp_path: Path) -> Path:
    package = tmp_path / "python" / "paylink"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    return tmp_path


def test_aarch64_extensions_pass(layer: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a layer whose native extensions are all aarch64, one without the .so suffix
    fake_elf(layer / "python/pydantic_core/_pydantic_core.cpython-313-aarch64-linux-gnu.so", EM_AARCH64)
    fake_elf(layer / "python/somepkg/libs/helper", EM_AARCH64)

    # When the layer is checked
    code = main([str(layer)])

    # Then it passes and says how many extensions it inspected
    assert code == 0
    assert "checked 2 native extensions" in capsys.readouterr().out


def test_x86_64_extension_fails_and_is_named(layer: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a layer holding one x86-64 extension among aarch64 ones
    fake_elf(layer / "python/ok.cpython-313-aarch64-linux-gnu.so", EM_AARCH64)
    fake_elf(layer / "python/pydantic_core/_pydantic_core.cpython-313-x86_64-linux-gnu.so", EM_X86_64)

    # When the layer is checked
    code = main([str(layer)])

    # Then it fails and names the offender and its architecture
    assert code == 1
    err = capsys.readouterr().err
    assert "_pydantic_core.cpython-313-x86_64-linux-gnu.so: x86-64" in err
    assert "ok.cpython-313" not in err


def test_layer_without_package_under_python_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a layer built with an extra python/ folder, so the package sits in python/python/
    (tmp_path / "python/python/paylink").mkdir(parents=True)
    (tmp_path / "python/python/paylink/__init__.py").write_text("")

    # When the layer is checked
    code = main([str(tmp_path)])

    # Then the layout is refused
    assert code == 1
    assert "wrong layer layout" in capsys.readouterr().err


@pytest.mark.parametrize("subdir", ["", "missing"], ids=["empty", "missing"])
def test_layer_with_nothing_to_inspect_fails(tmp_path: Path, subdir: str) -> None:
    # Given an empty layer directory, or one that does not exist
    layer_dir = tmp_path / subdir

    # When it is checked
    code = main([str(layer_dir)])

    # Then it does not pass, since nothing was inspected
    assert code == 1
