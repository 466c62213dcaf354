"""Share a few slots fairly between clients: ``FairSlots``, and ``client_key`` to name a client.

bcrypt is the one costly thing the service does, on purpose, so the number
of checks running at once is capped at the cores (``Auth`` holds one slot
around each). A plain semaphore gives a free slot to whoever asks first,
and a client that floods, asking again the moment it is refused, is nearly
always first: a person who waits as ``Retry-After`` says finds every slot
taken, retry after retry (bench/README.md, "Fair bcrypt slots").

``FairSlots`` decides who gets a slot by client instead:

- A free slot is taken at once by whoever asks, even by a client that holds
  others already: with nobody else asking, a lone client may use them all
  (behind a proxy every request has the proxy's address, and holding that
  one client to one slot would halve what the cores can do).
- With no slot free, a request may wait for one, at most ``max_wait``
  seconds, in a queue of at most ``waiting`` requests, and only one per
  client: the rest of a client's requests are refused at once.
- A slot set free goes to the waiter whose client holds the fewest slots
  (the earliest, among equals), never to a new request: no client gets
  another slot while a client that has none waits for one.
- When the queue is full, a newcomer whose client holds fewer slots than a
  waiting client takes that waiter's place, and the waiter is refused. So a
  flood from one address cannot keep another address out of the queue.

It knows nothing of HTTP: a client is any string (``client_key`` makes one
from an address), and ``acquire`` answers ``False`` where the caller is to
refuse. Every operation runs under one lock, in time bounded by ``waiting``;
no thread runs in the background; a client is remembered only while it
holds a slot or waits for one.
"""

import contextlib
import ipaddress
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

# The key of every address that cannot be read as one: they share one client.
UNKNOWN_CLIENT = "unknown"
# How long a request may wait for a slot, in seconds. It holds a worker
# thread meanwhile; past a second, a client told "Retry-After: 1" at once
# would have done as well.
DEFAULT_MAX_WAIT = 1.0
# How many requests may wait at once. Each holds a worker thread: with
# waitress's 4 threads and a slot per core on 2 cores, one waiter leaves one
# thread for everything that needs no bcrypt (bench/README.md measures it).
DEFAULT_WAITING = 1


def client_key(remote_addr: str) -> str:
    """Return the client an address belongs to, as the key ``FairSlots`` counts by.

    An IPv4 address is its own client. An IPv6 address stands for its /64:
    one end site is given a /64 or more (RFC 6177), and picks any of its
    2**64 addresses at will (RFC 8981), so counting single IPv6 addresses
    would count nothing. An IPv4-mapped IPv6 address (``::ffff:192.0.2.7``,
    RFC 4291 §2.5.5.2) is the IPv4 address it maps. Anything else, an empty
    string included, is ``UNKNOWN_CLIENT``.
    """
    try:
        address = ipaddress.ip_address(remote_addr)
    except ValueError:
        return UNKNOWN_CLIENT
    if isinstance(address, ipaddress.IPv4Address):
        return str(address)
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(ipaddress.IPv6Network((int(address) >> 64 << 64, 64)))


@dataclass(eq=False)
class _Waiter:
    """One request waiting for a slot; ``granted`` is ``None`` until it is decided."""

    client: str
    woken: threading.Event = field(default_factory=threading.Event)
    granted: bool | None = None


@dataclass(eq=False)
class _Client:
    """What one client has now: the slots it holds, and its one waiting request."""

    holding: int = 0
    waiter: _Waiter | None = None


