"""Split knowledge for the file vault: the master key as N XOR components, one per custodian.

No custodian alone learns anything of the key: N-1 components are random and the last is the key
XORed with all of them, so any N-1 components are uniformly random and only all N rebuild it
(PCI PIN's split knowledge; the XOR scheme of ANSI X9.24-1 key components).

Each component file is a small JSON document: which component it is, of how many, the component
in hex, its own key check value and that of the whole key. Check values are AES-CMAC's (the CMAC
of the zero block, leftmost three bytes: `crypto/kcv.py`, as the API's KeyCheckValue for AES), so a
custodian can compare a component against the value written down at the ceremony, and the rebuilt
key against the value of the key that was split. Files are created mode 0600 and never
overwritten. The master key file itself is read and written by vault/local.py (`read_key`,
`install`: crash-safe, never a partial file).
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from functools import reduce
from pathlib import Path

from paycrypt.crypto import kcv
from paycrypt.vault import local

FORMAT = "paycrypt-master-key-component/1"
MIN_COMPONENTS = 2
MAX_COMPONENTS = 9  # one digit in the file names; more custodians than anyone runs a ceremony with


class ComponentError(Exception):
    """Components that cannot be written or do not rebuild the key; the message says which and why."""


@dataclass(frozen=True)
class Component:
    number: int  # 1..count
    count: int
    value: bytes
    master_key_kcv: str

    @property
    def kcv(self) -> str:
        return check_value(self.value)

    def to_json(self) -> dict[str, object]:
        return {
            "format": FORMAT,
            "component": self.number,
            "of": self.count,
            "value": self.value.hex().upper(),
            "kcv": self.kcv,
            "master_key_kcv": self.master_key_kcv,
        }


def check_value(key: bytes) -> str:
    """The AES-CMAC key check value, six hex digits."""
    return kcv.aes_cmac(key).hex().upper()


def split(key: bytes, count: int) -> list[Component]:
    """`key` as `count` components whose XOR is the key."""
    _check_count(count)
    randoms = [secrets.token_bytes(len(key)) for _ in range(count - 1)]
    values = [*randoms, _xor([key, *randoms])]
    whole = check_value(key)
    return [Component(n, count, value, whole) for n, value in enumerate(values, start=1)]


def _check_count(count: int) -> None:
    if not MIN_COMPONENTS <= count <= MAX_COMPONENTS:
        raise ComponentError(
            f"the count of components must be {MIN_COMPONENTS} to {MAX_COMPONENTS}, not {count}"
        )


def combine(components: list[Component]) -> bytes:
    """The key the components rebuild, each checked by its own KCV, the set checked for being one
    whole set (each number once, one count, one key KCV), and the result by the key's KCV."""
    if not components:
        raise ComponentError("no components given")
    counts = {c.count for c in components}
    wholes = {c.master_key_kcv for c in components}
    if len(counts) != 1 or len(wholes) != 1:
        raise ComponentError("the components are not of one split: their counts or master-key KCVs differ")
    count = counts.pop()
    numbers = sorted(c.number for c in components)
    if numbers != list(range(1, count + 1)):
        raise ComponentError(f"a split into {count} needs components 1 to {count} once each, given {numbers}")
    key = _xor([c.value for c in components])
    whole = wholes.pop()
    if check_value(key) != whole:
        raise ComponentError(f"the components rebuild a key whose KCV is {check_value(key)}, not {whole}")
    return key


def export_components(master_key_file: Path, count: int, directory: Path) -> list[tuple[Path, Component]]:
    """Split the key of `master_key_file` into `count` new files in `directory`; none is written
    if any of them exists."""
    _check_count(count)
    if not master_key_file.is_file():
        raise ComponentError(f"no master key file {master_key_file}")
    components = split(local.read_key(master_key_file), count)
    paths = [directory / f"master-key-component-{c.number}-of-{c.count}.json" for c in components]
    existing = [str(p) for p in paths if p.exists()]
    if existing:
        raise ComponentError(f"refusing to overwrite {', '.join(existing)}")
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    for path, component in zip(paths, components, strict=True):
        _write_new(path, json.dumps(component.to_json(), indent=2) + "\n")
    return list(zip(paths, components, strict=True))


def import_components(paths: list[Path], master_key_file: Path) -> str:
    """Rebuild the key from component files and install it as `master_key_file`; its KCV.

    An existing master key file is left as it is: if it holds the same key the import is done
    already, if another key, refused (its blocks would no longer open)."""
    key = combine([read_component(path) for path in paths])
    held = local.install(master_key_file, key)
    if not secrets.compare_digest(held, key):
        raise ComponentError(
            f"{master_key_file} already holds another master key (KCV {check_value(held)}); "
            f"refusing to replace it with the key of KCV {check_value(key)}"
        )
    return check_value(key)


def read_component(path: Path) -> Component:
    """One component file, its value checked against its own KCV."""
    try:
        data = json.loads(path.read_text())
        if data.get("format") != FORMAT:
            raise ComponentError(f"{path} is not a master-key component file ({FORMAT})")
        component = Component(
            int(data["component"]), int(data["of"]), bytes.fromhex(data["value"]), str(data["master_key_kcv"])
        )
        stated = str(data["kcv"]).upper()
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ComponentError(f"cannot read component file {path}: {exc.__class__.__name__} {exc}") from None
    if len(component.value) != local.KEY_BYTES:
        raise ComponentError(
            f"{path}: a component is {local.KEY_BYTES} bytes, this one {len(component.value)}"
        )
    if component.kcv != stated:
        raise ComponentError(f"{path}: component {component.number}'s value does not match its KCV {stated}")
    return component


def _xor(values: list[bytes]) -> bytes:
    return reduce(lambda a, b: bytes(x ^ y for x, y in zip(a, b, strict=True)), values)


def _write_new(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
