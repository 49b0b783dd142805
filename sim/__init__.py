"""The outside world in a box: simulated portals over real HTTP on loopback, their ground truth, injectable faults.

sim/ imports nothing from the rest of cchc-watch; the CLI (the demo) and the tests build a WorldSpec for it.
"""

from sim.runner import Simulation
from sim.spec import FAULT_MODES, CitySpec, FaultSpec, PortalSpec, SiteSettings, UnitSpec, WorldSpec
from sim.truth import ground_truth
from sim.world import World, generate_world

__all__ = [
    "FAULT_MODES",
    "CitySpec",
    "FaultSpec",
    "PortalSpec",
    "Simulation",
    "SiteSettings",
    "UnitSpec",
    "World",
    "WorldSpec",
    "generate_world",
    "ground_truth",
]
