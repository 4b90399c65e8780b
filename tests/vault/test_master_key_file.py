"""The master key file (src/paycrypt/vault/local.py): whole or absent after a crash, one key for
servers that start together, and a clear refusal of a file of the wrong size (issue 13, item 4).

The vault never hands out its key: which key a vault holds is told by its `key_id`, the key's
CMAC check value (40 bits), compared with the check value of the file's bytes."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from paycrypt.server import Settings, StartupError, build_app
from paycrypt.vault import local
from paycrypt.vault.blocks import check_value
from paycrypt.vault.local import KEY_BYTES, LocalKeyFileVault

# A child process that creates the master key and is killed with SIGKILL when it reaches `step`
# (the call named is replaced by a self-kill, so the step itself never happens).
CRASH_CHILD = """
import os, signal, sys
from pathlib import Path
from paycrypt.vault import local

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

target, step = Path(sys.argv[1]), sys.argv[2]
owner, name = {
    "write": (os, "fdopen"),  # the temporary file exists, nothing written yet
    "fsync": (os, "fsync"),  # written, not yet fsynced
    "link": (os, "link"),  # fsynced, not yet linked to master.key
    "unlink": (os, "unlink"),  # linked, the temporary file not yet removed
    "directory fsync": (local, "fsync_directory"),  # unlinked, the directory not yet fsynced
}[step]
setattr(owner, name, die)
local.LocalKeyFileVault(target)
"""
STEPS = ("write", "fsync", "link", "unlink", "directory fsync")


def leftovers(directory: Path) -> list[Path]:
    return sorted(directory.glob(f".master.key.*{local.TEMP_SUFFIX}"))


def test_first_start_creates_a_private_key_and_later_starts_read_it(tmp_path: Path) -> None:
    path = tmp_path / "data" / "master.key"
    vault = LocalKeyFileVault(path)
    key = path.read_bytes()
    assert len(key) == KEY_BYTES and vault.key_id == check_value(key)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.stat().st_nlink == 1  # the temporary name is gone
    assert leftovers(path.parent) == []
    assert LocalKeyFileVault(path).key_id == vault.key_id


@pytest.mark.parametrize("step", STEPS)
def test_a_crash_at_any_step_never_blocks_the_next_start(tmp_path: Path, step: str) -> None:
    path = tmp_path / "master.key"
    child = subprocess.run([sys.executable, "-c", CRASH_CHILD, str(path), step], capture_output=True)
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()
    crashed_with = path.read_bytes() if path.exists() else None
    # The crash left master.key whole or absent (never empty, never short), plus the temporary file.
    assert crashed_with is None or len(crashed_with) == KEY_BYTES
    assert (crashed_with is not None) == (step in ("unlink", "directory fsync"))
    assert len(leftovers(tmp_path)) == (step != "directory fsync")

    vault = LocalKeyFileVault(path)
    key = path.read_bytes()
    assert len(key) == KEY_BYTES and vault.key_id == check_value(key)
    if crashed_with is not None:
        assert key == crashed_with  # a key that was linked is the key from then on
    assert leftovers(tmp_path) == []  # the next start removes what the crash left
    assert LocalKeyFileVault(path).key_id == vault.key_id


def test_a_lost_link_race_reads_the_winners_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another server links its key between our check and our link: ours is dropped, theirs used."""
    path = tmp_path / "master.key"
    real_link = os.link
    winner: list[str] = []

    def link_after_another_server(source: Path, target: Path) -> None:
        monkeypatch.setattr(os, "link", real_link)
        winner.append(LocalKeyFileVault(path).key_id)  # the other server, start to finish
        real_link(source, target)

    monkeypatch.setattr(os, "link", link_after_another_server)
    assert LocalKeyFileVault(path).key_id == winner[0] == check_value(path.read_bytes())
    assert leftovers(tmp_path) == []


def test_a_creator_whose_temporary_file_was_removed_reads_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other server links first and then removes our temporary file as a leftover."""
    path = tmp_path / "master.key"
    real_link = os.link
    winner: list[str] = []

    def link_after_another_server(source: Path, target: Path) -> None:
        monkeypatch.setattr(os, "link", real_link)
        winner.append(LocalKeyFileVault(path).key_id)
        assert not Path(source).exists()
        real_link(source, target)

    monkeypatch.setattr(os, "link", link_after_another_server)
    assert LocalKeyFileVault(path).key_id == winner[0] == check_value(path.read_bytes())


def _start_together(path: Path, count: int) -> list[str]:
    barrier = threading.Barrier(count)
    keys: list[str] = []

    def start() -> None:
        barrier.wait()
        keys.append(LocalKeyFileVault(path).key_id)

    threads = [threading.Thread(target=start) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return keys


def test_threads_starting_together_all_get_one_key(tmp_path: Path) -> None:
    for round_number in range(20):
        path = tmp_path / str(round_number) / "master.key"
        keys = _start_together(path, 8)
        assert len(keys) == 8 and len(set(keys)) == 1, round_number
        assert keys[0] == check_value(path.read_bytes())
        assert leftovers(path.parent) == []


RACE_CHILD = """
import sys, time
from pathlib import Path
from paycrypt.vault.local import LocalKeyFileVault

target, go = Path(sys.argv[1]), Path(sys.argv[2])
while not go.exists():
    time.sleep(0.0005)
print(LocalKeyFileVault(target).key_id)
"""


def test_processes_starting_together_all_get_one_key(tmp_path: Path) -> None:
    path, go = tmp_path / "data" / "master.key", tmp_path / "go"
    children = [
        subprocess.Popen([sys.executable, "-c", RACE_CHILD, str(path), str(go)], stdout=subprocess.PIPE)
        for _ in range(8)
    ]
    time.sleep(1.0)  # every child imported and polling
    go.touch()
    keys = {child.communicate(timeout=60)[0].decode().strip() for child in children}
    assert all(child.returncode == 0 for child in children)
    assert keys == {check_value(path.read_bytes())}
    assert leftovers(path.parent) == []


@pytest.mark.parametrize("content", [b"", b"\x01" * 16, b"\x01" * 33])
def test_a_key_file_of_the_wrong_size_is_refused_naming_the_file(tmp_path: Path, content: bytes) -> None:
    """An empty file (what a crash left before item 4) gets the same message as any wrong size."""
    path = tmp_path / "master.key"
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(ValueError, match=f"master key file {path} must hold exactly 32 bytes"):
        LocalKeyFileVault(path)
    assert path.read_bytes() == content  # never replaced: keys may be sealed under it


def test_the_server_refuses_to_start_on_an_empty_key_file(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    (data_dir / "master.key").touch(mode=0o600)
    with pytest.raises(StartupError, match=r"master\.key must hold exactly 32 bytes \(it holds 0\)"):
        build_app(Settings(port=1, data_dir=data_dir))
