"""Start and stop the simulated portals: one threaded HTTP server per site, each on its own port."""

from __future__ import annotations

import socket
import threading
from types import TracebackType
from typing import Any

from sim.http import FaultState, LogEntry, Site, SiteServer, serve_in_thread
from sim.sites.dvc import DvcSite
from sim.sites.motcua import MotcuaSite
from sim.sites.national import NationalSite
from sim.sites.nukeviet import NukeVietSite
from sim.spec import DVC_SITE, MOTCUA_SITE, NATIONAL_SITE, FaultSpec, WorldSpec
from sim.truth import ground_truth
from sim.world import NewsEdit, World, edit_news, world_for


def _dead_port(host: str) -> int:
    """A port nothing listens on: bound, then closed, so a connection to it is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
    return port


class Simulation:
    """The simulated outside world: every configured site served over real HTTP on loopback."""

    def __init__(self, spec: WorldSpec, host: str = "127.0.0.1", port_base: int = 0) -> None:
        self.spec = spec
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
        self.urls: dict[str, str] = {}
        self._started = False

    # --- lifecycle ------------------------------------------------------------------------------------------

    def start(self) -> Simulation:
        for n, (site_id, site) in enumerate(self.sites.items()):
            faults = [f for f in self.spec.faults if f.site == site_id]
            port = self.port_base + n if self.port_base else 0
            if any(f.mode == "refused" for f in faults):
                self.urls[site_id] = f"http://{self.host}:{port or _dead_port(self.host)}"
                continue
            server = SiteServer(site, self.host, port, faults)
            self.servers[site_id] = server
            self.urls[site_id] = server.origin
        for site_id, site in self.sites.items():
            site.origin = self.urls[site_id]
        for portal in self.spec.portals:
            moved = self.servers.get(portal.id)
            if moved is not None and portal.successor:
                moved.successor_origin = self.urls.get(portal.successor)
        # Each serve loop wakes every poll interval to see whether it must stop: thousands of simulated portals
        # (`cchc sim --portals`) would keep a core busy with that alone, so they wake less often.
        poll_interval = 0.1 if len(self.servers) <= 100 else 1.0
        for server in self.servers.values():
            serve_in_thread(server, poll_interval)
        self._started = True
        return self

    def stop(self) -> None:
        servers = list(self.servers.values())
        for server in servers:
            server.stopping.set()
        # shutdown() waits for its serve loop to notice; waiting for all at once keeps stop() short.
        stoppers = [threading.Thread(target=server.shutdown) for server in servers]
        for thread in stoppers:
            thread.start()
        for thread in stoppers:
            thread.join()
        for server in servers:
            server.server_close()
        self.servers.clear()
        self._started = False

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
            server.stopping.set()
            server.shutdown()
            server.server_close()
            del self.servers[fault.site]
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
