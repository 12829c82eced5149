"""Quickstart: a handful of short code problems, small enough for the local model in minutes.

The problems are in HumanEval's form and short on purpose: each answer is a few lines, so one
model call takes seconds. Selection sees the valid split: one problem the local model
(Qwen2.5-Coder-0.5B) answers right at once, and two on which its first greedy answer fails the
docstring's own examples (``.sort()`` on a set; words counted instead of their lengths), so the
seed workflows are not perfect and a run has something to improve. Options: ``seeds`` (seed
genomes of the space, default ``[0]``: the plain write -> test -> fix loop;
``configs/quickstart.yaml`` starts from ``[2, 0]``, the single call and that loop) and ``solved``
(default false: true gives the train problems their solutions, ``SOLUTIONS``, which the run
stores for the genomes' recall steps and the space shows as few-shot examples).
"""

from __future__ import annotations

from typing import Any

from evoforum.errors import ConfigError
from experiments._base import Splits
from experiments._code import CodeExperiment, CodeProblem


def _problem(task_id: str, signature: str, doc: str, entry: str, asserts: list[str]) -> CodeProblem:
    prompt = f'{signature}\n    """{doc}"""\n'
    test = "def check(candidate):\n" + "".join(f"    assert {line}\n" for line in asserts)
    return CodeProblem(task_id=task_id, prompt=prompt, entry_point=entry, test=test)


PROBLEMS = {
    p.task_id: p
    for p in [
        _problem(
            "quick/add", "def add(a: int, b: int) -> int:", "Return the sum of a and b.\n    >>> add(2, 3)\n    5\n    ",
            "add", ["candidate(2, 3) == 5", "candidate(-1, 1) == 0"],
        ),
        _problem(
            "quick/is_even", "def is_even(n: int) -> bool:", "Whether n is even.\n    >>> is_even(4)\n    True\n    ",
            "is_even", ["candidate(4) is True", "candidate(7) is False", "candidate(0) is True"],
        ),
        _problem(
            "quick/reverse", "def reverse(s: str) -> str:", "Return s reversed.\n    >>> reverse('abc')\n    'cba'\n    ",
            "reverse", ["candidate('abc') == 'cba'", "candidate('') == ''"],
        ),
        _problem(
            "quick/largest", "def largest(xs: list) -> int:",
            "Return the largest number of a non-empty list.\n    >>> largest([1, 5, 3])\n    5\n    ",
            "largest", ["candidate([1, 5, 3]) == 5", "candidate([-2, -7]) == -2"],
        ),
        _problem(
            "quick/count_vowels", "def count_vowels(s: str) -> int:",
            "Count the vowels (a, e, i, o, u) in lower-case s.\n    >>> count_vowels('hello')\n    2\n    ",
            "count_vowels", ["candidate('hello') == 2", "candidate('xyz') == 0"],
        ),
        _problem(
            "quick/dedupe", "def dedupe(xs: list) -> list:",
            "Remove repeated items, keeping the first occurrence of each, in order.\n    >>> dedupe([3, 1, 3, 2, 1])\n    [3, 1, 2]\n    ",
            "dedupe", ["candidate([3, 1, 3, 2, 1]) == [3, 1, 2]", "candidate([]) == []", "candidate([5, 4, 5]) == [5, 4]"],
        ),
        _problem(
            "quick/square_all", "def square_all(xs: list) -> list:",
            "Return the squares of xs, in order.\n    >>> square_all([1, 2, 3])\n    [1, 4, 9]\n    ",
            "square_all", ["candidate([1, 2, 3]) == [1, 4, 9]", "candidate([]) == []"],
        ),
        _problem(
            "quick/rle", "def rle(s: str) -> str:",
            "Run-length encode s: each run of one character becomes the character and the run's length.\n    >>> rle('aaabcc')\n    'a3b1c2'\n    ",
            "rle", ["candidate('aaabcc') == 'a3b1c2'", "candidate('') == ''", "candidate('zz') == 'z2'", "candidate('abca') == 'a1b1c1a1'"],
        ),
        _problem(
            "quick/second_largest", "def second_largest(xs: list) -> int:",
            "The second largest distinct value of xs (xs holds at least two distinct values).\n    >>> second_largest([4, 1, 4, 3])\n    3\n    ",
            "second_largest", ["candidate([4, 1, 4, 3]) == 3", "candidate([1, 2]) == 1", "candidate([-5, -1, -1, -3]) == -3"],
        ),
        _problem(
            "quick/word_lengths", "def word_lengths(s: str) -> dict:",
            "Map each length to the number of words of that length; words are separated by spaces.\n    >>> word_lengths('a bb cc d')\n    {1: 2, 2: 2}\n    >>> word_lengths('hello  world')\n    {5: 2}\n    ",
            "word_lengths", ["candidate('a bb cc d') == {1: 2, 2: 2}", "candidate('') == {}", "candidate('hello  world') == {5: 2}"],
        ),
        _problem(
            "quick/last_word", "def last_word_length(s: str) -> int:",
            "The length of the last word of s (0 when s has no word); words are separated by spaces.\n    >>> last_word_length('fly me   to the moon  ')\n    4\n    >>> last_word_length('   ')\n    0\n    ",
            "last_word_length", ["candidate('fly me   to the moon  ') == 4", "candidate('a') == 1", "candidate('   ') == 0"],
        ),
        _problem(
            "quick/palindrome", "def is_palindrome(s: str) -> bool:",
            "Whether s reads the same backwards, ignoring case and every character that is not a letter or digit.\n    >>> is_palindrome('A man, a plan, a canal: Panama')\n    True\n    ",
            "is_palindrome", ["candidate('A man, a plan, a canal: Panama') is True", "candidate('race a car') is False", "candidate('') is True"],
        ),
    ]
}  # fmt: skip


SOLUTIONS = {
    "quick/add": "    return a + b\n",
    "quick/is_even": "    return n % 2 == 0\n",
    "quick/reverse": "    return s[::-1]\n",
    "quick/dedupe": "    seen = set()\n    return [x for x in xs if not (x in seen or seen.add(x))]\n",
    "quick/largest": "    return max(xs)\n",
    "quick/square_all": "    return [x * x for x in xs]\n",
    "quick/rle": "    import itertools\n    return ''.join(f'{c}{len(list(g))}' for c, g in itertools.groupby(s))\n",
}
"""The train problems' solutions (bodies completing the prompt), given with the option ``solved``."""


class Quickstart(CodeExperiment):
    name = "quickstart"
    option_names = ("seeds", "solved")

    def __init__(self, options: dict[str, Any] | None = None, seed: int = 0) -> None:
        super().__init__(options, seed)
        solved = self.option("solved", False)
        if not isinstance(solved, bool):
            raise ConfigError(f"experiment.options.solved: true or false, not {solved!r}")
        self.problems = (
            {
                i: p.model_copy(update={"canonical_solution": SOLUTIONS.get(i, "")})
                for i, p in PROBLEMS.items()
            }
            if solved
            else PROBLEMS
        )

    def splits(self) -> Splits:
        return Splits(
            train=(
                "quick/add",
                "quick/is_even",
                "quick/reverse",
                "quick/dedupe",
                "quick/largest",
                "quick/square_all",
                "quick/rle",
            ),
            valid=("quick/second_largest", "quick/word_lengths", "quick/last_word"),
            test=("quick/palindrome", "quick/count_vowels"),
        )

    def seed_indices(self) -> tuple[int, ...] | None:
        found = super().seed_indices()
        return found if found is not None else (0,)
