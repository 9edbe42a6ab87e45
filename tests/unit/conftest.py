# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The lab fixtures, shared with the integration tests (tests/support/lab_fixture.py)."""

from __future__ import annotations

import pytest
from lab_fixture import LabHandle, lab, quiet_lab

__all__ = ["LabHandle", "lab", "quiet_lab"]  # fixtures for pytest; LabHandle for the test modules

LAB_FIXTURES = {"lab", "quiet_lab"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that uses the lab (Pebble, BIND9, the ACME proxy) is marked ``lab``: ``make unit`` runs the others,
    with nothing from apt (``pytest -m "not lab"``); ``make integration`` runs these."""
    for item in items:
        if LAB_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.lab)
