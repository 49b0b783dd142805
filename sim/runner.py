"""Start and stop the simulated portals: each site on its own port, served by one of two front ends (a thread
per site and per connection, or one event loop for every site)."""

from __future__ import annotations

import socket
from types import TracebackType
from typing import Any, Literal, Protocol

from sim.http import FaultState, LogEntry, Site, SiteServer, ThreadsFrontEnd
from sim.serveloop import EventLoopServer
from sim.sites.dvc import DvcSite
from sim.sites.motcua import MotcuaSite
from sim.sites.national import NationalSite
from sim.sites.nukeviet import NukeVietSite
from sim.spec import DVC_SITE, MOTCUA_SITE, NATIONAL_SITE, FaultSpec, WorldSpec
from sim.truth import ground_truth
from sim.world import NewsEdit, World, edit_news, world_for


def _refusing_socket(host: str, port: int = 0) -> socket.socket:
    """A socket bound to the port and never listening: a connection to it is refused, and while it is held no
    other server can take the port. (A port bound and closed at once was free again: a server started meanwhile,
    by this process or another, could take it, and the "refused" site then answered.)"""
    held = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # As the sites' listeners do: the port may have connections in TIME_WAIT (a site taken off the network while
    # running, a fixed port_base right after a demo).
    held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        held.bind((host, port))
    except OSError:
        held.close()
        raise
    return held


FrontEndName = Literal["threads", "event-loop"]
FRONT_ENDS: tuple[FrontEndName, ...] = ("threads", "event-loop")


class FrontEnd(Protocol):
    """What carries the bytes between the sites' sockets and their Exchanges."""

    def serve(self, servers: list[SiteServer]) -> None: ...

    def withdraw(self, server: SiteServer) -> None: ...

    def stop(self) -> None: ...


class Simulation:
    """The simulated outside world: every configured site served over real HTTP on loopback.

    front_end="threads" (the default: a serve thread per site and a thread per connection) or "event-loop"
    (one thread for every site, sim/serveloop.py: for thousands of portals). Both answer alike."""

    def __init__(
        self,
        spec: WorldSpec,
        host: str = "127.0.0.1",
        port_base: int = 0,
        front_end: FrontEndName = "threads",
    ) -> None:
        if front_end not in FRONT_ENDS:
            raise ValueError(f"front_end: expected one of {', '.join(FRONT_ENDS)}, got {front_end!r}")
        self.spec = spec
        self.front_end_name = front_end
        self.host = host
        self.port_base = port_base
        self.world: World = world_for(spec)
        self.sites: dict[str, Site] = {
            DVC_SITE: DvcSite(self.world),
            MOTCUA_SITE: MotcuaSite(),
            NATIONAL_SITE: NationalSite(self.world, spec.national_bot_protection),
        }
        for portal in spec.portals:
            self.sites[portal.id] = NukeVietSite(self.world, portal)
        self.servers: dict[str, SiteServer] = {}
        self._refusing: list[socket.socket] = []  # the ports of the sites taken off the network
        self.urls: dict[str, str] = {}
        self.front_end: FrontEnd | None = None
        self._started = False

    # --- lifecycle ------------------------------------------------------------------------------------------

    def start(self) -> Simulation:
        for n, (site_id, site) in enumerate(self.sites.items()):
            faults = [f for f in self.spec.faults if f.site == site_id]
            port = self.port_base + n if self.port_base else 0
            try:
                if any(f.mode == "refused" for f in faults):
                    held = _refusing_socket(self.host, port)
                    self._refusing.append(held)
                    self.urls[site_id] = f"http://{self.host}:{held.getsockname()[1]}"
                    continue
                server = SiteServer(site, self.host, port, faults)
            except OSError:  # a port taken: nothing of this simulation stays bound
                self._close_sockets()
                raise
            self.servers[site_id] = server
            self.urls[site_id] = server.origin
        for site_id, site in self.sites.items():
            site.origin = self.urls[site_id]
        for portal in self.spec.portals:
            moved = self.servers.get(portal.id)
            if moved is not None and portal.successor:
                moved.successor_origin = self.urls.get(portal.successor)
        self.front_end = EventLoopServer() if self.front_end_name == "event-loop" else ThreadsFrontEnd()
        self.front_end.serve(list(self.servers.values()))
        self._started = True
        return self

    def stop(self) -> None:
        if self.front_end is not None:
            self.front_end.stop()
            self.front_end = None
        self._close_sockets()
        self._started = False

    def _close_sockets(self) -> None:
        for server in self.servers.values():
            server.socket.close()
        self.servers.clear()
        for held in self._refusing:
            held.close()
        self._refusing.clear()

    def __enter__(self) -> Simulation:
        return self.start() if not self._started else self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- control, for tests and the demo --------------------------------------------------------------------

    def url(self, site_id: str) -> str:
        return self.urls[site_id]

    def inject(self, fault: FaultSpec) -> None:
        """Add a fault to a running site ("refused" takes the site off the network)."""
        server = self.servers[fault.site]
        if fault.mode == "refused":
            port = server.socket.getsockname()[1]
            if self.front_end is not None:
                self.front_end.withdraw(server)
            server.socket.close()
            del self.servers[fault.site]
            self._refusing.append(_refusing_socket(self.host, port))
            return
        server.faults.append(FaultState(fault))

    def clear_faults(self, site_id: str) -> None:
        self.servers[site_id].faults.clear()

    def log(self, site_id: str) -> list[LogEntry]:
        server = self.servers[site_id]
        with server.log_lock:
            return list(server.log)

    def clear_logs(self) -> None:
        for server in self.servers.values():
            with server.log_lock:
                server.log.clear()

    def trap_calls(self) -> dict[str, list[str]]:
        return {site_id: list(site.trap_calls) for site_id, site in self.sites.items() if site.trap_calls}

    def edit_news(self) -> list[NewsEdit]:
        """Editors at work between two crawls, on the sites whose settings allow it (SiteSettings.edits):
        one post removed, one re-dated, one added with an old date, on each. The truth follows."""
        edits = edit_news(self.world)
        for site in self.sites.values():
            if isinstance(site, NukeVietSite):
                site.reload()
        return edits

    def truth(self) -> dict[str, Any]:
        return ground_truth(self.world)
