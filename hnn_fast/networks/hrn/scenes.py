"""Perceived CLEVRER scenes: objects, trajectories, collisions and counterfactual predictions, and the
events that NS-DR reasons over.

File format (one JSON object a line, optionally gzip-compressed; see
shared/data/clevrer-scenes/README.md): ``scene_index``, ``objects`` (id, color, material, shape) and
``predictions``: the factual world (``what_if == -1``) then one world per removed object, each a
``trajectory`` sampled every 5th frame and a list of ``collisions``. Objects inside trajectories and
collisions are named by their attribute triple, which is unique within a video.

Events follow NS-DR: the start and the end of the video, an object entering (``in``) or leaving
(``out``) the view, and collisions. Frames below ``SEEN_FRAMES`` (128) are seen; later collisions are
predictions of the future (``unseen``). The perception front end also emits a few corrupt coordinates
(1e35 and the like); they are treated as missing.
"""

from __future__ import annotations

import gzip
import itertools
import json
import os
import re
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

COLORS = ("gray", "red", "blue", "green", "brown", "yellow", "cyan", "purple")
MATERIALS = ("metal", "rubber")
SHAPES = ("sphere", "cylinder", "cube")
SEEN_FRAMES = 128  # the video shows frames 0..127; later frames are predicted
END_FRAME = SEEN_FRAMES - 1
FRAME_STEP = 5
NUM_FRAMES = 38  # sampled frames 0, 5, ..., 185
COORD_RANGE = (-100.0, 400.0)  # image coordinates outside this are perception failures
MERGE_GAP = 10  # one physical collision is reported on consecutive sampled frames; merge them
MOVING_THRESHOLD = 1.5  # displacement per sampled step (5 frames) above which an object moves

_INDEX_RE = re.compile(r'"scene_index"\s*:\s*(\d+)')
ENV_VAR = "HNN_FAST_CLEVRER_SCENES"
DEFAULT_FILE = "clevrer_hu_scenes_10000-10999.jsonl.gz"
# The videos of that file the collision HU learns from and the held-out ones it is scored on.
TRAIN_SCENES = range(10000, 10800)
TEST_SCENES = range(10800, 11000)


class SceneFormatError(ValueError):
    """A scene file or record that does not follow the format."""


@dataclass(frozen=True)
class SceneObject:
    id: int
    color: str
    material: str
    shape: str

    def attribute(self, kind: str) -> str:
        return getattr(self, kind)


@dataclass(frozen=True)
class Collision:
    frame: int
    objects: tuple[int, int]  # sorted object ids


@dataclass(frozen=True)
class Event:
    kind: str  # start, end, in, out, collision
    frame: int
    objects: tuple[int, ...] = ()


@dataclass
class Scene:
    scene_index: int
    objects: list[SceneObject]
    positions: np.ndarray  # [NUM_FRAMES, N, 2], NaN where an object is not seen
    collisions: list[Collision]  # factual, seen and unseen
    counterfactuals: dict[int, list[Collision]] = field(default_factory=dict)  # removed id -> collisions
    counterfactual_positions: dict[int, np.ndarray] = field(default_factory=dict)

    @property
    def num_objects(self) -> int:
        return len(self.objects)

    def visible(self) -> np.ndarray:
        """[NUM_FRAMES, N] bool."""
        return np.isfinite(self.positions).all(-1)

    def seen_events(self) -> list[Event]:
        """start, in, out, seen collisions, end; ordered by frame (ties keep this order)."""
        events = [Event("start", 0)]
        visible = self.visible()
        seen_rows = np.arange(NUM_FRAMES) * FRAME_STEP < SEEN_FRAMES
        last_row = int(seen_rows.sum()) - 1
        for obj in self.objects:
            rows = np.flatnonzero(visible[seen_rows, obj.id])
            if len(rows) == 0:
                continue
            if rows[0] > 0:
                events.append(Event("in", int(rows[0]) * FRAME_STEP, (obj.id,)))
            if rows[-1] < last_row:
                events.append(Event("out", int(rows[-1]) * FRAME_STEP, (obj.id,)))
        events += [Event("collision", c.frame, c.objects) for c in self.collisions if c.frame < SEEN_FRAMES]
        events.append(Event("end", END_FRAME))
        return sorted(events, key=lambda e: e.frame)

    def unseen_events(self) -> list[Event]:
        return [
            Event("collision", c.frame, c.objects)
            for c in sorted(self.collisions, key=lambda c: c.frame)
            if c.frame >= SEEN_FRAMES
        ]

    def counterfact_events(self, removed: int) -> list[Event]:
        return [
            Event("collision", c.frame, c.objects)
            for c in sorted(self.counterfactuals.get(removed, []), key=lambda c: c.frame)
        ]

    def moving(self, row: int | None = None) -> np.ndarray:
        """[N] bool: moving at sampled frame `row`, or at any seen frame when row is None."""
        step = np.linalg.norm(np.diff(self.positions, axis=0), axis=-1)  # [F-1, N]
        speed = np.zeros((NUM_FRAMES, self.num_objects))
        # speed at a frame = the larger of the displacements to its neighbours (unseen counts as 0)
        step = np.nan_to_num(step, nan=0.0)
        speed[:-1] = step
        speed[1:] = np.maximum(speed[1:], step)
        moving = speed > MOVING_THRESHOLD
        if row is None:
            seen = np.arange(NUM_FRAMES) * FRAME_STEP < SEEN_FRAMES
            return moving[seen].any(0)
        return moving[row] & self.visible()[row]

    def with_collisions(
        self, collisions: list[Collision], counterfactuals: dict[int, list[Collision]] | None = None
    ) -> Scene:
        return replace(
            self,
            collisions=list(collisions),
            counterfactuals=self.counterfactuals if counterfactuals is None else counterfactuals,
        )


