"""AEDAT4 recordings (DAVIS cameras, DV software) into hnn_fast's event format and APS frames.

Decoding goes through the optional `aedat` package (`pip install aedat`, or the `aedat` extra);
only read_aedat4 needs it. Events come back as :data:`hnn_fast.data.EVENT_DTYPE` arrays (x, y, t in
microseconds, p with True = ON), ready for :func:`hnn_fast.data.bin_events`; APS frames as
``[F, H, W]`` grayscale arrays with their timestamps, as the HSN's "what" pathway takes them.
write_aedat4 writes events (uncompressed, no frames) without the package, so that synthetic
recordings can be handed to AEDAT4 tools and the reader tested offline.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import Any, Union

import numpy as np

from .events import _check_events, make_events

PathLike = Union[str, "os.PathLike[str]"]


@dataclass
class Aedat4Recording:
    """events: every polarity event, sorted by time; frames [F, H, W] (uint8, or uint16 for 16-bit
    APS frames) and frame_t_us [F] (the middle of each exposure); width/height of the event sensor."""

    events: np.ndarray
    frames: np.ndarray
    frame_t_us: np.ndarray
    width: int
    height: int


def _import_aedat() -> Any:
    try:
        import aedat
    except ImportError:
        raise ImportError(
            "read_aedat4 needs the optional package 'aedat' to decode AEDAT4 files: "
            "pip install aedat (or hnn-fast[aedat])"
        ) from None
    return aedat


def _gray(frame: dict[str, Any]) -> np.ndarray:
    pixels = np.asarray(frame["pixels"])
    if pixels.ndim == 2:
        return pixels
    # Colour DAVIS sensors: ITU-R BT.601 luma, kept in the recording's integer type.
    luma = pixels[..., 0] * 0.299 + pixels[..., 1] * 0.587 + pixels[..., 2] * 0.114
    return np.rint(luma).astype(pixels.dtype)


def read_aedat4(path: PathLike, *, decoder: Any = None) -> Aedat4Recording:
    """Reads every event and frame stream of an AEDAT4 file. ``decoder`` replaces
    ``aedat.Decoder(path)`` (any object with ``id_to_stream()`` that iterates packets the same way)."""
    if decoder is None:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"read_aedat4: path {os.fspath(path)!r} is not a file")
        aedat = _import_aedat()
        check_aedat4_container(path)
        try:
            return _read(path, aedat.Decoder(os.fspath(path)))
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as e:  # the decoder's PanicException is a BaseException
            if isinstance(e, ValueError) and str(e).startswith("read_aedat4:"):
                raise
            reason = " ".join(str(e).split()) or type(e).__name__
            name = os.fspath(path)
            raise ValueError(f"read_aedat4: {name!r} is not a valid AEDAT4 file ({reason})") from None
    return _read(path, decoder)


def _read(path: PathLike, decoder: Any) -> Aedat4Recording:
    streams = decoder.id_to_stream()
    event_streams = {i: s for i, s in streams.items() if s.get("type") == "events"}
    if not event_streams:
        raise ValueError(f"read_aedat4: {os.fspath(path)!r} has no event stream (streams: {streams})")
    first = next(iter(event_streams.values()))
    width, height = int(first["width"]), int(first["height"])
    chunks, frames, frame_t = [], [], []
    for packet in decoder:
        if "events" in packet and packet["stream_id"] in event_streams:
            chunks.append(packet["events"])
        elif "frame" in packet:
            f = packet["frame"]
            frames.append(_gray(f))
            begin, end = f.get("exposure_begin_t", f["t"]), f.get("exposure_end_t", f["t"])
            frame_t.append((int(begin) + int(end)) // 2)
    if chunks:
        ev = np.concatenate(chunks)
        order = np.argsort(ev["t"], kind="stable")
        ev = ev[order]
        events = make_events(ev["x"], ev["y"], ev["t"].astype(np.int64), ev["on"])
    else:
        events = make_events([], [], [], [])
    if frames and len({fr.shape for fr in frames}) > 1:
        raise ValueError(
            f"read_aedat4: frames of different sizes in {os.fspath(path)!r}: "
            f"{sorted({fr.shape for fr in frames})}"
        )
    stacked = np.stack(frames) if frames else np.zeros((0, height, width), dtype=np.uint8)
    return Aedat4Recording(events, stacked, np.asarray(frame_t, dtype=np.int64), width, height)


_MAGIC = b"#!AER-DAT4.0\r\n"


def check_aedat4_container(path: PathLike) -> None:
    """Checks the framing the decoder trusts before it reads a byte: the magic, a header that fits the
    file and whose description is UTF-8 (the decoder aborts the process on one bad byte there), and
    packets whose sizes fit the file (a declared 4 GB header or packet is not allocated)."""
    name = os.fspath(path)

    def bad(why: str) -> ValueError:
        return ValueError(f"read_aedat4: {name!r} is not a valid AEDAT4 file ({why})")

    size = os.path.getsize(path)
    with open(path, "rb") as f:
        if f.read(len(_MAGIC)) != _MAGIC:
            raise bad("no AEDAT4 magic line at its start")
        (length,) = struct.unpack("<I", f.read(4).ljust(4, b"\0"))
        start = len(_MAGIC) + 4
        if not 8 <= length <= size - start:
            raise bad(f"a header of {length} bytes in a file of {size}")
        _check_description(f.read(length), bad)
        position = start + length
        while position < size:
            head = f.read(8)
            if len(head) < 8:
                raise bad(f"a truncated packet header at byte {position}")
            _, packet = struct.unpack("<iI", head)
            if packet > size - position - 8:
                raise bad(f"a packet of {packet} bytes at byte {position} runs past the end of the file")
            f.seek(packet, os.SEEK_CUR)
            position += 8 + packet


def _check_description(header: bytes, bad) -> None:
    # The IOHeader flatbuffer: root table offset; the table's vtable; field 2 the description string.
    def u32(at: int) -> int:
        if not 0 <= at <= len(header) - 4:
            raise bad("a header whose offsets point outside it")
        return struct.unpack_from("<I", header, at)[0]

    table = u32(0)
    vtable = table - struct.unpack("<i", struct.pack("<I", u32(table)))[0]
    if not 0 <= vtable <= len(header) - 4:
        raise bad("a header whose offsets point outside it")
    vt_size = struct.unpack_from("<H", header, vtable)[0]
    if vt_size <= 8 or vtable + 10 > len(header):
        return  # no description field
    field = struct.unpack_from("<H", header, vtable + 8)[0]
    if field == 0:
        return
    at = table + field
    string = at + u32(at)
    length = u32(string)
    if length > len(header) - string - 4:
        raise bad("a header description longer than the header")
    try:
        header[string + 4 : string + 4 + length].decode("utf-8")
    except UnicodeDecodeError as e:
        raise bad(f"a header description that is not UTF-8 ({e})") from None


# The flatbuffers Event struct: int64 t, int16 x, int16 y, bool on, padded to 16 bytes.
_EVENT = np.dtype(
    {
        "names": ["t", "x", "y", "on"],
        "formats": ["<i8", "<i2", "<i2", "?"],
        "offsets": [0, 8, 10, 12],
        "itemsize": 16,
    }
)


def _ioheader(description: bytes) -> bytes:
    """Ioheader flatbuffer (compression None, no file data table, the XML description), laid out
    by hand: root offset, "IOHE", vtable at 8, table at 24, string at 44."""
    vtable = struct.pack("<5H", 10, 20, 4, 8, 16)
    table = struct.pack("<iiqI", 24 - 8, 0, -1, 44 - 40)
    buf = struct.pack("<I", 24) + b"IOHE" + vtable + b"\0" * 6 + table
    return buf + struct.pack("<I", len(description)) + description + b"\0"


def _event_packet(events: np.ndarray) -> bytes:
    """Size-prefixed EventPacket flatbuffer; offsets count from the buffer after the size prefix,
    alignment from the packet's start (the 8-byte Event structs start at byte 32)."""
    elements = np.zeros(len(events), dtype=_EVENT)
    elements["t"], elements["x"], elements["y"], elements["on"] = (
        events["t"],
        events["x"],
        events["y"],
        events["p"],
    )
    body = (
        struct.pack("<I", 20 - 4)
        + b"EVTS"
        + struct.pack("<3H", 6, 8, 4)
        + b"\0\0"
        + struct.pack("<iI", 20 - 12, 28 - 24)
        + struct.pack("<I", len(events))
        + elements.tobytes()
    )
    return struct.pack("<I", len(body)) + body


