"""``@agent``: turn an async function, async generator or class into an agent.

An agent receives the branch (``list[Message]``, root first) and any keyword arguments the caller
passes, and produces one answer message by yielding or returning. A parameter declared with
``Depends(...)`` that the caller does not pass is resolved by the runtime the call runs in
(``evoforum/forum/injection.py``): inside ``async with Runtime()``, a flow run or ``runtime.call``,
also when the agent is called from a task or nested in another agent; outside any runtime the
agent fails with a ``UsageError`` saying so. The answer is one of:

- ``str``: tokens, streamed at once; the answer's text is their concatenation;
- a ``MessagePromise`` (another agent's call): its tokens are streamed through as they come, and
  its answer's text joins this agent's text;
- a ``Message`` or a pydantic model: a text message joins the text like a token; anything else
  (data, reply, forward …) becomes the answer itself (a structured answer wins over streamed text).

Calling an agent returns a ``MessagePromise`` at once. With ``forum=`` the branch, the answer (or
the error / cancelled marker) are posted to the forum, and the answer is cached in the forum's
store under (agent identity, branch hash): a later call on the same branch streams the stored
answer without running the agent. The identity is ``module.qualname/name@version``: the agent's
name (its messages' sender) and its version, a hash of its source, defaults and closure values
taken when the agent is made (``evoforum/forum/_identity.py``). So a changed agent never reuses
an old answer, and two agents one factory makes with different names or prompts never share one.
An agent whose closure holds a value with no canonical form (a lock, a client) needs an explicit
``version=`` to be cached: calling it with a forum raises ``UsageError`` saying so.
``@agent(cache=False)`` opts out. Keyword arguments are not part of the key (they carry injected
resources such as an LLM client): an agent whose answer depends on them should opt out, or put
what matters on the branch.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, overload

from pydantic import BaseModel

from evoforum.errors import NotSerializable, UsageError
from evoforum.forum._identity import code_version
from evoforum.forum.injection import INJECTOR, injected_parameters
from evoforum.forum.message import Message
from evoforum.forum.promise import DEFAULT_MAX_LAG, MessagePromise
from evoforum.hashing import Hash

if TYPE_CHECKING:
    from evoforum.forum.forum import Forum

CACHE_NAMESPACE = "agent-answer"
"""The ref-index namespace of cached agent answers."""

Branch = Sequence[Message] | Message | str | None


class Agent:
    """An agent: call it with a branch to get a ``MessagePromise``."""

    def __init__(
        self,
        target: Callable[..., Any],
        *,
        name: str | None = None,
        cache: bool = True,
        version: str | None = None,
        max_lag: int = DEFAULT_MAX_LAG,
    ) -> None:
        self.target = target
        self.name: str = name or str(getattr(target, "__name__", type(target).__name__))
        self.qualname = f"{target.__module__}.{getattr(target, '__qualname__', self.name)}"
        self.cache = cache
        self.max_lag = max_lag
        self.__doc__ = target.__doc__
        self.version: str | None = version
        self._unversioned: NotSerializable | None = None
        if version is None:
            try:
                self.version = code_version(target)
            except NotSerializable as error:  # raised when the cache needs the identity
                self._unversioned = error

    @property
    def identity(self) -> str:
        """``module.qualname/name@version``: what cached answers are keyed by.

        ``UsageError`` when the version could not be computed (a closure value with no canonical
        form) and none was given.
        """
        if self.version is None:
            raise UsageError(
                f"agent {self.name!r} cannot key its cached answers: {self._unversioned}; give it an"
                " explicit @agent(version=...) that changes whenever its answers would, or cache=False"
            )
        return f"{self.qualname}/{self.name}@{self.version}"

    def __evoforum_fingerprint__(self) -> str:
        """An agent held by another agent's closure counts by its identity."""
        if self.version is None:
            assert self._unversioned is not None
            raise self._unversioned
        return self.identity

    def __repr__(self) -> str:
        return f"<agent {self.qualname}/{self.name}@{self.version or '?'}>"

    def __call__(
        self, branch: Branch = None, /, *, forum: Forum | None = None, **kwargs: Any
    ) -> MessagePromise:
        """Start the agent on ``branch`` (messages, one message, a str, or None) and return at once."""
        messages = _as_branch(branch)
        head = messages[-1].hash if messages else None
        key = self.cache_key(head) if forum is not None and self.cache else None
        on_cancel = None
        if forum is not None:

            async def on_cancel(marker: Message) -> None:
                await forum.post_many([*messages, marker])  # the branch may not be posted yet

        async def produce(promise: MessagePromise) -> Message:
            return await self._produce(promise, messages, head, forum, key, kwargs)

        return MessagePromise(
            produce, sender=self.name, parent=head, max_lag=self.max_lag, on_cancel=on_cancel
        )

    def cache_key(self, head: str | None) -> str:
        return f"{self.identity}:{head or 'root'}"

    async def _produce(
        self,
        promise: MessagePromise,
        branch: list[Message],
        head: Hash | None,
        forum: Forum | None,
        key: str | None,
        kwargs: dict[str, Any],
    ) -> Message:
        if forum is not None:
            await forum.post_many(branch)
            if key is not None:
                hit = await forum.store.get_ref(CACHE_NAMESPACE, key)
                if hit:
                    message = await forum.get(hit[-1])
                    promise._push(message.text)
                    return message
        try:
            answer = await self._run(promise, branch, head, kwargs)
        except Exception as error:
            promise._cause = error  # awaiting the promise raises AgentFailed caused by it
            failed = Message.error(error, self.name, head)
            if forum is not None:
                await forum.post(failed)
            return failed
        if forum is not None:
            await forum.post(answer)
            if key is not None:
                await forum.store.put_ref(CACHE_NAMESPACE, key, [answer.hash])
        return answer

    async def _run(
        self, promise: MessagePromise, branch: list[Message], head: Hash | None, kwargs: dict[str, Any]
    ) -> Message:
        declared: Any = self.target
        target: Any = declared
        if inspect.isclass(self.target):  # a class agent: a fresh instance per call
            owner: Any = self.target
            declared, target = owner.run, owner().run
        missing = [name for name in injected_parameters(declared) if name not in kwargs]
        if not missing:
            return await self._answer(promise, target(list(branch), **kwargs), head)
        inject = INJECTOR.get()
        if inject is None:
            raise UsageError(
                f"agent {self.name!r} needs {', '.join(map(repr, missing))} from a provider (Depends):"
                f" call it inside `async with Runtime(...)`, a flow run or runtime.call, or pass"
                f" {missing[0]}=... yourself"
            )
        async with inject(declared, kwargs) as values:
            return await self._answer(promise, target(list(branch), **kwargs, **values), head)

    async def _answer(self, promise: MessagePromise, result: Any, head: Hash | None) -> Message:
        """Stream what the agent's function gives (an async generator, an awaitable or a value)."""
        parts: list[str] = []
        answer: Message | None = None
        if inspect.isasyncgen(result):
            async for item in result:
                answer = await _take(promise, item, parts) or answer
        else:
            value = await result if inspect.isawaitable(result) else result
            if value is not None:
                answer = await _take(promise, value, parts)
        if answer is None:
            return Message("".join(parts), self.name, head)
        return answer.moved(head, sender=self.name)


