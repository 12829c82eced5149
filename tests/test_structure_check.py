"""tools/check_structure.py: import cycles, one layer per public class name, module size."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

TOOL = Path(__file__).resolve().parents[1] / "tools" / "check_structure.py"


@pytest.fixture(scope="module")
def check() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_structure", TOOL)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make(root: Path, files: dict[str, str]) -> Path:
    """A package ``pkg`` under ``root`` with the given modules (paths relative to the package)."""
    package = root / "pkg"
    for name, text in {"__init__.py": "", **files}.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for folder in {p.parent for p in package.rglob("*.py")}:
        (folder / "__init__.py").touch()
    return package


def run(package: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(TOOL), str(package), *args], capture_output=True, text=True, check=False
    )


CLEAN = {
    "low/base.py": "class Base:\n    pass\n",
    "low/use.py": "from pkg.low.base import Base\n\n\nclass _Private(Base):\n    pass\n",
    "high/top.py": (
        "from __future__ import annotations\n\nfrom typing import TYPE_CHECKING\n\n"
        "from pkg.low import base\n\nif TYPE_CHECKING:\n    from pkg.high.other import Other\n\n\n"
        "class Top(base.Base):\n    pass\n\n\n"
        "def later() -> None:\n    from pkg.high import other\n"
    ),
    "high/other.py": "from pkg.high.top import Top\n\n\nclass Other(Top):\n    pass\n\n\nclass _Base:\n    pass\n",
    "more/shared.py": "class _Base:\n    pass\n",
}


def test_a_clean_package_passes(tmp_path: Path) -> None:
    done = run(make(tmp_path, CLEAN))
    assert (done.returncode, done.stdout) == (0, "")


def test_a_module_level_import_cycle_is_reported_with_its_path(tmp_path: Path) -> None:
    files = {**CLEAN, "low/base.py": "from pkg.low import use\n\n\nclass Base:\n    pass\n"}
    done = run(make(tmp_path, files))
    assert done.returncode == 1
    assert done.stdout.splitlines() == ["import cycle: pkg.low.base -> pkg.low.use -> pkg.low.base"]


def test_a_relative_import_cycle_through_a_package_init_is_reported(tmp_path: Path) -> None:
    files = {
        **CLEAN,
        "low/__init__.py": "from .use import Base\n",
        "low/base.py": "from . import Base as B\n",
    }
    done = run(make(tmp_path, files))
    assert done.returncode == 1
    assert done.stdout.splitlines() == ["import cycle: pkg.low -> pkg.low.use -> pkg.low.base -> pkg.low"]


def test_imports_inside_functions_and_type_checking_blocks_do_not_count(
    check: ModuleType, tmp_path: Path
) -> None:
    package = make(tmp_path, CLEAN)
    modules = check.module_names(package)
    assert check.imports_of("pkg.high.top", modules["pkg.high.top"], modules) == {"pkg.low.base"}


def test_a_public_class_name_in_two_layers_is_reported(tmp_path: Path) -> None:
    files = {**CLEAN, "more/shared.py": "class Top:\n    pass\n"}
    done = run(make(tmp_path, files))
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        "public class Top is defined in 2 layers: pkg.high.top, pkg.more.shared"
    ]


def test_the_same_name_twice_inside_one_layer_is_allowed(tmp_path: Path) -> None:
    files = {**CLEAN, "high/again.py": "class Other:\n    pass\n"}
    assert run(make(tmp_path, files)).returncode == 0


def test_a_module_over_the_line_limit_is_reported(tmp_path: Path) -> None:
    files = {**CLEAN, "low/big.py": "x = 1\n" * 801}
    package = make(tmp_path, files)
    done = run(package)
    assert done.returncode == 1
    assert done.stdout.splitlines() == [f"{package / 'low' / 'big.py'}: 801 lines (limit 800); split it"]
    assert run(package, "--max-lines", "801").returncode == 0


def test_every_kind_of_problem_is_reported_in_one_run(tmp_path: Path) -> None:
    files = {
        **CLEAN,
        "low/base.py": "from pkg.low import use\n\n\nclass Base:\n    pass\n",
        "more/shared.py": "class Top:\n    pass\n",
        "low/big.py": "x = 1\n" * 801,
    }
    done = run(make(tmp_path, files))
    assert done.returncode == 1
    assert [line.split(":")[0] for line in done.stdout.splitlines()] == [
        "import cycle",
        "public class Top is defined in 2 layers",
        str(tmp_path / "pkg" / "low" / "big.py"),
    ]


def test_a_folder_that_is_not_a_package_is_a_usage_error(tmp_path: Path) -> None:
    done = run(tmp_path)
    assert done.returncode == 2
    assert "not a package" in done.stderr
