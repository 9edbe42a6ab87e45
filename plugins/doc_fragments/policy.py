# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    """Renewal policy options, shared by expiry_info, acme_dns01 and the certwatch role."""

    DOCUMENTATION = r"""
options:
  renew_before:
    description:
      - Renew when less than this much validity is left.
      - A duration such as C(72h), C(30d), C(1d12h), or a number of seconds, from 0 to C(36500d).
      - Every duration option refuses non-finite (C(nan), C(inf)), negative and out-of-range values,
        naming the option and its range.
      - The larger of this and O(renew_fraction) of the lifetime wins.
      - When unset only O(renew_fraction) applies.
    type: str
  renew_fraction:
    description:
      - Share of the certificate's lifetime left at which to renew, between 0 and 1.
      - When unset, 1/3 of the lifetime, or 1/2 for certificates valid 10 days or less
        (so a 6-day certificate renews with 3 days left, a 90-day one with 30 days left).
    type: float
  leeway:
    description:
      - Clock-skew allowance, as a duration (0 to C(36500d)).
      - The certificate is treated as expiring this much sooner, and a C(not_before) up to this much
        in the future still counts as valid.
    type: str
    default: "0"
  now:
    description:
      - Evaluate the policy at this ISO 8601 time instead of the host clock, for what-if planning
        (for example C(2026-12-24T00:00:00Z)) and tests.
    type: str
  force:
    description:
      - Treat every certificate as due.
    type: bool
    default: false
"""
