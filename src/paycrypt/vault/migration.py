"""Moving every key block from one vault to another (the file vault to a PKCS#11 token, or back),
and how a running server follows the move.

A migration is master-key rotation with two vaults: `paycrypt vault migrate` re-seals each block,
read under the source, under the target (jobs/rotation.py's loop, resumable and compare-and-set
per block). What is new is that a server started with the source must open blocks the command has
already re-sealed under the target, and must seal new keys under the target, or the migration
would never end. So the command first writes a marker in the data directory, `vault-migration.json`,
naming both vaults (where each key is and where its PIN comes from; never a PIN), and:

- every server wraps its own vault in `ServingVault`: while a marker names its vault as one end of
  a migration, it opens the other end too (`Either`), unseals a block under whichever of the two
  holds the master key the block names, and seals under the target. It reads the marker when its
  block follower refreshes the vault (every second) and when a block names a master key it does not
  hold, which is how it meets the first block the command re-sealed;
- it seals new keys under the source until the migration is *admitted*: the command records the
  target's check value in the store (`MasterKeyRecords.record_migration_target`) pending, then
  admitted once every live server reports holding it (jobs/holdings.py), and every server reads
  that at each refresh. So on several nodes no server seals a key under the target before every
  node can open it; a node gets the marker by a copy into its data directory
  (docs/key-protection.md). A server with no store to ask (a test's) seals under the target at once;
- the marker stays after the migration ends, marked finished: a server still running with the
  source then goes on sealing under the target until it is restarted with the target vault (which
  ignores a finished marker: it never needs the old vault again, whose key may then be removed).
  A later migration (back, say) replaces the marker.

A server that cannot open the other end (its PIN is not in the server's environment or file) logs
why on each attempt and serves what its own vault opens; the command's docs say to check this
before migrating.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from paycrypt.files import fsync_directory
from paycrypt.store.base import MasterKeyRecords
from paycrypt.store.records import Holding, KeyRecord
from paycrypt.vault import blocks, factory
from paycrypt.vault.base import MasterKeyVersion, Vault
from paycrypt.vault.factory import VaultSettings

log = logging.getLogger("paycrypt")

MARKER = "vault-migration.json"
FORMAT = "paycrypt-vault-migration/1"


@dataclass(frozen=True)
class Migration:
    source: VaultSettings
    target: VaultSettings
    finished: bool = False

    def other_end(self, own: VaultSettings) -> VaultSettings | None:
        """The vault a server on `own` must open too: the target while it runs the source; the
        source while it runs the target and the migration is unfinished; else none."""
        if same_vault(own, self.source):
            return self.target
        if same_vault(own, self.target) and not self.finished:
            return self.source
        return None


def same_vault(a: VaultSettings, b: VaultSettings) -> bool:
    """Whether two settings name the same master keys (the PIN's source does not matter)."""
    if a.kind != b.kind:
        return False
    return a.kind == factory.FILE or (a.module, a.token_label, a.key_label) == (
        b.module,
        b.token_label,
        b.key_label,
    )


def _settings_json(settings: VaultSettings) -> dict[str, Any]:
    return {
        name: (str(value) if isinstance(value, Path) else value) for name, value in asdict(settings).items()
    }


def _settings(value: dict[str, Any]) -> VaultSettings:
    paths = {"module", "pin_file"}
    fields = {name: (Path(v) if name in paths and v is not None else v) for name, v in value.items()}
    return VaultSettings(**fields)


def read(data_dir: Path) -> Migration | None:
    """The data directory's migration marker; None if there is none. ValueError if unreadable."""
    try:
        value = json.loads((data_dir / MARKER).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read the vault migration marker {data_dir / MARKER}: {exc}") from None
    if value.get("format") != FORMAT:
        raise ValueError(f"{data_dir / MARKER} is not a vault migration marker ({FORMAT})")
    return Migration(_settings(value["source"]), _settings(value["target"]), bool(value.get("finished")))


def write(data_dir: Path, migration: Migration) -> None:
    """Write the marker whole (a temporary file, fsynced, renamed into place)."""
    body = {
        "format": FORMAT,
        "source": _settings_json(migration.source),
        "target": _settings_json(migration.target),
        "finished": migration.finished,
    }
    path = data_dir / MARKER
    temporary = path.with_name(f".{MARKER}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(json.dumps(body, indent=2) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    fsync_directory(data_dir)


def holds(vault: Vault, key_id: str) -> bool:
    return any(version.key_id == key_id for version in vault.versions())


class Either:
    """Two vaults as one: seals under `target` (under `source` while not `seal_target`: a
    migration not yet admitted), unseals a block under whichever vault holds the master key it
    names (the source first for a block that names none, written before KP)."""

    def __init__(self, source: Vault, target: Vault, seal_target: bool = True) -> None:
        self.source = source
        self.target = target
        self.sealing = target if seal_target else source

    @property
    def key_id(self) -> str:
        return self.sealing.key_id

    def seal(self, record: KeyRecord, material: bytes) -> str:
        return self.sealing.seal(record, material)

    def unseal(self, record: KeyRecord, block: str) -> bytes:
        return self.holder(block).unseal(record, block)

    def holder(self, block: str) -> Vault:
        """The vault that holds the master key `block` names; the source if neither does (whose
        unseal then says so, after re-reading its own set)."""
        named = blocks.sealed_under(block)
        if named is not None and holds(self.target, named):
            return self.target
        return self.source

    def sealed_by(self, block: str) -> str:
        return self.holder(block).sealed_by(block)

    def reseal(self, record: KeyRecord, block: str) -> str:
        return self.seal(record, self.unseal(record, block))

    def versions(self) -> list[MasterKeyVersion]:
        """The target's versions: the ones new blocks go under."""
        return self.target.versions()

    def refresh(self) -> None:
        self.source.refresh()
        self.target.refresh()


Opener = Callable[[VaultSettings, Path], Vault]


class ServingVault:
    """A server's vault: `own` (the one it was started with), joined by the other end of a
    migration while the data directory's marker names one (see the module's docstring).

    It seals under the newest version of its own that the store has admitted (`records`: a
    rotation records its new version pending until every live node holds it, jobs/holdings.py),
    not merely the newest it holds: a node given `master.key.N` early must not seal keys that
    the nodes still without it cannot open. It reads the store's admitted version at start and at
    every `refresh` (the change follower's step, every half second)."""

    def __init__(
        self,
        own: Vault,
        settings: VaultSettings,
        data_dir: Path,
        opener: Opener,
        records: MasterKeyRecords | None = None,
    ) -> None:
        self.own = own
        self.settings = settings
        self.data_dir = data_dir
        self._open = opener
        self._records = records
        self._admitted: int | None = None if records is None else records.sealing_version()
        self._migration_admitted = self._admitted_migration()
        self._lock = threading.Lock()
        self._marker: tuple[float, int] | None = None  # (mtime, size) of the marker last read
        self._migration: Migration | None = None
        self._other: Vault | None = None
        self._other_settings: VaultSettings | None = None
        self._follow_marker()

    @property
    def active(self) -> Vault:
        """The vault that seals and unseals now: `own`, or own and the other end together."""
        migration, other = self._migration, self._other
        if migration is None or other is None:
            return self.own
        own_is_source = same_vault(self.settings, migration.source)
        source, target = (self.own, other) if own_is_source else (other, self.own)
        admitted = self._migration_admitted
        seal_target = self._records is None or (admitted is not None and holds(target, admitted))
        return Either(source, target, seal_target)

    @property
    def key_id(self) -> str:
        vault = self.active
        sealing = self._sealing_version() if vault is self.own else None
        return vault.key_id if sealing is None else sealing.key_id

    def seal(self, record: KeyRecord, material: bytes) -> str:
        vault = self.active
        sealing = self._sealing_version() if vault is self.own else None
        if sealing is None:
            return vault.seal(record, material)
        return vault.seal(record, material, sealing.version)  # type: ignore[call-arg]

    def _sealing_version(self) -> MasterKeyVersion | None:
        """The newest own version the store admits, when that is not the newest held (None: seal
        under the newest). A node holding no version up to the admitted one seals under its newest
        (agreement at start made sure it holds the store's newest)."""
        admitted, held = self._admitted, self.own.versions()
        if admitted is None or held[-1].version <= admitted:
            return None
        allowed = [version for version in held if version.version <= admitted]
        return allowed[-1] if allowed else None

    def held(self) -> tuple[Holding, ...]:
        """Every master key this server can open blocks under (its own, and a migration's other
        end), as its heartbeat reports them (jobs/heartbeat.py): the set is re-read first (a
        `listdir`, or a listing of the token, every heartbeat interval and off the event loop), so
        that a beat says what the vault holds at that moment."""
        for vault in _members(self.active):
            vault.refresh()
        return tuple(
            Holding(version.version, version.key_id)
            for vault in _members(self.active)
            for version in vault.versions()
        )

    def unseal(self, record: KeyRecord, block: str) -> bytes:
        vault = self.active
        named = blocks.sealed_under(block)
        if named is not None and not any(holds(v, named) for v in _members(vault)):
            self._follow_marker()  # the first block a migration re-sealed: read the marker now
            vault = self.active
        return vault.unseal(record, block)

    def sealed_by(self, block: str) -> str:
        return self.active.sealed_by(block)

    def reseal(self, record: KeyRecord, block: str) -> str:
        return self.seal(record, self.unseal(record, block))

    def versions(self) -> list[MasterKeyVersion]:
        """Its own vault's versions (a migration's other end has versions of its own numbering)."""
        return self.own.versions()

    def refresh(self) -> None:
        self.own.refresh()
        if self._other is not None:
            self._other.refresh()
        self._follow_marker()
        if self._records is not None:
            self._admitted = self._records.sealing_version()
            self._migration_admitted = self._admitted_migration()

    def _admitted_migration(self) -> str | None:
        """The check value of the target of the store's admitted migration, if there is one."""
        found = None if self._records is None else self._records.migration_target()
        return found[0] if found is not None and found[1] else None

    def _follow_marker(self) -> None:
        """Read the marker if it changed; open the other end it names (again after a failure)."""
        with self._lock:
            try:
                stat = (self.data_dir / MARKER).stat()
                seen: tuple[float, int] | None = (stat.st_mtime, stat.st_size)
            except FileNotFoundError:
                seen = None
            if seen != self._marker:
                try:
                    self._migration = read(self.data_dir)
                except ValueError as exc:
                    log.error("%s", exc)
                    return
                self._marker = seen
            wanted = None if self._migration is None else self._migration.other_end(self.settings)
            if wanted is None or wanted != self._other_settings:
                self._other = self._other_settings = None
            if wanted is None or self._other is not None:
                return
            try:
                self._other = self._open(wanted, self.data_dir)
            except (factory.VaultUnavailable, ValueError, PermissionError) as exc:
                log.error(
                    "vault migration: cannot open %s (%s); blocks sealed under it fail on this server",
                    wanted.describe(self.data_dir),
                    exc,
                )
                return
            self._other_settings = wanted
            log.info("vault migration: also using %s", wanted.describe(self.data_dir))


def _members(vault: Vault) -> tuple[Vault, ...]:
    return (vault.source, vault.target) if isinstance(vault, Either) else (vault,)


def open_serving_vault(
    settings: VaultSettings, data_dir: Path, records: MasterKeyRecords | None = None
) -> ServingVault:
    """The vault a server serves with: the one `settings` name, following migrations and the
    store's admitted master-key version (see above)."""
    own = factory.open_vault(settings, data_dir)
    return ServingVault(own, settings, data_dir, _open_other_end, records)


def _open_other_end(settings: VaultSettings, data_dir: Path) -> Vault:
    """A migration's other end, never a new master key file: on a node where the target's
    `master.key` has not been copied yet, a new one would be a key no other node holds."""
    return factory.open_vault(settings, data_dir, create=False)
