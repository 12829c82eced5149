"""Message trees: content-hashed messages, streaming promises, agents, forums and their stores."""

from evoforum.forum.agent import Agent, agent
from evoforum.forum.forum import Forum
from evoforum.forum.message import Message
from evoforum.forum.promise import MessagePromise
from evoforum.forum.stores import ForumStore, InMemoryStore, MessageStore, PostgresStore

__all__ = [
    "Agent",
    "Forum",
    "ForumStore",
    "InMemoryStore",
    "Message",
    "MessagePromise",
    "MessageStore",
    "PostgresStore",
    "agent",
]
