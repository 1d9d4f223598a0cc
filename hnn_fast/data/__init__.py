"""Event-camera emulation, event formats, and the datasets of the HNN experiments.

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
from .events import EVENT_DTYPE, bin_events, encode_nmnist, make_events, read_nmnist, write_nmnist
from .permuted import N_INPUTS, PermutedDataset, PermutedTaskGroups, hamming_similarity, permute_sample

__all__ = [
    "EVENT_DTYPE",
    "EventDigits",
    "EventDigitsConfig",
    "EventEmulator",
    "N_INPUTS",
    "PermutedDataset",
    "PermutedTaskGroups",
    "bin_events",
    "build_event_digits",
    "default_cache_dir",
    "digit_events",
    "encode_nmnist",
    "hamming_similarity",
    "load_event_digits",
    "make_events",
    "permute_sample",
    "read_nmnist",
    "split_indices",
    "write_nmnist",
]
