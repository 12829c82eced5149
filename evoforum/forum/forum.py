"""``Forum``: post, read, branch, fork, forward and reply over a message store."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from evoforum.forum.message import Message
from evoforum.forum.promise import MessagePromise
from evoforum.forum.stores._memory import InMemoryStore
from evoforum.forum.stores._protocol import ForumStore
from evoforum.hashing import Hash

if TYPE_CHECKING:
    from evoforum.forum.agent import Agent


class Forum:
    """Message trees over a store (in memory unless one is passed).

    Every message names its parent by hash, so a branch is the chain from a root to any message,
    and forking is posting a message whose parent is any earlier hash.
    """

    def __init__(self, store: ForumStore | None = None) -> None:
        self.store: ForumStore = store if store is not None else InMemoryStore()

    async def post(self, message: Message) -> Hash:
        """Store ``message`` (its parent must be stored: else ``UnknownMessage``); its hash."""
        await self.store.put_many((message,))
        return message.hash

    async def post_many(self, messages: Sequence[Message]) -> list[Hash]:
        """Store ``messages`` in one batch, all or none; their hashes in the order given."""
        if messages:
            await self.store.put_many(messages)
        return [m.hash for m in messages]

    async def get(self, hash_: str) -> Message:
        """The message named by ``hash_`` (``UnknownMessage`` if not stored)."""
        return await self.store.get(hash_)

    async def resolve(self, prefix: str) -> Hash:
        """The full hash of the one stored message whose hash starts with ``prefix``."""
        return await self.store.resolve(prefix)

    async def branch(self, hash_: str) -> list[Message]:
        """The conversation ``hash_`` names: the messages from the root down to it."""
        return await self.store.branch(hash_)

    async def children(self, hash_: str) -> list[Message]:
        """The messages posted directly after ``hash_`` (more than one where the tree forks)."""
        return await self.store.children(hash_)

    async def append(
        self, head: str | None, contents: Iterable[Any], sender: str = "user", **fields: Any
    ) -> list[Message]:
        """Post ``contents`` one after another below ``head`` (None: a new root); the messages.

        Each item is a ``Message`` (re-parented: the same content and kind, the new position) or
        content for a new message from ``sender``; ``fields`` go to every new ``Message``.
        """
        chain: list[Message] = []
        parent = head
        for item in contents:
            if isinstance(item, Message):
                message = item.moved(parent)
            else:
                message = Message(item, sender, parent, **fields)
            chain.append(message)
            parent = message.hash
        await self.post_many(chain)
        return chain

    async def forward(self, original: Message | str, onto: str | None, sender: str = "user") -> Message:
        """Post a copy of ``original`` (a message or a stored hash) below ``onto``; it records the original."""
        source = original if isinstance(original, Message) else await self.get(original)
        message = Message.forward(source, sender, onto)
        await self.post(message)
        return message

    async def reply(
        self, to: Message | str, content: Any, sender: str = "user", at: str | None = None
    ) -> Message:
        """Post ``content`` answering ``to`` (any earlier message), below ``at`` (default: ``to``)."""
        target = to.hash if isinstance(to, Message) else to
        await self.get(target)  # the message replied to must exist
        message = Message.reply(target, content, sender, at if at is not None else target)
        await self.post(message)
        return message

    def ask(self, agent: Agent, at: str | None, **kwargs: Any) -> MessagePromise:
        """Call ``agent`` on the branch ending at the stored message ``at``, bound to this forum."""

        async def produce(promise: MessagePromise) -> Message:
            branch = await self.branch(at) if at is not None else []
            inner = agent(branch, forum=self, **kwargs)
            return await promise._forward(inner, settled=True)

        return MessagePromise(produce, sender=agent.name, parent=at, max_lag=agent.max_lag)

    async def close(self) -> None:
        await self.store.close()
