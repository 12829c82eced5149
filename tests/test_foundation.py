"""The error tree and content hashing: the contracts every later layer stands on."""

from __future__ import annotations

import math
import pickle
import subprocess
import sys

import pytest

from evoforum import errors
from evoforum.hashing import canonical_json, digest, is_hash

ALL_ERRORS = [
    value
    for value in vars(errors).values()
    if isinstance(value, type) and issubclass(value, errors.EvoforumError) and value is not errors.Invalid
]


@pytest.mark.parametrize("cls", ALL_ERRORS, ids=lambda cls: cls.__name__)
def test_every_error_survives_pickling_with_its_details(cls: type[errors.EvoforumError]) -> None:
    if issubclass(cls, errors.Invalid):
        error: errors.EvoforumError = cls("genome g", [("agents.a", "unknown tool 'x'")], hash="h")
    else:
        error = cls("it broke", reason="disk full", attempt=3)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is cls
    assert str(copy) == str(error)
    assert copy.details == error.details


def test_invalid_lists_every_problem_with_its_path() -> None:
    error = errors.GenomeInvalid(
        "genome", [("dag.tasks[2]", "cycle a -> b -> a"), ("agents.x", "unknown model")]
    )
    assert [p.path for p in error.problems] == ["dag.tasks[2]", "agents.x"]
    assert "2 problems" in str(error)
    assert "dag.tasks[2]: cycle a -> b -> a" in str(error)
    assert isinstance(error, errors.UsageError)


def test_did_you_mean_suggests_close_names_only() -> None:
    assert errors.did_you_mean("popualtion", ["population", "seed"]) == " (did you mean 'population'?)"
    assert errors.did_you_mean("zzz", ["population", "seed"]) == ""


def test_canonical_json_is_sorted_compact_utf8() -> None:
    assert canonical_json({"b": 1, "a": [1.5, "é", None]}) == '{"a":[1.5,"é",null],"b":1}'.encode()


@pytest.mark.parametrize("bad", [math.nan, math.inf, {"x": [1, -math.inf]}, {1: "int key"}, object(), {1, 2}])
def test_canonical_json_rejects_what_json_cannot_say(bad: object) -> None:
    with pytest.raises(errors.NotSerializable):
        canonical_json(bad)


def test_digest_is_domain_separated_and_well_formed() -> None:
    value = {"content": "hi"}
    assert digest(value, domain="message") != digest(value, domain="genome")
    assert is_hash(digest(value, domain="message"))
    assert not is_hash("ABC")


def test_golden_hash_is_stable_across_processes() -> None:
    # Pinned: a change here changes every stored hash, and needs a new SCHEMA_VERSION.
    golden = "018a13d82ac38ef6f59e7fe66d0a24301068504e1c0d2389881210e0fb5fd391"
    code = (
        "from evoforum.hashing import digest; print(digest({'a': [1, 'x', None], 'b': 2.5}, domain='test'))"
    )
    other = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert other == digest({"b": 2.5, "a": [1, "x", None]}, domain="test")
    assert other == golden


def test_cli_bad_subcommand_is_one_line_and_status_2() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "evoforum", "bogus"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0
    assert "invalid choice: 'bogus'" in result.stderr
