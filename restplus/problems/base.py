"""Base problems: ordered segments with roles, a gold answer, and a stable content-hash id."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import ProblemError
from ..hashing import digest
from ..schema import ROLES

ANSWER_TYPES = ("choice", "number", "soe", "exact")


@dataclass(frozen=True, slots=True)
class Segment:
    """A piece of a problem with a role. Roles decide what becomes pixels in each modality."""

    role: str
    text: str

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            from ..errors import did_you_mean

            raise ProblemError(f"Segment role {self.role!r} is not one of {list(ROLES)}."
                               f"{did_you_mean(self.role, ROLES)}")

    def to_dict(self) -> dict[str, str]:
        return {"role": self.role, "text": self.text}


@dataclass(frozen=True, slots=True)
class Problem:
    """One base problem.

    ``segments`` are in reading order. For a multiple-choice problem the ``choices`` segment holds
    the formatted options (one per line, ``A. ...``) and ``choices`` holds the raw option texts.
    ``answer`` is the gold answer as a canonical string (``"B"``, ``"42"``, ``"A=3, B=-1"``).
    ``task`` names the generator or source (``"soe"``, ``"arith"``, ``"mcq"``, ``"mmlu"`` ...).
    ``problem_id`` defaults to a content hash of task, segments and answer.
    """

    segments: tuple[Segment, ...]
    answer: str
    answer_type: str
    task: str = "custom"
    choices: tuple[str, ...] = ()
    problem_id: str = ""
    source: str = ""
    meta: tuple[tuple[str, Any], ...] = field(default=())

    def __post_init__(self) -> None:
        if self.answer_type not in ANSWER_TYPES:
            from ..errors import did_you_mean

            raise ProblemError(f"answer_type {self.answer_type!r} is not one of {list(ANSWER_TYPES)}."
                               f"{did_you_mean(self.answer_type, ANSWER_TYPES)}")
        if not any(s.text.strip() for s in self.segments if s.role in ("question", "context")):
            raise ProblemError(f"problem {self.problem_id or '?'} has an empty question; give it a "
                               "non-empty 'question' or 'context' segment.")
        if not self.problem_id:
            object.__setattr__(self, "problem_id", self.content_id())

    def content_id(self) -> str:
        return self.task + "-" + digest({"task": self.task, "segments": [s.to_dict() for s in self.segments],
                                         "answer": self.answer, "choices": list(self.choices)}, 12)

    def text_of(self, roles: tuple[str, ...] | None = None) -> str:
        """The text of the segments with the given roles (all if None), blank-line separated."""
        return "\n\n".join(s.text for s in self.segments if roles is None or s.role in roles)

    @property
    def full_text(self) -> str:
        return self.text_of()

    def to_dict(self) -> dict[str, Any]:
        return {"problem_id": self.problem_id, "task": self.task, "answer": self.answer,
                "answer_type": self.answer_type, "choices": list(self.choices), "source": self.source,
                "segments": [s.to_dict() for s in self.segments], "meta": dict(self.meta)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Problem":
        return cls(segments=tuple(Segment(**s) for s in d["segments"]), answer=str(d["answer"]),
                   answer_type=d["answer_type"], task=d.get("task", "custom"),
                   choices=tuple(d.get("choices") or ()), problem_id=d.get("problem_id", ""),
                   source=d.get("source", ""), meta=tuple(sorted((d.get("meta") or {}).items())))
