"""Daily application volumes, arrival times, repeat applicants and the application rows themselves.

Everything is drawn per day with numpy from a per-day random stream, so the world is reproducible and a day's
content does not depend on how much memory a batch had. The ``ApplicantStore`` keeps the hidden per-person state
(latent creditworthiness, employment, base income...) so that a repeat applicant is the same person every time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from warehouse.world.entities import NEW_PARTNER_VOLUME_UPLIFT, Partner
from warehouse.world.people import GENDER_P, city_weights

WEEKDAY_FACTOR = np.array([1.08, 1.06, 1.04, 1.02, 1.0, 0.9, 0.8])  # Monday..Sunday
NEW_PARTNER_RAMP_DAYS = 4
REPEAT_SHARE = 0.13
"""Share of a day's applications that come from someone who already applied in the window."""

TENURES = np.array([6, 9, 12, 18, 24, 36, 48, 60])
PURPOSES = np.array(["personal", "debt_consolidation", "medical", "home_improvement", "wedding", "education",
                     "travel", "consumer_durables"])
PURPOSE_P = np.array([0.30, 0.16, 0.10, 0.12, 0.08, 0.08, 0.07, 0.09])
EMPLOYMENT = np.array(["salaried", "self_employed"])

# Share of applications per hour of the day (IST) by channel type: apps peak late evening, branches keep office hours.
_HOURS = np.arange(24)
_EVENING = np.exp(-0.5 * ((_HOURS - 21) / 2.2) ** 2)
_NOON = np.exp(-0.5 * ((_HOURS - 13) / 2.5) ** 2)
_OFFICE = ((_HOURS >= 10) & (_HOURS <= 16)).astype(float) + 0.15 * np.isin(_HOURS, [9, 17])
_NIGHT_FLOOR = 0.01 * ((_HOURS >= 0) & (_HOURS <= 6))
HOUR_PROFILE: dict[str, np.ndarray] = {
    "app": 0.015 + _NIGHT_FLOOR + 0.8 * _NOON + 1.0 * _EVENING,
    "web": 0.015 + _NIGHT_FLOOR + 1.0 * _NOON + 0.7 * _EVENING,
    "aggregator": 0.015 + _NIGHT_FLOOR + 0.9 * _NOON + 0.9 * _EVENING,
    "dsa": 0.01 + 1.0 * ((_HOURS >= 9) & (_HOURS <= 19)) * (0.6 + _NOON),
    "bank_branch": 0.002 + _OFFICE * (0.7 + 0.5 * _NOON),
}


