"""Partners (loan channels), lenders and which lenders each partner may route to.

The marketplace is fixed and small, so it is written out by hand: a dictionary is easier to review than a random
draw, and the numbers that shape applicant quality per channel (``quality_shift``, ``thin_file_uplift`` ...) sit next
to the names the analysts will see.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Partner:
    """A loan channel and the generator's (hidden) view of the applicants it sends."""

    partner_id: str
    name: str
    channel_type: str
    quality_tier: str
    onboarded_on: dt.date
    volume_share: float
    """Share of the established daily volume (the new partner's volume is added on top)."""
    quality_shift: float
    """Mean of the applicants' latent creditworthiness (standard normal units; higher is better)."""
    thin_file_uplift: float
    """Added to the base thin-file probability (first-time borrowers cluster on some channels)."""
    enquiry_uplift: float
    """Multiplier on enquiry velocity (credit-hungry applicants shop around)."""
    salaried_share: float


@dataclass(frozen=True)
class Lender:
    """A bank or NBFC funding loans on the marketplace."""

    lender_id: str
    name: str
    lender_type: str
    active: bool
    appetite: str
    """Risk appetite (prime/near_prime/subprime): informs the decision engine's default policies."""


_LONG_AGO = dt.date(2022, 4, 1)

ESTABLISHED_PARTNERS: tuple[Partner, ...] = (
    Partner("P01", "Paisabazaar", "aggregator", "prime", _LONG_AGO, 0.22, 0.35, 0.00, 1.00, 0.78),
    Partner("P02", "BankBazaar", "aggregator", "prime", dt.date(2022, 9, 15), 0.16, 0.30, 0.00, 1.00, 0.80),
    Partner("P03", "CashKaro", "web", "near_prime", dt.date(2023, 6, 1), 0.12, 0.00, 0.03, 1.10, 0.68),
    Partner("P04", "KreditBee Connect", "app", "near_prime", dt.date(2023, 11, 20), 0.15, -0.15, 0.06, 1.25, 0.62),
    Partner("P05", "MoneyTap Web", "web", "near_prime", dt.date(2024, 2, 5), 0.10, 0.05, 0.02, 1.05, 0.74),
    Partner("P06", "FinServ DSA Network", "dsa", "subprime", dt.date(2024, 7, 1), 0.13, -0.40, 0.04, 1.30, 0.55),
    Partner("P07", "Sahyadri Co-operative Bank Branches", "bank_branch", "prime", _LONG_AGO, 0.12, 0.45, -0.04,
            0.85, 0.70),
)

NEW_PARTNER_ID = "P08"
NEW_PARTNER_VOLUME_UPLIFT = 0.42
"""New partner's daily volume at full ramp as a fraction of the established volume (about 30% of the new total)."""


def new_partner(onboarded_on: dt.date) -> Partner:
    """The channel of the ``new_partner`` story: a fast-growing instant-loan app with weak applicants."""
    return Partner(NEW_PARTNER_ID, "QuickRupee Instant Loans", "app", "subprime", onboarded_on, 0.0, -0.95, 0.10,
                   1.60, 0.52)


LENDERS: tuple[Lender, ...] = (
    Lender("L01", "Bharat National Bank", "bank", True, "prime"),
    Lender("L02", "Deccan Commercial Bank", "bank", True, "prime"),
    Lender("L03", "Sarvodaya Finance (NBFC)", "nbfc", True, "near_prime"),
    Lender("L04", "Kaveri Capital NBFC", "nbfc", True, "near_prime"),
    Lender("L05", "Swift Credit NBFC", "nbfc", True, "subprime"),
)

PARTNER_LENDERS: dict[str, tuple[str, ...]] = {
    "P01": ("L01", "L02", "L03", "L04", "L05"),
    "P02": ("L01", "L02", "L03", "L04"),
    "P03": ("L02", "L03", "L04", "L05"),
    "P04": ("L03", "L04", "L05"),
    "P05": ("L01", "L03", "L04", "L05"),
    "P06": ("L03", "L04", "L05"),
    "P07": ("L01", "L02", "L04"),
    NEW_PARTNER_ID: ("L01", "L03", "L04", "L05"),
}


def marketplace(new_partner_onboarded_on: dt.date | None) -> tuple[Partner, ...]:
    """All partners of the world; the new partner exists only when its story is switched on."""
    if new_partner_onboarded_on is None:
        return ESTABLISHED_PARTNERS
    return (*ESTABLISHED_PARTNERS, new_partner(new_partner_onboarded_on))


def partners_frame(partners: Sequence[Partner]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "partner_id": [p.partner_id for p in partners],
            "name": [p.name for p in partners],
            "channel_type": [p.channel_type for p in partners],
            "onboarded_on": [p.onboarded_on for p in partners],
            "quality_tier": [p.quality_tier for p in partners],
        }
    )


def lenders_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "lender_id": [lender.lender_id for lender in LENDERS],
            "name": [lender.name for lender in LENDERS],
            "lender_type": [lender.lender_type for lender in LENDERS],
            "active": [lender.active for lender in LENDERS],
        }
    )


def partner_lenders_frame(partners: Sequence[Partner]) -> pd.DataFrame:
    rows = [(p.partner_id, lid) for p in partners for lid in PARTNER_LENDERS[p.partner_id]]
    return pd.DataFrame(rows, columns=["partner_id", "lender_id"])
