"""The hybrid reasoning network (HRN) on CLEVRER: perceived scenes, question generation, the
symbolic executor (ground truth), the spiking reasoner and the learnable collision HU; README.md
beside this file."""

from .collision_hu import CollisionUNet, learned_collisions
from .construction import build_graphs
from .executor import ILL_POSED, ProgramError, World, compile_program, execute
from .questions import Question, generate_questions, load_questions, save_questions
from .reasoner import SpikingReasoner, encode_programs
from .scenes import Scene, SceneFormatError, generate_scenes, load_default_scenes, load_scenes

__all__ = [
    "ILL_POSED",
    "CollisionUNet",
    "ProgramError",
    "Question",
    "Scene",
    "SceneFormatError",
    "SpikingReasoner",
    "World",
    "build_graphs",
    "compile_program",
    "encode_programs",
    "execute",
    "generate_questions",
    "generate_scenes",
    "learned_collisions",
    "load_default_scenes",
    "load_questions",
    "load_scenes",
    "save_questions",
]
