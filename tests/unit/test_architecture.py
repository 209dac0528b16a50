"""docs/architecture.md matches the code: every module is named, the layers are the contracts'."""

from __future__ import annotations

import tomllib

from tests.data import ROOT

PACKAGE = ROOT / "reference" / "liqspec"
GUIDE = (ROOT / "docs" / "architecture.md").read_text()
CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"][
    "contracts"
]


def test_every_module_is_described() -> None:
    modules = {
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if not path.name.startswith("__")
    }
    assert modules
    missing = {m for m in modules if f"`{m}`" not in GUIDE}
    assert missing == set()


def test_the_layers_are_the_contracts_layers() -> None:
    top = next(c for c in CONTRACTS if c.get("containers") == ["liqspec"])
    listed = GUIDE.split("```text\n", 1)[1].split("```", 1)[0].split()
    assert [word for word in listed if word in top["layers"]] == top["layers"]
    for layer in top["layers"]:
        assert f"## {layer}" in GUIDE


def test_the_engine_layers_are_the_contracts_layers() -> None:
    engine = next(c for c in CONTRACTS if c.get("containers") == ["liqspec.engine"])
    drawn = GUIDE.split("```text\n", 2)[2].split("```", 1)[0]
    rows = [line.split("  ")[0].strip() for line in drawn.splitlines() if line[:1].isalpha()]
    assert rows == engine["layers"]