def frame_row(frame: int) -> int:
    """The sampled-trajectory row of a frame."""
    return min(max(round(frame / FRAME_STEP), 0), NUM_FRAMES - 1)


def merge_collisions(collisions: Iterable[Collision], gap: int = MERGE_GAP) -> list[Collision]:
    """One collision per contact: reports of the same pair within `gap` frames are one collision."""
    merged: list[Collision] = []
    last: dict[tuple[int, int], int] = {}
    for c in sorted(collisions, key=lambda c: (c.frame, c.objects)):
        if c.objects in last and c.frame - last[c.objects] <= gap:
            last[c.objects] = c.frame
            continue
        last[c.objects] = c.frame
        merged.append(c)
    return merged


# ---------------------------------------------------------------------------------------------- parsing


# What a record of the wrong shape raises when read: a missing key, a list where a dict belongs, a
# string or Infinity (int() of it: OverflowError) where a number belongs.
_BAD_FIELD = (KeyError, TypeError, ValueError, AttributeError, OverflowError, IndexError)


def parse_scene(record: dict, *, where: str = "scene") -> Scene:
    try:
        index = int(record["scene_index"])
        objects = [
            SceneObject(int(o["id"]), str(o["color"]), str(o["material"]), str(o["shape"]))
            for o in record["objects"]
        ]
        predictions = record["predictions"]
    except _BAD_FIELD as exc:
        raise SceneFormatError(f"{where}: not a perceived scene ({type(exc).__name__}: {exc})") from None
    if sorted(o.id for o in objects) != list(range(len(objects))):
        raise SceneFormatError(f"{where}: object ids must be 0..{len(objects) - 1}")
    for obj in objects:
        if obj.color not in COLORS or obj.material not in MATERIALS or obj.shape not in SHAPES:
            raise SceneFormatError(
                f"{where}: object {obj.id} has unknown attributes {obj.color}/{obj.material}/{obj.shape}"
            )
    by_name = {(o.color, o.material, o.shape): o.id for o in objects}
    if len(by_name) != len(objects):
        raise SceneFormatError(f"{where}: attribute triples are not unique")

    def ident(o: dict) -> int | None:
        return by_name.get((o.get("color"), o.get("material"), o.get("shape")))

    factual = None
    counterfactuals: dict[int, list[Collision]] = {}
    cf_positions: dict[int, np.ndarray] = {}
    for pred in predictions:
        try:
            what_if = int(pred["what_if"])
            positions = np.full((NUM_FRAMES, len(objects), 2), np.nan)
            for step in pred["trajectory"]:
                row = int(step["frame_index"]) // FRAME_STEP
                if not 0 <= row < NUM_FRAMES:
                    continue
                for o in step["objects"]:
                    k = ident(o)
                    if k is not None:
                        positions[row, k] = (float(o["x"]), float(o["y"]))
            collisions = []
            for c in pred["collisions"]:
                ids = [ident(o) for o in c["objects"]]
                if len(ids) == 2 and None not in ids and ids[0] != ids[1]:
                    collisions.append(Collision(int(c["frame"]), tuple(sorted(ids))))
        except _BAD_FIELD as exc:
            raise SceneFormatError(f"{where}: bad prediction ({type(exc).__name__}: {exc})") from None
        bad = ~((positions >= COORD_RANGE[0]) & (positions <= COORD_RANGE[1])).all(-1)
        positions[bad] = np.nan
        collisions = merge_collisions(collisions)
        if what_if == -1:
            factual = (positions, collisions)
        elif 0 <= what_if < len(objects):
            counterfactuals[what_if] = collisions
            cf_positions[what_if] = positions
    if factual is None:
        raise SceneFormatError(f"{where}: no factual prediction (what_if = -1)")
    return Scene(index, objects, factual[0], factual[1], counterfactuals, cf_positions)


