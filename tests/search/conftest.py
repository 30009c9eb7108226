"""Fixtures for the search tests: the demo data plus a staff account per organ of interest."""

from __future__ import annotations

import pytest
from investigation_helpers import add_user

from workflows.roles import Role


@pytest.fixture
def staff(demo):
    """Demo accounts plus an inspector at 海淀分局 (a sibling of 朝阳分局) and at 南通崇川
    (an organ with no cases)."""
    add_user("hd_inspector", Role.INSPECTOR, "BJ-HD")
    add_user("nt_inspector", Role.INSPECTOR, "NT-CC")
    return demo
