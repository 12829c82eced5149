"""Flows: immutable task graphs built with ``>>`` (Airflow-style) or ``dag(...)``.

``a >> b`` returns a new ``Flow`` holding every task and edge of both sides; the tasks are not
changed and there is no "current DAG". Chaining continues from the right-hand side:
``a >> [b, c] >> d`` adds ``a→b, a→c, b→d, c→d`` (``heads`` are where a flow is entered from the
left, ``tails`` where the next ``>>`` continues). ``a << b`` is ``b >> a``. ``dag(f1, f2, t)``
merges flows and tasks into one.

**Wiring** (how a task's parameters get their values), checked once by ``build()``:

1. *By name*: a parameter takes the output of the parent whose output name (the task name unless
   ``@task(output=...)``) equals the parameter name.
2. *By type*: each parameter still unbound takes the output of the one remaining parent whose
   output type fits the parameter type (a parent feeds at most one parameter this way).
3. Otherwise the parameter is a **flow input**: it is given at run time as
   ``inputs={"param": value}`` (every task with an unbound parameter of that name gets it) or
   ``inputs={"task.param": value}`` (that task only). Parameters with defaults may be omitted.
   Unbound parameters of tasks that have parents must be declared with
   ``build(inputs=["param", ...])``, otherwise they are reported as missing: it is almost
   always a wiring mistake.

A parent whose output no parameter takes is still an ordering dependency.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Union

from evoforum.flow.task import Task

if TYPE_CHECKING:
    from evoforum.flow.compiled import CompiledFlow

Node = Union["Task[Any]", "Flow", Sequence[Union["Task[Any]", "Flow"]]]
"""What ``>>`` accepts on either side: a task, a flow, or a list of them (fan-out / fan-in)."""

Edge = tuple["Task[Any]", "Task[Any]"]


def _unique(items: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(dict.fromkeys(items))


class Flow:
    """A graph of tasks: ``tasks`` and ``edges``, plus ``heads``/``tails`` for chaining.

    A flow made by ``>>`` keeps references to its two sides and the new edges between them;
    ``tasks`` and ``edges`` are gathered (once, then cached) when asked for, so a chain of ``n``
    ``>>`` costs O(n), not O(n²).
    """

    __slots__ = ("_edges", "_parts", "_tasks", "heads", "tails")

    def __init__(
        self,
        tasks: Iterable[Task[Any]] = (),
        edges: Iterable[Edge] = (),
        heads: Iterable[Task[Any]] = (),
        tails: Iterable[Task[Any]] = (),
        *,
        parts: tuple[Flow, ...] = (),
    ) -> None:
        self._parts = parts
        self._tasks: tuple[Task[Any], ...] | None = None if parts else _unique(tasks)
        self._edges: tuple[Edge, ...] = tuple(edges)
        self.heads: tuple[Task[Any], ...] = tuple(heads)
        self.tails: tuple[Task[Any], ...] = tuple(tails)
        if not parts and not (self.heads or self.tails):  # Flow(tasks, edges): roots and leaves
            self.heads, self.tails = self.roots, self.leaves

    def _gather(self) -> None:
        tasks: dict[Task[Any], None] = {}
        edges: dict[Edge, None] = {}
        stack: list[Flow] = [self]
        while stack:  # left to right, depth first, without recursion
            flow = stack.pop()
            if flow._parts:
                stack.extend(reversed((*flow._parts, Flow(edges=flow._edges))))
            else:
                tasks.update(dict.fromkeys(flow._tasks or ()))
                edges.update(dict.fromkeys(flow._edges))
        self._tasks, self._edges, self._parts = tuple(tasks), tuple(edges), ()

    @property
    def tasks(self) -> tuple[Task[Any], ...]:
        """Every task, in the order first mentioned."""
        if self._tasks is None:
            self._gather()
        assert self._tasks is not None
        return self._tasks

    @property
    def edges(self) -> tuple[Edge, ...]:
        """Every ``(parent, child)`` edge, without repeats."""
        if self._tasks is None:
            self._gather()
        return self._edges

    @classmethod
    def of(cls, node: Node) -> Flow:
        """A flow made of one task, a flow (itself), or a list of tasks and flows side by side."""
        if isinstance(node, Flow):
            return node
        if isinstance(node, Task):
            return cls((node,), (), (node,), (node,))
        if isinstance(node, Sequence) and not isinstance(node, str):
            parts = tuple(cls.of(item) for item in node)
            return cls(
                heads=_unique(t for part in parts for t in part.heads),
                tails=_unique(t for part in parts for t in part.tails),
                parts=parts,
            )
        raise TypeError(f"cannot put {type(node).__name__} in a flow; use tasks, flows or lists of them")

    def __rshift__(self, other: Node) -> Flow:
        right = Flow.of(other)
        links = tuple((tail, head) for tail in self.tails for head in right.heads)
        return Flow(edges=links, heads=self.heads, tails=right.tails, parts=(self, right))

    def __rrshift__(self, other: Node) -> Flow:
        return Flow.of(other) >> self

    def __lshift__(self, other: Node) -> Flow:
        return Flow.of(other) >> self

    def __rlshift__(self, other: Node) -> Flow:
        return self >> other

    def __repr__(self) -> str:
        return f"<flow {len(self.tasks)} tasks, {len(self.edges)} edges>"

    @property
    def roots(self) -> tuple[Task[Any], ...]:
        """Tasks without parents."""
        children = {child for _, child in self.edges}
        return tuple(t for t in self.tasks if t not in children)

    @property
    def leaves(self) -> tuple[Task[Any], ...]:
        """Tasks without children."""
        parents = {parent for parent, _ in self.edges}
        return tuple(t for t in self.tasks if t not in parents)

    def build(self, *, inputs: Iterable[str] = ()) -> CompiledFlow:
        """Check the whole flow once and return an immutable runnable, or raise ``FlowInvalid``.

        ``inputs`` declares extra flow inputs: unbound parameters of non-root tasks.
        """
        from evoforum.flow.compiled import CompiledFlow

        return CompiledFlow(self, frozenset(inputs))

    compile = build


def dag(*parts: Node, edges: Iterable[tuple[Task[Any], Task[Any]]] = ()) -> Flow:
    """One flow from tasks, flows, lists of them, and explicit ``(parent, child)`` edges."""
    merged = Flow.of([Flow.of(part) for part in parts])
    extra = tuple(edges)
    tasks = _unique((*merged.tasks, *(t for edge in extra for t in edge)))
    return Flow(tasks, _unique((*merged.edges, *extra)))
