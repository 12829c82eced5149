"""The one reachability walk and the one cycle finder every layer checks its graphs with."""

from __future__ import annotations

from evoforum.graphs import find_cycle, reachable


def test_reachable_follows_edges_from_every_start_and_keeps_the_starts() -> None:
    edges = {"a": ["b"], "b": ["c"], "c": [], "d": ["a"], "e": []}
    assert reachable(["a"], edges) == {"a", "b", "c"}
    assert reachable(["d", "e"], edges) == {"a", "b", "c", "d", "e"}
    assert reachable([], edges) == set()
    assert reachable(["x"], edges) == {"x"}  # a start without edges is still reached


def test_an_acyclic_graph_has_no_cycle() -> None:
    assert find_cycle({"a": ["b", "c"], "b": ["c"], "c": []}) == []
    assert find_cycle({}) == []


def test_a_cycle_is_named_along_its_edges_from_where_it_closes() -> None:
    assert find_cycle({"a": ["b"], "b": ["c"], "c": ["b"]}) == ["b", "c", "b"]
    assert find_cycle({1: [2], 2: [3], 3: [1]}) == [1, 2, 3, 1]


def test_a_self_loop_is_a_cycle_of_one_node() -> None:
    assert find_cycle({"a": ["b"], "b": ["b"]}) == ["b", "b"]


def test_successors_that_are_not_nodes_are_left_out() -> None:
    assert find_cycle({"a": ["outside", "b"], "b": []}) == []


def test_the_search_goes_on_after_a_finished_branch() -> None:
    # "a" first explores the dead end "b", then finds the cycle through "c".
    assert find_cycle({"a": ["b", "c"], "b": [], "c": ["d"], "d": ["c"]}) == ["c", "d", "c"]


def test_a_deep_chain_does_not_hit_the_recursion_limit() -> None:
    size = 5000
    chain = {i: [i + 1] for i in range(size)} | {size: [0]}
    assert len(find_cycle(chain)) == size + 2
    assert reachable([0], chain) == set(range(size + 1))