def _open_text(path: Path):
    with open(path, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rt", encoding="utf-8") if gz else open(path, encoding="utf-8")


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, line) of a text or gzip file; a truncated or corrupt archive, bytes that are not
    UTF-8 or an unreadable file is a SceneFormatError naming the file."""
    try:
        with _open_text(path) as fh:
            yield from enumerate(fh, 1)
    except (OSError, EOFError, UnicodeDecodeError, zlib.error) as exc:
        raise SceneFormatError(
            f"scenes file {str(path)!r}: unreadable, truncated or not UTF-8 text "
            f"({type(exc).__name__}: {exc})"
        ) from None


def iter_scenes(
    path: str | os.PathLike, indices: Iterable[int] | None = None, limit: int | None = None
) -> Iterator[Scene]:
    """Scenes of a jsonl(.gz) file, optionally only those whose scene_index is in `indices`."""
    path = Path(path)
    if not path.is_file():
        raise SceneFormatError(f"scenes file {str(path)!r} does not exist")
    wanted = None if indices is None else set(indices)
    count = 0
    for lineno, line in _lines(path):
        if limit is not None and count >= limit:
            return
        if not line.strip():
            continue
        if wanted is not None:
            # skip unwanted records without parsing them: the index leads each record
            match = _INDEX_RE.search(line, 0, 64)
            if match is not None and int(match.group(1)) not in wanted:
                continue
        where = f"scenes file {str(path)!r} line {lineno}"
        try:
            record = json.loads(line)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
            raise SceneFormatError(f"{where}: not JSON ({type(exc).__name__}: {exc})") from None
        if not isinstance(record, dict):
            raise SceneFormatError(f"{where}: expected a JSON object, got {type(record).__name__}")
        if wanted is not None and record.get("scene_index") not in wanted:
            continue
        yield parse_scene(record, where=where)
        count += 1


def load_scenes(
    path: str | os.PathLike, indices: Iterable[int] | None = None, limit: int | None = None
) -> list[Scene]:
    scenes = list(iter_scenes(path, indices, limit))
    if not scenes:
        raise SceneFormatError(f"scenes file {str(path)!r} holds no (matching) scene")
    return scenes


def default_scene_file() -> Path | None:
    """$HNN_FAST_CLEVRER_SCENES, else ../shared/data/clevrer-scenes/ beside the project root."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    candidate = (
        Path(__file__).resolve().parents[3].parent / "shared" / "data" / "clevrer-scenes" / DEFAULT_FILE
    )
    return candidate if candidate.is_file() else None


def load_default_scenes(
    indices: Iterable[int] | None = None,
    limit: int | None = None,
    path: str | os.PathLike | None = None,
    *,
    verbose: bool = True,
) -> list[Scene]:
    """The real scenes when the file is found, else a generated set (with a printed note)."""
    path = path or default_scene_file()
    if path is not None:
        return load_scenes(path, indices, limit)
    n = limit or (len(list(indices)) if indices is not None else 40)
    if verbose:
        print(f"note: CLEVRER scene file not found (set ${ENV_VAR}); using {n} generated scenes")
    return generate_scenes(n)


# ----------------------------------------------------------------------------------- generated scenes