def write_aedat4(path: PathLike, events, width: int, height: int, *, packet_size: int = 4096) -> None:
    """Writes events (EVENT_DTYPE) as one uncompressed AEDAT4 event stream of a width x height sensor."""
    events = _check_events(events, "write_aedat4")
    if not (1 <= int(width) <= 65535 and 1 <= int(height) <= 65535):
        raise ValueError(f"write_aedat4: width and height must be in [1, 65535], got {width}x{height}")
    if len(events) and (events["x"].max() >= width or events["y"].max() >= height):
        raise ValueError(f"write_aedat4: events outside the {width}x{height} sensor")
    if packet_size < 1:
        raise ValueError(f"write_aedat4: packet_size must be >= 1, got {packet_size}")
    description = (
        '<dv version="2.0"><node name="outInfo" path="/mainloop/Recorder/outInfo/">'
        '<node name="0" path="/mainloop/Recorder/outInfo/0/">'
        '<attr key="compression" type="string">NONE</attr>'
        '<attr key="originalOutputName" type="string">events</attr>'
        '<attr key="typeIdentifier" type="string">EVTS</attr>'
        '<node name="info" path="/mainloop/Recorder/outInfo/0/info/">'
        f'<attr key="sizeX" type="int">{int(width)}</attr><attr key="sizeY" type="int">{int(height)}</attr>'
        '<attr key="source" type="string">hnn_fast</attr></node></node></node></dv>'
    ).encode()
    header = _ioheader(description)
    with open(path, "wb") as f:
        f.write(_MAGIC + struct.pack("<I", len(header)) + header)
        for start in range(0, len(events), packet_size):
            packet = _event_packet(events[start : start + packet_size])
            f.write(struct.pack("<iI", 0, len(packet)) + packet)
