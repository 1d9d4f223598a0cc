"""Reading and writing AEDAT4 recordings (DAVIS cameras): packets to tonic-layout events and frames."""

import sys

import numpy as np
import pytest

from hnn_fast.data import bin_events, make_events
from hnn_fast.data.aedat import read_aedat4, write_aedat4


class _FakeDecoder:
    """Packets shaped as aedat.Decoder yields them (its documented dict layout)."""

    def __init__(self):
        dt = np.dtype([("t", "<u8"), ("x", "<u2"), ("y", "<u2"), (("p", "on"), "?")])
        self.packets = [
            {"stream_id": 0, "events": np.array([(30, 1, 2, True), (10, 3, 4, False)], dtype=dt)},
            {
                "stream_id": 1,
                "frame": {
                    "t": 15,
                    "exposure_begin_t": 12,
                    "exposure_end_t": 20,
                    "format": "L",
                    "width": 5,
                    "height": 6,
                    "pixels": np.full((6, 5), 7, np.uint8),
                },
            },
            {"stream_id": 0, "events": np.array([(20, 4, 5, True)], dtype=dt)},
            {"stream_id": 2, "imus": np.zeros(3)},
        ]

    def id_to_stream(self):
        return {
            0: {"type": "events", "width": 5, "height": 6},
            1: {"type": "frame", "width": 5, "height": 6},
            2: {"type": "imus"},
        }

    def __iter__(self):
        return iter(self.packets)


def test_aedat_conversion():
    rec = read_aedat4("unused.aedat4", decoder=_FakeDecoder())
    assert rec.events["t"].tolist() == [10, 20, 30]
    assert rec.events["x"].tolist() == [3, 4, 1] and rec.events["p"].tolist() == [False, True, True]
    assert rec.frames.shape == (1, 6, 5) and rec.frame_t_us.tolist() == [16]
    counts = bin_events(rec.events, 1, rec.height, rec.width)
    assert counts.sum().item() == 3 and counts[0, 1, 5, 4].item() == 1


def test_aedat_errors(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="not a file"):
        read_aedat4(tmp_path / "missing.aedat4")
    path = tmp_path / "x.aedat4"
    path.write_bytes(b"#!AER-DAT4.0\r\n")
    monkeypatch.setitem(sys.modules, "aedat", None)  # as if the optional package were not installed
    with pytest.raises(ImportError, match="pip install aedat"):
        read_aedat4(path)


def test_aedat4_round_trip_through_the_aedat_package(tmp_path):
    pytest.importorskip("aedat")
    rng = np.random.default_rng(0)
    n = 2500  # several packets
    events = make_events(
        rng.integers(0, 48, n),
        rng.integers(0, 40, n),
        np.sort(rng.integers(0, 10**6, n)),
        rng.random(n) < 0.5,
    )
    path = tmp_path / "events.aedat4"
    write_aedat4(path, events, 48, 40, packet_size=1000)
    rec = read_aedat4(path)
    assert (rec.width, rec.height) == (48, 40) and len(rec.frames) == 0
    for field in ("x", "y", "t", "p"):
        assert np.array_equal(rec.events[field], events[field]), field
    with pytest.raises(ValueError, match="outside"):
        write_aedat4(path, events, 8, 8)
