"""Does `cryptography` release the GIL for each CPU-heavy operation paycrypt does? (issue 13, item 3)

For each operation, three measurements in one process:

- CPU ms per call, one thread (`time.thread_time`): whether it is "heavy" (over ~1 ms).
- wall time of N calls in one thread against N calls in each of two threads: a ratio near 1 means
  the calls ran in parallel (GIL released); near 2 means they were serialised (GIL held). This
  needs a free second core; the machine's other load moves it, so the third figure decides.
- how often a sleeping thread (standing in for the event loop) still woke and ran during each
  call made in another thread, as a share of its idle wake rate: held GIL → near 0 %, released →
  near 100 %. This one decides (see `sleeper_share`).
- the longest that sleeper went without running over all those calls: the stall the event loop
  would see. With the GIL held it is at least one call.

Run: `.venv/bin/python bench/gil_release.py [--calls N]`; figures go to bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import secrets
import statistics
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from paycrypt.crypto import certificates, ecdh, keygen, tr34

NOW = dt.datetime.now(dt.UTC)
OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


def _rsa(bits: int) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def _ca(key: certificates.PrivateKey) -> x509.Certificate:
    return certificates.create_ca(
        key, certificates.service_ca_name("111122223333"), not_before=NOW, validity=dt.timedelta(days=365)
    )


def _leaf(
    public: certificates.PublicKey, ca: x509.Certificate, ca_key: certificates.PrivateKey
) -> x509.Certificate:
    return certificates.issue_certificate(
        public,
        certificates.service_leaf_name("111122223333"),
        ca_certificate=ca,
        ca_private_key=ca_key,
        not_before=NOW,
        validity=dt.timedelta(days=30),
    )


def operations() -> dict[str, tuple[Callable[[], object], int]]:
    """Operation name → (one call, calls per measurement: fewer for the slow ones)."""
    r2048, r4096 = _rsa(2048), _rsa(4096)
    p256, p521 = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP521R1())
    peer256, peer521 = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP521R1())
    der4096 = r4096.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    der2048 = r2048.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    ct2048, ct4096 = r2048.public_key().encrypt(b"k" * 32, OAEP), r4096.public_key().encrypt(b"k" * 32, OAEP)
    ca4096 = _ca(r4096)
    kdh_cert, krd_cert = _leaf(r2048.public_key(), ca4096, r4096), _leaf(r4096.public_key(), ca4096, r4096)
    header = "D0144K0TB00E0000"
    block = tr34.build(
        secrets.token_bytes(16),
        header,
        kdh_certificate=kdh_cert,
        kdh_private_key=r2048,
        krd_certificate=krd_cert,
        signing_time=NOW,
    )
    name = certificates.service_leaf_name("111122223333")
    megabytes = b"x" * (4 << 20)
    return {
        # Controls: a C call known to hold the GIL (sum over a range) and one known to release it
        # (hashlib over more than 2 KiB), so that the table shows what each verdict looks like.
        "control: sum(range(10**5)), holds": (lambda: sum(range(10**5)), 100),
        "control: sha256 of 4 MiB, releases": (lambda: hashlib.sha256(megabytes).digest(), 50),
        "RSA_2048 keygen": (lambda: keygen.generate("RSA_2048"), 6),
        "RSA_4096 keygen": (lambda: keygen.generate("RSA_4096"), 2),
        "ECC P-256 keygen": (lambda: keygen.generate("ECC_NIST_P256"), 200),
        "ECC P-521 keygen": (lambda: keygen.generate("ECC_NIST_P521"), 100),
        "RSA_2048 load PKCS#8": (lambda: serialization.load_der_private_key(der2048, None), 50),
        "RSA_4096 load PKCS#8": (lambda: serialization.load_der_private_key(der4096, None), 20),
        "RSA_4096 load PKCS#8, check skipped (keygen.load_private_key)": (
            lambda: keygen.load_private_key(der4096),
            300,
        ),
        "RSA_2048 sign PKCS1v15": (lambda: r2048.sign(b"m", padding.PKCS1v15(), hashes.SHA256()), 100),
        "RSA_4096 sign PKCS1v15": (lambda: r4096.sign(b"m", padding.PKCS1v15(), hashes.SHA256()), 30),
        "RSA_2048 decrypt OAEP": (lambda: r2048.decrypt(ct2048, OAEP), 100),
        "RSA_4096 decrypt OAEP": (lambda: r4096.decrypt(ct4096, OAEP), 30),
        "RSA_4096 encrypt OAEP (public)": (lambda: r4096.public_key().encrypt(b"k" * 32, OAEP), 300),
        "ECDH P-256": (lambda: ecdh.shared_secret(p256, peer256.public_key()), 300),
        "ECDH P-521": (lambda: ecdh.shared_secret(p521, peer521.public_key()), 100),
        "ECDSA P-521 sign": (lambda: p521.sign(b"m", ec.ECDSA(hashes.SHA512())), 100),
        "certificate sign (RSA_4096 CA)": (lambda: _leaf(r2048.public_key(), ca4096, r4096), 30),
        "certificate verify (RSA_4096 CA)": (lambda: kdh_cert.verify_directly_issued_by(ca4096), 300),
        "CSR sign RSA_4096": (lambda: certificates.build_csr(r4096, name, "SHA256"), 30),
        "TR-34 build (RSA_2048 KDH)": (
            lambda: tr34.build(
                secrets.token_bytes(16),
                header,
                kdh_certificate=kdh_cert,
                kdh_private_key=r2048,
                krd_certificate=krd_cert,
                signing_time=NOW,
            ),
            100,
        ),
        "TR-34 unwrap (RSA_4096 KRD)": (
            lambda: tr34.unwrap(
                block, kdh_certificate=kdh_cert, krd_certificate=krd_cert, krd_private_key=r4096
            ),
            30,
        ),
    }


def _calls(call: Callable[[], object], n: int) -> None:
    for _ in range(n):
        call()


def cpu_ms(call: Callable[[], object], n: int) -> float:
    started = time.thread_time()
    _calls(call, n)
    return (time.thread_time() - started) * 1000 / n


def parallel_ratio(call: Callable[[], object], n: int) -> float:
    """Wall time of n calls in each of two threads ÷ wall time of n calls in one."""
    started = time.perf_counter()
    _calls(call, n)
    one = time.perf_counter() - started
    with ThreadPoolExecutor(2) as pool:
        started = time.perf_counter()
        list(pool.map(lambda _: _calls(call, n), range(2)))
        two = time.perf_counter() - started
    return two / one


SLEEP = 0.0002  # the sleeper's period: well under the 1 ms that makes an operation "heavy"


def sleeper_share(call: Callable[[], object], n: int) -> tuple[float, float]:
    """(median share of its idle wake rate the sleeper kept during a call, its longest stall in ms).

    The sleeper stands in for the event loop: it sleeps SLEEP seconds at a time (releasing the
    GIL, as a loop blocked in epoll does) and needs the GIL back to run each time it wakes. While
    another thread is inside a call that holds the GIL it cannot run at all (share near 0, stall
    at least one call); if the call releases the GIL, it wakes on time (share near 1). A sleeping
    thread is favoured by the OS scheduler on waking, so a busy machine matters less than it does
    for a spinning thread.
    """
    done = threading.Event()
    wakes = 0
    worst = 0.0

    def sleep_loop() -> None:
        nonlocal wakes, worst
        last = time.perf_counter()
        while not done.is_set():
            time.sleep(SLEEP)
            now = time.perf_counter()
            worst = max(worst, now - last)
            last = now
            wakes += 1

    sleeper = threading.Thread(target=sleep_loop)
    sleeper.start()
    try:
        time.sleep(0.1)
        idle_before, started = wakes, time.perf_counter()
        time.sleep(0.2)
        idle_rate = (wakes - idle_before) / (time.perf_counter() - started)
        worst = 0.0
        shares = []
        for _ in range(n):
            before, started = wakes, time.perf_counter()
            call()
            shares.append((wakes - before) / (time.perf_counter() - started) / idle_rate)
    finally:
        done.set()
        sleeper.join()
    return statistics.median(shares), worst * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every operation's call count")
    args = parser.parse_args()
    print(f"switch interval {sys.getswitchinterval() * 1000:.0f} ms")
    columns = (
        "CPU ms/call",
        "2 threads ÷ 1 thread (wall)",
        "sleeper kept",
        "longest sleeper stall ms",
        "GIL",
    )
    print(f"| operation | {' | '.join(columns)} |")
    print("|---|---:|---:|---:|---:|---|")
    for name, (call, n) in operations().items():
        n = max(1, round(n * args.scale))
        call()  # warm
        per_call = cpu_ms(call, n)
        ratio = parallel_ratio(call, n)
        share, stall = sleeper_share(call, n)
        # A call shorter than a few sleeper periods ends before the sleeper could have woken.
        verdict = (
            "too short to tell" if per_call < 3 * SLEEP * 1000 else "released" if share >= 0.1 else "held"
        )
        print(f"| {name} | {per_call:.2f} | {ratio:.2f} | {share:.0%} | {stall:.1f} | {verdict} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
