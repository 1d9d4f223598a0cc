"""Event-camera emulation, event formats, and the event-digits dataset.
Each network's own data (synthetic DAVIS recordings, permuted task groups, CLEVRER scenes) lives
in its folder under hnn_fast.networks.

Events are numpy structured arrays in the ``tonic`` layout (:data:`EVENT_DTYPE`: x, y, t in
microseconds, p with True = ON); dense event tensors are ``[T, 2, H, W]`` counts, channel 0 OFF
and channel 1 ON.
"""

from .digits import (
    EventDigits,
    EventDigitsConfig,
    build_event_digits,
    default_cache_dir,
    digit_events,
    load_event_digits,
    split_indices,
)
from .emulator import EventEmulator
from .events import (
    EVENT_DTYPE,
    bin_events,
    encode_nmnist,
    make_events,
    polarity_channel,
    read_nmnist,
    write_nmnist,
)
from .frames import TonicFrames, to_frame

__all__ = [
    "EVENT_DTYPE",
    "EventDigits",
    "EventDigitsConfig",
    "EventEmulator",
    "TonicFrames",
    "bin_events",
    "build_event_digits",
    "default_cache_dir",
    "digit_events",
    "encode_nmnist",
    "load_event_digits",
    "make_events",
    "polarity_channel",
    "read_nmnist",
    "split_indices",
    "to_frame",
    "write_nmnist",
]
