"""What an EMV terminal sends for an M/Chip (Mastercard CVN16/17) ARQC, for the tests that check
paycrypt against pyemv's MasterCardCVN16 card (tests/api/test_emv.py, tests/service/issuer/test_emv.py).
"""

from __future__ import annotations


def mchip_cdol1(un: bytes, atc: bytes, amount: bytes = bytes(6)) -> list[bytes]:
    """The card's CDOL1 data elements in order, as pyemv's MasterCardCVN16.generate_ac takes them:
    amount authorised, amount other, terminal country 0840, TVR, currency 0840, transaction date
    240101, type 00, unpredictable number, AIP 3800, ATC, CVR (zeros)."""
    return [
        amount,
        bytes(6),
        b"\x08\x40",
        bytes(5),
        b"\x08\x40",
        b"\x24\x01\x01",
        b"\x00",
        un,
        b"\x38\x00",
        atc,
        bytes(6),
    ]


def method2_padded(data: bytes) -> bytes:
    """ISO 9797-1 padding method 2 (80 then zeros to a multiple of 8): M/Chip's caller pads."""
    return data + b"\x80" + bytes(-(len(data) + 1) % 8)
