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
- With no slot free, a client that holds none may wait for one, at most
  ``max_wait`` seconds, in a queue of at most ``waiting`` clients, one
  request each. A slot set free goes to the first of them, never to a new
  request: no client gets another slot while one that has none waits.
- Every other request is refused at once: that of a client that already
  holds a slot or waits for one, or that finds the queue full.

Only a client holding no slot may wait, because a waiting request holds a
worker thread: a flood, from one address or a few, holds a slot at each,
so none of its requests waits, and the threads it does not hold stay free
for cheap requests such as ``GET /profile``. Letting every client wait
cost ``GET /profile`` a thread for nothing (bench/README.md measures both).

It knows nothing of HTTP: a client is any string (``client_key`` makes one
from an address), and ``acquire`` answers ``False`` where the caller is to
refuse. Every operation runs under one lock in constant time; no thread
runs in the background; a client is remembered only while it holds a slot
or waits for one.
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
# How many clients may wait at once. Each holds a worker thread: with
# waitress's 4 threads and a slot per core on 2 cores, one waiter leaves one
# thread for everything that needs no bcrypt, and two can leave none (with
# two floods waiting, GET /profile took seconds: bench/README.md).
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
    """One request waiting for a slot; ``granted`` once ``release`` gives it one."""

    woken: threading.Event = field(default_factory=threading.Event)
    granted: bool = False


class FairSlots:
    """At most ``slots`` holders at once, shared between clients as the module docstring says."""

    def __init__(
        self, slots: int, waiting: int = DEFAULT_WAITING, max_wait: float = DEFAULT_MAX_WAIT
    ) -> None:
        """Offer ``slots`` slots, with at most ``waiting`` clients waiting ``max_wait`` seconds."""
        if slots < 1 or waiting < 0 or max_wait < 0:
            raise ValueError("FairSlots needs slots >= 1, waiting >= 0 and max_wait >= 0")
        self._free = slots
        self._waiting = waiting
        self._max_wait = max_wait
        self._lock = threading.Lock()
        # The clients holding slots, and how many each: at most ``slots`` of them.
        self._holding: dict[str, int] = {}
        # The clients waiting, the earliest first (a dict keeps the order in
        # which keys went in): at most ``waiting`` of them, none holding a slot.
        self._waiters: dict[str, _Waiter] = {}

    def acquire(self, client: str, timeout: float | None = None) -> bool:
        """Take a slot for ``client``, waiting if the rules let it; ``False`` means refused.

        ``timeout`` is how long this request may wait, ``max_wait`` by default.
        """
        with self._lock:
            if self._free:
                # A slot is free only while nobody waits (``release`` hands a
                # slot straight to a waiter), so nobody else wants it.
                self._free -= 1
                self._holding[client] = self._holding.get(client, 0) + 1
                return True
            if (
                client in self._holding
                or client in self._waiters
                or len(self._waiters) >= self._waiting
            ):
                return False
            waiter = self._waiters[client] = _Waiter()
        waiter.woken.wait(self._max_wait if timeout is None else timeout)
        with self._lock:
            if not waiter.granted:  # nobody gave it a slot in time: leave the queue
                del self._waiters[client]
            return waiter.granted

    def release(self, client: str) -> None:
        """Give back a slot ``client`` holds; it goes to the first waiter, if any, or is free."""
        with self._lock:
            held = self._holding.get(client, 0)
            if not held:
                raise ValueError(f"client {client!r} holds no slot to release")
            if held == 1:
                del self._holding[client]  # remembered no longer than needed
            else:
                self._holding[client] = held - 1
            if not self._waiters:
                self._free += 1
                return
            first = next(iter(self._waiters))
            waiter = self._waiters.pop(first)
            self._holding[first] = 1  # a waiter held none
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
        """How many clients wait for a slot now."""
        with self._lock:
            return len(self._waiters)

    @property
    def clients(self) -> int:
        """How many clients are remembered now: those holding or waiting for a slot."""
        with self._lock:
            return len(self._holding) + len(self._waiters)

    def holding(self, client: str) -> int:
        """How many slots ``client`` holds now."""
        with self._lock:
            return self._holding.get(client, 0)