def _simulate(
    start: np.ndarray, velocity: np.ndarray, enter: np.ndarray, alive: np.ndarray, radius: float = 6.0
) -> tuple[np.ndarray, list[Collision]]:
    """Discs on a table, elastic contacts, one step per frame; an object is off the table before
    `enter` and leaves the view beyond the table's edge."""
    n = len(start)
    pos, vel = start.copy(), velocity.copy()
    rows = np.full((NUM_FRAMES, n, 2), np.nan)
    collisions, touching = [], set()
    for frame in range(NUM_FRAMES * FRAME_STEP):
        active = alive & (enter <= frame)
        pos[active] += vel[active]
        for i, j in itertools.combinations(np.flatnonzero(active), 2):
            d = pos[j] - pos[i]
            dist = float(np.hypot(*d))
            if dist < 2 * radius:
                if (i, j) not in touching:
                    collisions.append(Collision(frame, (int(i), int(j))))
                    normal = d / max(dist, 1e-6)
                    dv = np.dot(vel[i] - vel[j], normal)
                    if dv > 0:  # approaching: exchange the normal components
                        vel[i] -= dv * normal
                        vel[j] += dv * normal
                touching.add((i, j))
            else:
                touching.discard((i, j))
        if frame % FRAME_STEP == 0:
            inside = active & (pos >= 0).all(1) & (pos <= 200).all(1)
            rows[frame // FRAME_STEP, inside] = pos[inside]
    return rows, merge_collisions(collisions)


def generate_scenes(
    n: int, seed: int = 0, first_index: int = 0, num_objects: int | None = None
) -> list[Scene]:
    """Small synthetic CLEVRER-like scenes (3-6 objects, or num_objects) with factual and
    counterfactual worlds."""
    rng = np.random.default_rng(seed)
    triples = list(itertools.product(COLORS, MATERIALS, SHAPES))
    scenes = []
    for k in range(n):
        m = int(rng.integers(3, 7)) if num_objects is None else num_objects
        chosen = rng.choice(len(triples), m, replace=False)
        objects = [SceneObject(i, *triples[t]) for i, t in enumerate(chosen)]
        start = rng.uniform(30, 170, (m, 2))
        # aim a few objects at each other so that collisions happen
        target = start[rng.permutation(m)] + rng.normal(0, 8, (m, 2))
        speed = rng.uniform(0.4, 1.2, m) * (rng.random(m) < 0.7)
        direction = target - start
        velocity = (
            direction / np.maximum(np.linalg.norm(direction, axis=1, keepdims=True), 1e-6) * speed[:, None]
        )
        enter = np.where(rng.random(m) < 0.25, rng.integers(10, 90, m), 0)
        alive = np.ones(m, bool)
        positions, collisions = _simulate(start, velocity, enter, alive)
        counterfactuals, cf_positions = {}, {}
        for removed in range(m):
            keep = alive.copy()
            keep[removed] = False
            cf_positions[removed], counterfactuals[removed] = _simulate(start, velocity, enter, keep)
        scenes.append(Scene(first_index + k, objects, positions, collisions, counterfactuals, cf_positions))
    return scenes


def scene_record(scene: Scene) -> dict:
    """The file record of a scene (what parse_scene reads back)."""

    def name(i: int) -> dict:
        o = scene.objects[i]
        return {"color": o.color, "material": o.material, "shape": o.shape}

    def prediction(what_if: int, positions: np.ndarray, collisions: Sequence[Collision]) -> dict:
        trajectory = [
            {
                "frame_index": r * FRAME_STEP,
                "objects": [
                    {"x": float(positions[r, i, 0]), "y": float(positions[r, i, 1]), **name(i)}
                    for i in range(scene.num_objects)
                    if np.isfinite(positions[r, i]).all()
                ],
            }
            for r in range(NUM_FRAMES)
        ]
        return {
            "what_if": what_if,
            "trajectory": trajectory,
            "collisions": [{"frame": c.frame, "objects": [name(i) for i in c.objects]} for c in collisions],
        }

    preds = [prediction(-1, scene.positions, scene.collisions)]
    preds += [
        prediction(k, scene.counterfactual_positions.get(k, np.full_like(scene.positions, np.nan)), cs)
        for k, cs in sorted(scene.counterfactuals.items())
    ]
    return {
        "scene_index": scene.scene_index,
        "objects": [
            {"id": o.id, "color": o.color, "material": o.material, "shape": o.shape} for o in scene.objects
        ],
        "predictions": preds,
    }
