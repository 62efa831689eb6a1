"""The pane modules import first and alone: no cycle that a lucky import order hides.

(Were webapp/people/__init__.py to load the people views again, importing the pane first would fail.)
"""

import subprocess
import sys

import pytest

SHARED_FIRST = [
    "webapp.panes.conversation",
    "webapp.people.boxes",
    "webapp.people.routes",
]


@pytest.mark.parametrize("module", SHARED_FIRST)
def test_module_imports_first_in_a_fresh_interpreter(module):
    result = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
