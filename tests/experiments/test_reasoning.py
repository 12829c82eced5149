"""The reasoning experiment: seeded reasoning-gym items in disjoint splits, scored in the sandbox."""

from __future__ import annotations

import pytest

import experiments
import search_spaces
from evoforum.errors import ConfigError
from evoforum.sandbox import Sandbox
from experiments.reasoning import Reasoning, single_call

SMALL = {"train": 2, "valid": 6, "test": 10}


async def _score(experiment: Reasoning, item: str, answer: str) -> tuple[float, str]:
    """The item's score of ``answer`` in the real sandbox, and the failure it names (if any)."""
    source, entry = experiment.score(item, answer)
    verdict = await Sandbox().call(source, entry)
    return (float(verdict.value), "") if verdict.ok else (0.0, verdict.error or verdict.reason)


def test_splits_are_disjoint_sized_and_the_same_for_the_same_options() -> None:
    one = experiments.get("reasoning", SMALL)
    again = experiments.get("reasoning", SMALL)
    splits = one.splits()
    assert (len(splits.train), len(splits.valid), len(splits.test)) == (2, 6, 10)
    assert splits == again.splits()
    assert [one.inputs(i) for i in splits.test] == [again.inputs(i) for i in splits.test]
    every = [*splits.train, *splits.valid, *splits.test]
    questions = [one.inputs(item)["question"] for item in every]
    assert len(set(questions)) == len(every)  # no question in two splits, nor twice in one
    assert {item.split("/")[0] for item in every} == {"chain_sum", "basic_arithmetic"}


def test_another_split_seed_gives_other_questions() -> None:
    one = experiments.get("reasoning", SMALL)
    two = experiments.get("reasoning", {**SMALL, "split_seed": 1})
    assert {one.inputs(i)["question"] for i in one.splits().test} != {
        two.inputs(i)["question"] for i in two.splits().test
    }


def test_an_unknown_task_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="tasks"):
        experiments.get("reasoning", {**SMALL, "tasks": ["no_such_task"]})


async def test_the_reference_and_answers_ending_in_it_score_one_and_others_fail() -> None:
    experiment = experiments.get("reasoning", SMALL)
    assert isinstance(experiment, Reasoning)
    item = experiment.splits().valid[0]
    reference = experiment.reference(item)
    wrong = str(int(reference) + 1)
    for right in (reference, f"Let me think.\nThe answer is {reference}.", f"**{int(reference):,}**"):
        assert await _score(experiment, item, right) == (1.0, "")
    score, failure = await _score(experiment, item, f"It is {wrong}")
    assert score == 0.0
    assert failure == f"AssertionError: final answer {wrong!r} is wrong"  # never the reference
    assert (await _score(experiment, item, f"{reference} or maybe {wrong}"))[0] == 0.0
    assert (await _score(experiment, item, "I do not know."))[0] == 0.0


async def test_fractions_and_words_are_matched_by_their_form() -> None:
    experiment = experiments.get("reasoning", SMALL)
    assert isinstance(experiment, Reasoning)
    experiment.items["x/fraction"] = ("Simplify 6/8.", "3/4")
    experiment.items["x/word"] = ("Which colour?", "Blue")
    assert (await _score(experiment, "x/fraction", "So it is 3/4"))[0] == 1.0
    assert (await _score(experiment, "x/fraction", "0.75"))[0] == 1.0
    assert (await _score(experiment, "x/fraction", "6/7"))[0] == 0.0
    assert (await _score(experiment, "x/word", "Thinking...\nblue."))[0] == 1.0
    assert (await _score(experiment, "x/word", "green"))[0] == 0.0


def test_the_baseline_is_the_spaces_single_call_seed() -> None:
    seeds = search_spaces.get("qa_ensemble").seeds()
    assert single_call().hash == seeds[0].hash
    assert single_call().metadata.origin == {"baseline": "single_call"}
    assert experiments.get("reasoning", SMALL).baselines()["single_call"].hash == seeds[0].hash
