"""Where the system Chromium is: the configured executable, else Debian's on PATH; never Playwright's download.

Both the renderer (captures) and the reports (PDF printing) launch it, so finding it is its own small room.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from cchc.errors import CchcError

INSTALL_COMMAND = "sudo apt-get install -y chromium"


class BrowserNotFound(CchcError):
    """No Chromium to launch; the message names the command that installs Debian's."""

    def __init__(self, executable: str = "") -> None:
        self.executable = executable
        where = f" at {executable}" if executable else " on PATH (looked for chromium and chromium-browser)"
        super().__init__(f"Chromium not found{where}: install it with `{INSTALL_COMMAND}`")


def find_chromium(executable: str = "") -> str:
    """The Chromium to launch: the configured one, else Debian's on PATH; never Playwright's download."""
    if executable:
        found = shutil.which(executable)
        if found is None and not Path(executable).is_file():
            raise BrowserNotFound(executable)
        return found or executable
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        raise BrowserNotFound()
    return found
