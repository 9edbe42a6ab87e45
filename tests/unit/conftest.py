# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The lab fixtures, shared with the integration tests (tests/support/lab_fixture.py)."""

from __future__ import annotations

from lab_fixture import LabHandle, lab, quiet_lab

__all__ = ["LabHandle", "lab", "quiet_lab"]  # fixtures for pytest; LabHandle for the test modules
