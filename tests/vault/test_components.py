"""Split knowledge for the file vault (vault/components.py, cli/vault_components.py): the master key
as N XOR components and back, every check value checked, every mismatch refused.

Check values are recomputed here with `cryptography`'s AES-CMAC (NIST SP 800-38B; the KCV is the
CMAC of the 16-byte zero block, leftmost three bytes), independently of paycrypt's primitives."""

from __future__ import annotations

import json
import stat
import subprocess
from functools import reduce
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import algorithms

from paycrypt.vault import components
from paycrypt.vault.local import LocalKeyFileVault
from tests.api.processes import PAYCRYPT


def oracle_kcv(key: bytes) -> str:
    mac = cmac.CMAC(algorithms.AES(key))
    mac.update(bytes(16))
    return mac.finalize()[:3].hex().upper()


def xor(values: list[bytes]) -> bytes:
    return reduce(lambda a, b: bytes(x ^ y for x, y in zip(a, b, strict=True)), values)


@pytest.fixture
def master(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "master.key"
    LocalKeyFileVault(path)
    return path


@pytest.mark.parametrize("count", [2, 3, 5])
def test_components_xor_to_the_key_and_carry_their_check_values(
    master: Path, tmp_path: Path, count: int
) -> None:
    key = master.read_bytes()
    written = components.export_components(master, count, tmp_path / "out")
    assert [p.name for p, _ in written] == [
        f"master-key-component-{n}-of-{count}.json" for n in range(1, count + 1)
    ]
    values = []
    for path, _ in written:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        data = json.loads(path.read_text())
        value = bytes.fromhex(data["value"])
        assert data["kcv"] == oracle_kcv(value)
        assert data["master_key_kcv"] == oracle_kcv(key)
        assert value != key
        values.append(value)
    assert xor(values) == key
    assert len(set(values)) == count


def test_each_export_is_a_fresh_split(master: Path, tmp_path: Path) -> None:
    first = [c.value for _, c in components.export_components(master, 2, tmp_path / "a")]
    second = [c.value for _, c in components.export_components(master, 2, tmp_path / "b")]
    assert first[0] != second[0] and xor(first) == xor(second)


def test_import_rebuilds_the_key_into_an_empty_data_directory(master: Path, tmp_path: Path) -> None:
    paths = [p for p, _ in components.export_components(master, 3, tmp_path / "out")]
    target = tmp_path / "new" / "master.key"
    kcv = components.import_components(list(reversed(paths)), target)  # any order
    assert target.read_bytes() == master.read_bytes()
    assert kcv == oracle_kcv(master.read_bytes())
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert LocalKeyFileVault(target).key_id == LocalKeyFileVault(master).key_id
    # the same key again: nothing to do, nothing changed
    assert components.import_components(paths, target) == kcv
    assert sorted(p.name for p in target.parent.iterdir()) == ["master.key"]


def test_import_refuses_to_replace_another_master_key(master: Path, tmp_path: Path) -> None:
    paths = [p for p, _ in components.export_components(master, 2, tmp_path / "out")]
    other = tmp_path / "other" / "master.key"
    LocalKeyFileVault(other)
    before = other.read_bytes()
    with pytest.raises(components.ComponentError, match="already holds another master key"):
        components.import_components(paths, other)
    assert other.read_bytes() == before


def _edit(path: Path, **changes: object) -> None:
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def test_a_component_that_does_not_match_its_kcv_is_refused(master: Path, tmp_path: Path) -> None:
    paths = [p for p, _ in components.export_components(master, 3, tmp_path / "out")]
    value = bytearray.fromhex(json.loads(paths[1].read_text())["value"])
    value[0] ^= 0x01
    _edit(paths[1], value=value.hex().upper())
    with pytest.raises(components.ComponentError, match="component 2's value does not match its KCV"):
        components.import_components(paths, tmp_path / "new" / "master.key")
    assert not (tmp_path / "new" / "master.key").exists()


def test_a_component_of_another_key_is_refused_by_the_final_kcv(master: Path, tmp_path: Path) -> None:
    """Each component is whole and self-consistent, but one comes from another key's split."""
    mine = [p for p, _ in components.export_components(master, 2, tmp_path / "mine")]
    other_master = tmp_path / "other" / "master.key"
    LocalKeyFileVault(other_master)
    theirs = [p for p, _ in components.export_components(other_master, 2, tmp_path / "theirs")]
    _edit(theirs[1], master_key_kcv=json.loads(mine[0].read_text())["master_key_kcv"])
    with pytest.raises(components.ComponentError, match="rebuild a key whose KCV is"):
        components.import_components([mine[0], theirs[1]], tmp_path / "new" / "master.key")
    assert not (tmp_path / "new" / "master.key").exists()


@pytest.mark.parametrize(
    ("pick", "message"),
    [
        (lambda p: p[:2], r"needs components 1 to 3 once each, given \[1, 2\]"),
        (lambda p: [p[0], p[0], p[1]], r"given \[1, 1, 2\]"),
    ],
)
def test_an_incomplete_set_is_refused(master: Path, tmp_path: Path, pick: object, message: str) -> None:
    paths = [p for p, _ in components.export_components(master, 3, tmp_path / "out")]
    with pytest.raises(components.ComponentError, match=message):
        components.import_components(pick(paths), tmp_path / "new" / "master.key")


def test_components_of_two_splits_are_refused(master: Path, tmp_path: Path) -> None:
    two = [p for p, _ in components.export_components(master, 2, tmp_path / "two")]
    three = [p for p, _ in components.export_components(master, 3, tmp_path / "three")]
    with pytest.raises(components.ComponentError, match="not of one split"):
        components.import_components([two[0], three[1], three[2]], tmp_path / "new" / "master.key")


@pytest.mark.parametrize("count", [0, 1, 10])
def test_a_count_outside_two_to_nine_is_refused(master: Path, tmp_path: Path, count: int) -> None:
    with pytest.raises(components.ComponentError, match="must be 2 to 9"):
        components.export_components(master, count, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_export_never_overwrites_a_component_file(master: Path, tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "master-key-component-2-of-2.json").write_text("a custodian's file")
    with pytest.raises(components.ComponentError, match="refusing to overwrite"):
        components.export_components(master, 2, tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["master-key-component-2-of-2.json"]


@pytest.mark.parametrize(
    "text", ["not json", json.dumps({"format": "something else"}), json.dumps({"format": components.FORMAT})]
)
def test_a_file_that_is_not_a_component_is_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "component.json"
    path.write_text(text)
    with pytest.raises(components.ComponentError, match=str(path)):
        components.read_component(path)


@pytest.mark.cli
def test_the_commands_print_check_values_and_never_a_component(master: Path, tmp_path: Path) -> None:
    data_dir = master.parent
    done = subprocess.run(
        [PAYCRYPT, "vault", "export-components", "--count", "2", "--out", str(tmp_path / "out"),
         "--data-dir", str(data_dir)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    files = sorted((tmp_path / "out").iterdir())
    values = [json.loads(p.read_text())["value"] for p in files]
    kcv = oracle_kcv(master.read_bytes())
    assert f"master key KCV {kcv}" in done.stdout
    for path, value in zip(files, values, strict=True):
        assert oracle_kcv(bytes.fromhex(value)) in done.stdout and str(path) in done.stdout
        assert value not in done.stdout.upper() and value.lower() not in done.stdout
    assert master.read_bytes().hex() not in done.stdout.lower()

    new = tmp_path / "new"
    done = subprocess.run(
        [PAYCRYPT, "vault", "import-components", "--data-dir", str(new), *map(str, files)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert f"master key KCV {kcv}" in done.stdout
    assert (new / "master.key").read_bytes() == master.read_bytes()

    _edit(files[0], kcv="000000")
    refused = subprocess.run(
        [PAYCRYPT, "vault", "import-components", "--data-dir", str(tmp_path / "third"), *map(str, files)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert refused.returncode == 1
    assert "does not match its KCV 000000" in refused.stderr
    assert not (tmp_path / "third" / "master.key").exists()