class FairSlots:
    """At most ``slots`` holders at once, shared between clients as the module docstring says."""

    def __init__(
        self, slots: int, waiting: int = DEFAULT_WAITING, max_wait: float = DEFAULT_MAX_WAIT
    ) -> None:
        """Offer ``slots`` slots, with at most ``waiting`` requests waiting ``max_wait`` seconds."""
        if slots < 1 or waiting < 0 or max_wait < 0:
            raise ValueError("FairSlots needs slots >= 1, waiting >= 0 and max_wait >= 0")
        self._free = slots
        self._waiting = waiting
        self._max_wait = max_wait
        self._lock = threading.Lock()
        # Only clients that hold a slot or wait for one: at most slots + waiting.
        self._clients: dict[str, _Client] = {}
        # The waiting requests, the earliest first; at most ``waiting`` of them.
        self._queue: list[_Waiter] = []

    def acquire(self, client: str, timeout: float | None = None) -> bool:
        """Take a slot for ``client``, waiting if the rules let it; ``False`` means refused.

        ``timeout`` is how long this request may wait, ``max_wait`` by default.
        """
        with self._lock:
            if self._free:
                # A slot is free only while nobody waits (``release`` hands a
                # slot straight to a waiter), so nobody else wants it.
                self._free -= 1
                self._clients.setdefault(client, _Client()).holding += 1
                return True
            waiter = self._enqueue(client)
            if waiter is None:
                return False
        waiter.woken.wait(self._max_wait if timeout is None else timeout)
        with self._lock:
            if waiter.granted is None:  # nobody decided in time: give up the place
                self._queue.remove(waiter)
                self._drop_waiter(waiter)
                return False
            return waiter.granted

    def release(self, client: str) -> None:
        """Give back a slot ``client`` holds; it goes to a waiter, if any, or is free."""
        with self._lock:
            state = self._clients.get(client)
            if state is None or not state.holding:
                raise ValueError(f"client {client!r} holds no slot to release")
            state.holding -= 1
            self._forget_if_idle(client, state)
            if not self._queue:
                self._free += 1
                return
            # The waiter whose client holds the fewest slots; min() keeps the
            # earliest among equals.
            waiter = min(self._queue, key=lambda w: self._clients[w.client].holding)
            self._queue.remove(waiter)
            chosen = self._clients[waiter.client]
            chosen.waiter = None
            chosen.holding += 1
            waiter.granted = True
            waiter.woken.set()

    @contextlib.contextmanager
    def hold(self, client: str) -> Iterator[bool]:
        """Hold a slot for ``client`` during the block, if one is given; yield whether it was."""
        held = self.acquire(client)
        try:
            yield held
        finally:
            if held:
                self.release(client)

    @property
    def free(self) -> int:
        """How many slots nobody holds now."""
        with self._lock:
            return self._free

    @property
    def waiting(self) -> int:
        """How many requests wait for a slot now."""
        with self._lock:
            return len(self._queue)

    @property
    def clients(self) -> int:
        """How many clients are remembered now: those holding or waiting for a slot."""
        with self._lock:
            return len(self._clients)

    def holding(self, client: str) -> int:
        """How many slots ``client`` holds now."""
        with self._lock:
            state = self._clients.get(client)
            return state.holding if state else 0

    # --- under the lock ------------------------------------------------------

    def _enqueue(self, client: str) -> _Waiter | None:
        """Queue a request of ``client`` for the next slot, or return ``None`` to refuse it."""
        state = self._clients.get(client)
        holding = state.holding if state else 0
        if self._waiting == 0 or (state is not None and state.waiter is not None):
            return None
        if len(self._queue) >= self._waiting:
            # The queue is full: the newest waiter of the client holding the
            # most slots makes way, if that client holds more than this one.
            victim = max(reversed(self._queue), key=lambda w: self._clients[w.client].holding)
            if self._clients[victim.client].holding <= holding:
                return None
            self._queue.remove(victim)
            self._drop_waiter(victim)
            victim.granted = False
            victim.woken.set()
        waiter = _Waiter(client)
        self._queue.append(waiter)
        self._clients.setdefault(client, _Client()).waiter = waiter
        return waiter

    def _drop_waiter(self, waiter: _Waiter) -> None:
        """Forget that ``waiter``'s client waits, and the client too if that was all."""
        state = self._clients[waiter.client]
        state.waiter = None
        self._forget_if_idle(waiter.client, state)

    def _forget_if_idle(self, client: str, state: _Client) -> None:
        """Forget ``client`` once it neither holds nor waits: memory stays bounded."""
        if not state.holding and state.waiter is None:
            del self._clients[client]