async def _take(promise: MessagePromise, item: object, parts: list[str]) -> Message | None:
    """Stream one yielded item; return it when it is a structured answer rather than text."""
    if isinstance(item, str):
        parts.append(item)
        if promise._push(item):
            await promise._throttle()
        return None
    if isinstance(item, MessagePromise):
        message = await promise._forward(item)
        if message.kind == "text":
            parts.append(message.text)
            return None
        return message
    if isinstance(item, BaseModel) and not isinstance(item, Message):
        item = Message(item)
    if isinstance(item, Message):
        text = item.text
        if item.kind == "text":
            parts.append(text)
        if promise._push(text):
            await promise._throttle()
        return None if item.kind == "text" else item
    raise NotSerializable(
        f"an agent yields str, Message, a pydantic model or another agent's promise, not {type(item).__name__}"
    )


def _as_branch(branch: Branch) -> list[Message]:
    if branch is None:
        return []
    if isinstance(branch, str):
        return [Message(branch)]
    if isinstance(branch, Message):
        return [branch]
    return list(branch)


@overload
def agent(target: Callable[..., Any], /) -> Agent: ...


@overload
def agent(
    *, name: str | None = None, cache: bool = True, version: str | None = None, max_lag: int = DEFAULT_MAX_LAG
) -> Callable[[Callable[..., Any]], Agent]: ...


def agent(
    target: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    cache: bool = True,
    version: str | None = None,
    max_lag: int = DEFAULT_MAX_LAG,
) -> Agent | Callable[[Callable[..., Any]], Agent]:
    """Make an agent of an async function, an async generator, or a class with a ``run`` method.

    ``name`` is the sender of its messages (default: the function's name); ``version`` replaces
    the hash of its source, defaults and closure values; ``cache=False`` never reuses a stored answer.
    """

    def wrap(function: Callable[..., Any]) -> Agent:
        return Agent(function, name=name, cache=cache, version=version, max_lag=max_lag)

    return wrap(target) if target is not None else wrap