def daily_volumes(
    days: int, per_day: int, start_date: dt.date, new_partner_offset: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """(total, new partner) applications per day; the window total is exactly ``days * per_day``.

    Established channels keep a constant weekly pattern; the new partner adds volume on top after a short ramp-up,
    which is why ``per_day`` is an average over the window, not a daily constant.
    """
    weekday = np.array([(start_date + dt.timedelta(days=d)).weekday() for d in range(days)])
    established = WEEKDAY_FACTOR[weekday]
    new = np.zeros(days)
    if new_partner_offset is not None:
        since = np.arange(days) - new_partner_offset
        ramp = np.clip((since + 1) / NEW_PARTNER_RAMP_DAYS, 0.0, 1.0) * (since >= 0)
        new = NEW_PARTNER_VOLUME_UPLIFT * ramp * established
    weights = (established + new) / (established + new).sum() * days * per_day
    totals = np.floor(weights).astype(np.int64)
    short = days * per_day - totals.sum()
    totals[np.argsort(-(weights - totals), kind="stable")[:short]] += 1
    new_counts = np.round(totals * new / (established + new)).astype(np.int64)
    return totals, new_counts


@dataclass
class ApplicantStore:
    """Hidden per-person state of everyone who applied so far (grows day by day)."""

    capacity: int
    count: int = 0
    z: np.ndarray = field(init=False)
    """Latent creditworthiness (standard normal, higher is better); never written to the warehouse."""
    zb: np.ndarray = field(init=False)
    """The bureau's noisy view of ``z``."""
    self_employed: np.ndarray = field(init=False)
    base_income: np.ndarray = field(init=False)
    age0: np.ndarray = field(init=False)
    tenure0: np.ndarray = field(init=False)
    thin: np.ndarray = field(init=False)
    first_day: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.z = np.empty(self.capacity)
        self.zb = np.empty(self.capacity)
        self.self_employed = np.empty(self.capacity, dtype=bool)
        self.base_income = np.empty(self.capacity)
        self.age0 = np.empty(self.capacity)
        self.tenure0 = np.empty(self.capacity)
        self.thin = np.empty(self.capacity, dtype=bool)
        self.first_day = np.empty(self.capacity, dtype=np.int32)


@dataclass
class NewPeople:
    """Public attributes of applicants seen for the first time today (inputs of ``people.make_applicants``)."""

    index: np.ndarray
    gender: np.ndarray
    age: np.ndarray
    city: np.ndarray


def arrival_times(partner_idx: np.ndarray, partners: Sequence[Partner], day: dt.date,
                  rng: np.random.Generator) -> np.ndarray:
    """Received-at timestamps (datetime64[us], IST wall clock) following each channel's intraday profile."""
    seconds = np.empty(len(partner_idx))
    for i, p in enumerate(partners):
        mask = partner_idx == i
        if mask.any():
            profile = HOUR_PROFILE[p.channel_type]
            hours = rng.choice(24, mask.sum(), p=profile / profile.sum())
            seconds[mask] = hours * 3600 + rng.random(mask.sum()) * 3600
    micros = np.floor(seconds * 1e6).astype(np.int64)
    return np.datetime64(day, "us") + micros.astype("timedelta64[us]")


def assign_applicants(
    n: int, partner_idx: np.ndarray, partners: Sequence[Partner], store: ApplicantStore, day: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, NewPeople]:
    """Applicant number for each of today's applications, creating new people and picking repeat applicants.

    Repeat applicants are drawn from everyone seen before today, weighted towards weaker credit (people who were
    declined or need more credit come back more often).
    """
    repeat = rng.random(n) < (REPEAT_SHARE if store.count > 0 else 0.0)
    who = np.empty(n, dtype=np.int64)
    if repeat.any():
        weights = np.cumsum(np.exp(-0.5 * store.z[: store.count]))
        who[repeat] = np.searchsorted(weights, rng.random(repeat.sum()) * weights[-1], side="right")
        who[repeat] = np.minimum(who[repeat], store.count - 1)
    fresh = np.flatnonzero(~repeat)
    k = len(fresh)
    idx = np.arange(store.count, store.count + k)
    who[fresh] = idx
    p_idx = partner_idx[fresh]
    shift = np.array([p.quality_shift for p in partners])[p_idx]
    salaried_share = np.array([p.salaried_share for p in partners])[p_idx]
    thin_uplift = np.array([p.thin_file_uplift for p in partners])[p_idx]
    age = 21 + 39 * rng.beta(1.9, 3.6, k)
    z = shift + rng.standard_normal(k) + 0.012 * (age - 32)
    self_emp = rng.random(k) > salaried_share
    log_income = np.where(self_emp, np.log(50_000) + 0.72 * rng.standard_normal(k),
                          np.log(42_000) + 0.5 * rng.standard_normal(k))
    log_income += 0.12 * z + 0.012 * np.minimum(age - 21, 24)
    tenure_mean = np.where(self_emp, 55.0, 34.0) * (0.5 + (age - 21) / 30)
    tenure = np.minimum(np.ceil(rng.exponential(tenure_mean)), (age - 18) * 12)
    p_thin = np.clip(0.075 + thin_uplift + 0.12 * (age < 25) + 0.04 * self_emp - 0.015 * z, 0.01, 0.6)
    s = slice(store.count, store.count + k)
    store.z[s], store.self_employed[s], store.base_income[s] = z, self_emp, np.exp(log_income)
    store.zb[s] = 0.85 * z + 0.53 * rng.standard_normal(k)
    store.age0[s], store.tenure0[s], store.thin[s] = age, np.maximum(tenure, 1), rng.random(k) < p_thin
    store.first_day[s] = day
    store.count += k
    people = NewPeople(idx, rng.choice(3, k, p=GENDER_P), age, rng.choice(len(city_weights()), k, p=city_weights()))
    return who, people


def application_columns(who: np.ndarray, store: ApplicantStore, day: int, rng: np.random.Generator
                        ) -> dict[str, np.ndarray]:
    """Declared loan request and employment details of each application."""
    n = len(who)
    z = store.z[who]
    months_since = (day - store.first_day[who]) / 30.4
    income = np.round(store.base_income[who] * np.exp(0.04 * rng.standard_normal(n)), -2)
    income = np.clip(income, 8_000, 2_500_000)
    amount = np.exp(np.log(income) + np.log(4.3) + 0.6 * rng.standard_normal(n) - 0.12 * z)
    amount = np.clip(np.round(amount, -3), 25_000, 1_500_000)
    tenure_idx = np.clip(np.round(2 + 1.6 * np.log(amount / 1e5) + 1.1 * rng.standard_normal(n)), 0, 7)
    return {
        "requested_amount": amount,
        "requested_tenure_months": TENURES[tenure_idx.astype(int)],
        "purpose": PURPOSES[rng.choice(len(PURPOSES), n, p=PURPOSE_P)],
        "employment_type": EMPLOYMENT[store.self_employed[who].astype(int)],
        "monthly_income": income,
        "employer_tenure_months": (store.tenure0[who] + np.floor(months_since)).astype(np.int32),
        "age": store.age0[who] + (day - store.first_day[who]) / 365.25,
    }
