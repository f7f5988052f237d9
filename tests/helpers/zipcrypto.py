"""A tiny ZIP writer with traditional PKWARE encryption (ZipCrypto), the scheme of the official
GPQA ``dataset.zip``. Python's ``zipfile`` reads such archives (``pwd=``) but cannot write them,
and the ``zip`` tool is not on every machine, so tests build their encrypted zips with this.

ZipCrypto is weak cryptography; it is here only to reproduce the real file's format.
Format: PKWARE APPNOTE.TXT, sections 4.3 (layout) and 6.1 (traditional encryption).
"""

from __future__ import annotations

import random
import struct
import zlib
from pathlib import Path

_CRC_TABLE = []
for _n in range(256):
    _c = _n
    for _ in range(8):
        _c = (_c >> 1) ^ 0xEDB88320 if _c & 1 else _c >> 1
    _CRC_TABLE.append(_c)

_DOS_TIME, _DOS_DATE = 0, (2024 - 1980) << 9 | 1 << 5 | 1  # 2024-01-01 00:00, fixed: reproducible bytes


def _crc_byte(crc: int, byte: int) -> int:
    return (crc >> 8) ^ _CRC_TABLE[(crc ^ byte) & 0xFF]


class _Cipher:
    """APPNOTE 6.1.5: three 32-bit keys, updated with every plain byte."""

    def __init__(self, password: bytes):
        self.k0, self.k1, self.k2 = 0x12345678, 0x23456789, 0x34567890
        for byte in password:
            self._update(byte)

    def _update(self, byte: int) -> None:
        self.k0 = _crc_byte(self.k0, byte)
        self.k1 = ((self.k1 + (self.k0 & 0xFF)) * 134775813 + 1) & 0xFFFFFFFF
        self.k2 = _crc_byte(self.k2, self.k1 >> 24)

    def encrypt(self, data: bytes) -> bytes:
        out = bytearray()
        for byte in data:
            temp = (self.k2 | 2) & 0xFFFF
            out.append(byte ^ ((temp * (temp ^ 1)) >> 8) & 0xFF)
            self._update(byte)
        return bytes(out)


def write_encrypted_zip(path: Path, members: dict[str, bytes], password: bytes, seed: int = 0) -> Path:
    """Write ``members`` (name -> bytes), deflated and encrypted with ``password``, to ``path``."""
    rng = random.Random(seed)  # the 11 random header bytes: seeded, so the file is reproducible
    local, central = bytearray(), bytearray()
    for name, data in members.items():
        raw_name = name.encode("utf-8")
        crc = zlib.crc32(data) & 0xFFFFFFFF
        packer = zlib.compressobj(9, zlib.DEFLATED, -15)
        compressed = packer.compress(data) + packer.flush()
        cipher = _Cipher(password)
        # APPNOTE 6.1.6: a 12-byte header whose last byte is the CRC's high byte (the password check).
        header = bytes(rng.randrange(256) for _ in range(11)) + bytes([crc >> 24])
        body = cipher.encrypt(header + compressed)
        offset = len(local)
        fields = (20, 0x0001, 8, _DOS_TIME, _DOS_DATE, crc, len(body), len(data), len(raw_name), 0)
        local += struct.pack("<IHHHHHIIIHH", 0x04034B50, *fields) + raw_name + body
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0x0001, 8, _DOS_TIME, _DOS_DATE,
                               crc, len(body), len(data), len(raw_name), 0, 0, 0, 0, 0, offset) + raw_name
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), len(local), 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(local + central + end))
    return path
