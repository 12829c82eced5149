"""Message trees: content-hashed messages, streaming promises, agents, forums and their stores."""

from evoforum.forum.agent import Agent, agent
from evoforum.forum.forum import Forum
from evoforum.forum.message import Kind, Message
from evoforum.forum.promise import MessagePromise
from evoforum.forum.stores import ForumStore, InMemoryStore, MessageStore, PostgresStore, RefIndex

__all__ = [
    "Agent",
    "Forum",
    "ForumStore",
    "InMemoryStore",
    "Kind",
    "Message",
    "MessagePromise",
    "MessageStore",
    "PostgresStore",
    "RefIndex",
    "agent",
]
