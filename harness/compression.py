"""Files written compressed as a run goes, and read back whatever they are.

A run writes its history as zstd (bench/compression.py measured it against gzip: a
better ratio at less CPU, and several times faster to read). `Appender` writes one
stream to a file, compressing each piece it is given and ending a compressed block after
it (zstd FLUSH_BLOCK, gzip Z_SYNC_FLUSH), straight to the OS: whatever was written
before the harness is killed can be decompressed, though the stream has no end.

`open_decompressed` reads a file by what its first bytes are, not its name: zstd, gzip,
or anything else as it is (old run directories, hand-written histories). Its reader
tolerates a stream without its end (that is what a killed writer leaves) and reads
concatenated frames or members (`cat a.zst b.zst`); damaged data, or bytes after the
compressed data that are not another frame, raise `CompressedDataError` (a ValueError)
naming the codec and the byte offset.
"""

from __future__ import annotations

import io
import os
import zlib
from typing import Any, BinaryIO

import zstandard

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_LEVEL = 1         # bench/compression.py: a better ratio than 3 to 12, and faster
#: A file written once at the end (final.json): its sets of integers compress 60x at level
#: 6 against 5x at level 1 (8 MB of a 30 s set run in 0.03 s).
ZSTD_WHOLE_FILE_LEVEL = 6
GZIP_LEVEL = 6

#: Compressed bytes fed to the decompressor at a time. It bounds what one feed can
#: expand to (zstd turns 4 bytes into at most 128 KiB, gzip 1 byte into about 1 KiB),
#: so a small file that expands to gigabytes is read a slice at a time, never held.
FEED = {"zstd": 2 << 10, "gzip": 32 << 10}


class CompressedDataError(ValueError):
    """The compressed data cannot be decompressed; the message says where."""


def codec_of_name(path: str | os.PathLike) -> str | None:
    """The codec a new file of this name is written with: by its suffix."""
    name = os.fspath(path)
    return "zstd" if name.endswith(".zst") else "gzip" if name.endswith(".gz") else None


def codec_of_bytes(head: bytes) -> str | None:
    """The codec of a file that starts with `head` (None: not compressed)."""
    return "zstd" if head.startswith(ZSTD_MAGIC) else "gzip" if head.startswith(GZIP_MAGIC) else None


def _compressor(codec: str, level: int) -> Any:
    if codec == "zstd":
        return zstandard.ZstdCompressor(level=level).compressobj()
    return zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)    # wbits 31: a gzip member


def _decompressor(codec: str) -> Any:
    if codec == "zstd":
        return zstandard.ZstdDecompressor().decompressobj()
    return zlib.decompressobj(31)


class Appender:
    """Writes a stream to `path` (created; an existing file is refused: a compressed
    stream cannot be resumed), compressed by the path's suffix (.zst, .gz) or plain.

    `write(data)` compresses data, ends a block and hands the bytes to the OS (no
    buffer of ours: a killed process loses nothing it wrote). `close()` ends the stream
    and syncs it to disk. Not thread-safe: one writer at a time."""

    def __init__(self, path: str | os.PathLike, zstd_level: int = ZSTD_LEVEL):
        self.path = os.fspath(path)
        self.codec = codec_of_name(self.path)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        self._c = _compressor(self.codec, zstd_level) if self.codec else None

    def write(self, data: bytes) -> None:
        if self._c is None:
            self._write(data)
        elif self.codec == "zstd":
            self._write(self._c.compress(data) + self._c.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK))
        else:
            self._write(self._c.compress(data) + self._c.flush(zlib.Z_SYNC_FLUSH))

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view):]

    def close(self) -> None:
        if self._fd < 0:
            return
        try:
            if self.codec == "zstd":
                self._write(self._c.flush(zstandard.COMPRESSOBJ_FLUSH_FINISH))
            elif self.codec == "gzip":
                self._write(self._c.flush())
            os.fsync(self._fd)
        finally:
            os.close(self._fd)
            self._fd = -1


def write_file(path: str | os.PathLike, data: bytes) -> None:
    """The whole file at once, compressed by its name's suffix (replacing any file there)."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    out = Appender(path, ZSTD_WHOLE_FILE_LEVEL)
    try:
        out.write(data)
    finally:
        out.close()


class _Decompressing(io.RawIOBase):
    """The decompressed bytes of a compressed file, read in slices (see the module);
    with codec None, the bytes of a plain one that cannot seek back over its head."""

    def __init__(self, fh: BinaryIO, codec: str | None, head: bytes):
        self._fh, self._codec, self._feed = fh, codec, FEED.get(codec, 1 << 20)
        self._d: Any = _decompressor(codec) if codec else None
        self._pending = head    # input read but not yet fed (the magic; after a frame's end)
        self._offset = 0        # bytes of the file fed to a decompressor so far
        self._out, self._pos = b"", 0
        self._eof = False

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while self._pos >= len(self._out) and not self._eof:
            self._out, self._pos = self._fill(), 0
        n = min(len(b), len(self._out) - self._pos)
        b[:n] = self._out[self._pos:self._pos + n]
        self._pos += n
        return n

    def _fill(self) -> bytes:
        data = self._pending or self._fh.read(self._feed)
        self._pending = b""
        if self._codec is None:      # not compressed: the bytes as they are
            self._eof = not data
            return data
        if self._d is None:     # after a frame's end: another frame, or nothing
            if not data:
                self._eof = True
                return b""
            while len(data) < 4 and (more := self._fh.read(self._feed)):
                data += more
            if codec_of_bytes(data) != self._codec:
                raise CompressedDataError(f"damaged {self._codec} data: bytes after its end "
                                          f"(at byte {self._offset}) that are not more of it")
            self._d = _decompressor(self._codec)
        if not data:
            self._eof = True     # no end of stream: a writer killed mid-run
            return b""
        try:
            out = self._d.decompress(data)
        except (zstandard.ZstdError, zlib.error) as e:
            raise CompressedDataError(f"damaged {self._codec} data near byte {self._offset} "
                                      f"({e})") from None
        if self._d.eof:
            self._pending = self._d.unused_data
            self._d = None
        self._offset += len(data) - len(self._pending)
        return out

    def close(self) -> None:
        self._fh.close()
        super().close()


def open_decompressed(path: str | os.PathLike) -> BinaryIO:
    """A binary reader of the file's content: decompressed if it starts with zstd's or
    gzip's magic bytes, else the file itself. Raises OSError if it cannot be opened;
    reads raise CompressedDataError on damaged data. The reader's `codec` says which."""
    fh = open(path, "rb", buffering=0)
    try:
        head = fh.read(4)
        codec = codec_of_bytes(head)
        if codec is not None:
            reader: Any = _Decompressing(fh, codec, head)
        elif fh.seekable():
            fh.seek(0)
            reader = fh
        else:           # a pipe: what was read to look at is given back first
            reader = _Decompressing(fh, None, head)
    except BaseException:
        fh.close()
        raise
    reader.codec = codec
    return reader


def read_bytes(path: str | os.PathLike, limit: int | None = None) -> bytes:
    """The whole decompressed content (at most `limit` + 1 bytes, to tell that it is longer)."""
    with open_decompressed(path) as fh:
        return _read_all(fh, limit)


def _read_all(fh: BinaryIO, limit: int | None) -> bytes:
    parts, n = [], 0
    while limit is None or n <= limit:
        chunk = fh.read(1 << 20 if limit is None else min(1 << 20, limit + 1 - n))
        if not chunk:
            break
        parts.append(chunk)
        n += len(chunk)
    return b"".join(parts)
