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
        decoder = _import_aedat().Decoder(os.fspath(path))
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
