"""Dependency injection: caching by provider and arguments, scopes, overrides, built-ins."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import pytest

from evoforum.errors import UsageError
from evoforum.flow import Depends, Flow, Runtime, dag, provider, providers, task

made: list[tuple[str, Any]] = []


def counter(label: str) -> str:
    made.append(("counter", label))
    return f"{label}#{len(made)}"


@pytest.fixture(autouse=True)
def _clear() -> None:
    made.clear()


async def test_cache_is_keyed_by_provider_and_arguments() -> None:
    """Germinate keyed its cache by the provider function alone: ``counter("a")`` and
    ``counter("b")`` came back as one value."""

    @task
    def use(
        a: Annotated[str, Depends(counter, "a")],
        b: Annotated[str, Depends(counter, label="b")],
        a_again: Annotated[str, Depends(counter, "a")],
    ) -> tuple[str, str, str]:
        return a, b, a_again

    a, b, a_again = (await Flow.of(use).build().run()).output
    assert a != b
    assert a == a_again
    assert sorted(label for _, label in made) == ["a", "b"]


async def test_run_scope_is_shared_by_tasks_of_one_run_only() -> None:
    @task
    async def one(value: str = Depends(counter, "x")) -> str:
        return value

    @task
    async def two(one: str, value: str = Depends(counter, "x")) -> tuple[str, str]:
        return one, value

    compiled = (one >> two).build()
    async with Runtime(transcripts=False) as runtime:
        first = (await compiled.run(runtime=runtime)).output
        second = (await compiled.run(runtime=runtime)).output
    assert first[0] == first[1]
    assert second[0] == second[1]
    assert first != second


async def test_scopes_close_resources_in_order() -> None:
    log: list[str] = []

    @provider(scope="experiment")
    async def pool() -> AsyncIterator[str]:
        log.append("pool open")
        yield "pool"
        log.append("pool closed")

    async def session(pool: str = Depends(pool)) -> AsyncIterator[str]:
        log.append("session open")
        yield f"session of {pool}"
        log.append("session closed")

    def per_task() -> Iterator[str]:
        log.append("task open")
        yield "task"
        log.append("task closed")

    @task
    async def work(s: str = Depends(session), t: str = Depends(per_task, scope="task")) -> str:
        log.append("work")
        return f"{s}/{t}"

    runtime = Runtime(transcripts=False)
    result = await Flow.of(work).build().run(runtime=runtime)
    assert result.output == "session of pool/task"
    assert log == ["pool open", "session open", "task open", "work", "task closed", "session closed"]
    await runtime.aclose()
    assert log[-1] == "pool closed"


async def test_async_context_managers_are_entered_and_closed() -> None:
    class Client:
        def __init__(self) -> None:
            self.open = False

        async def __aenter__(self) -> Client:
            self.open = True
            return self

        async def __aexit__(self, *exc: object) -> None:
            self.open = False

    clients: list[Client] = []

    def connect() -> Client:
        clients.append(Client())
        return clients[-1]

    @task
    async def use(client: Client = Depends(connect)) -> bool:
        return client.open

    assert (await Flow.of(use).build().run()).output is True
    assert clients[0].open is False


async def test_override_replaces_a_provider_and_its_users() -> None:
    def real() -> str:
        raise AssertionError("the real provider must not run in this test")

    def uses_real(value: str = Depends(real)) -> str:
        return value + "+"

    @task
    def work(value: str = Depends(uses_real)) -> str:
        return value

    runtime = Runtime(transcripts=False)
    with runtime.override(real, lambda: "fake"):
        assert (await Flow.of(work).build().run(runtime=runtime)).output == "fake+"
    assert runtime.overrides == {}


async def test_builtin_providers_give_the_runtime_resources() -> None:
    @task
    async def read(
        config: Any = Depends(providers.config),
        llm: Any = Depends(providers.llm),
        forum: Any = Depends(providers.forum),
    ) -> tuple[Any, Any, Any]:
        return config["seed"], llm, forum

    runtime = Runtime(config={"seed": 7}, llm="the-llm", transcripts=False)  # type: ignore[arg-type]
    seed, llm, forum = (await Flow.of(read).build().run(runtime=runtime)).output
    assert (seed, llm) == (7, "the-llm")
    assert forum is runtime.forum


async def test_missing_builtin_resource_fails_the_task_clearly() -> None:
    @task
    async def needs_bus(bus: Any = Depends(providers.bus)) -> None:
        return None

    result = await Flow.of(needs_bus).build().run()
    cause = result.errors["needs_bus"].cause
    assert isinstance(cause, UsageError)
    assert "Runtime(bus=...)" in str(cause)


async def test_a_longer_lived_provider_cannot_use_a_shorter_lived_one() -> None:
    def short() -> int:
        return 1

    def long(value: int = Depends(short, scope="task")) -> int:
        return value

    @task
    async def work(value: int = Depends(long, scope="experiment")) -> int:
        return value

    result = await Flow.of(work).build().run()
    assert "lives shorter" in str(result.errors["work"].cause)


async def test_concurrent_tasks_share_one_run_scoped_value() -> None:
    async def slow_resource() -> object:
        import asyncio

        await asyncio.sleep(0.01)
        made.append(("slow", ""))
        return object()

    @task
    async def a(r: object = Depends(slow_resource)) -> object:
        return r

    @task
    async def b(r: object = Depends(slow_resource)) -> object:
        return r

    result = await dag(a, b).build().run()
    assert result.tasks["a"].output is result.tasks["b"].output
    assert len(made) == 1


async def test_runtime_call_injects_into_any_function() -> None:
    async def agent_like(question: str, prefix: str = Depends(counter, "p")) -> str:
        return f"{prefix}: {question}"

    runtime = Runtime()
    assert await runtime.call(agent_like, "why?") == "p#1: why?"


async def test_runtime_call_injects_into_agents() -> None:
    from evoforum.forum import Message, agent

    @agent(cache=False)
    async def greeter(branch: list[Message], greeting: str = Depends(counter, "hello")) -> str:
        return f"{greeting} {branch[-1].text}"

    answer = await Runtime().call(greeter, "world")
    assert isinstance(answer, Message)
    assert answer.text == "hello#1 world"


async def test_an_agent_called_directly_inside_a_runtime_gets_its_dependencies() -> None:
    from evoforum.forum import Message, agent

    @agent(cache=False)
    async def greeter(branch: list[Message], greeting: str = Depends(counter, "hello")) -> str:
        return f"{greeting} {branch[-1].text}"

    async with Runtime() as runtime:
        with runtime.override(counter, lambda label: f"{label}!"):
            assert (await greeter("world")).text == "hello! world"
    assert (await greeter("you", greeting="hi")).text == "hi you"  # given: nothing to inject


async def test_agents_nested_in_a_task_and_in_each_other_get_their_dependencies() -> None:
    from evoforum.forum import Message, agent

    @agent(cache=False)
    async def inner(branch: list[Message], config: Any = Depends(providers.config)) -> str:
        return f"inner sees {config['tone']}"

    @agent(cache=False)
    async def outer(
        branch: list[Message], tag: Annotated[str, Depends(counter, "run")]
    ) -> AsyncIterator[object]:
        yield f"{tag}; "
        yield inner(branch)

    @task
    async def ask(question: str) -> str:  # no Depends of its own: the agents find the runtime
        return (await outer(question)).text

    @task
    async def ask_twice(question: str, tag: Annotated[str, Depends(counter, "run")]) -> str:
        return f"{tag} | {(await outer(question)).text}"

    result = (
        await dag(ask, ask_twice).build().run({"question": "q"}, runtime=Runtime(config={"tone": "calm"}))
    )
    assert result.tasks["ask"].output == "run#1; inner sees calm"
    assert result.tasks["ask_twice"].output == "run#1 | run#1; inner sees calm"  # one run scope
    assert made == [("counter", "run")]


async def test_an_agent_with_dependencies_outside_any_runtime_says_how_to_get_them() -> None:
    from evoforum.errors import AgentFailed
    from evoforum.forum import Message, agent

    @agent(cache=False)
    async def needy(branch: list[Message], llm: Any = Depends(providers.llm)) -> str:
        return f"got {type(llm).__name__}"

    with pytest.raises(AgentFailed, match=r"needs 'llm'.*Runtime"):
        await needy("q")
