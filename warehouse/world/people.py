"""Applicants and their personal data (PII), built vectorised.

Faker is slow per call (tens of microseconds), far too slow for two million applicants, so it is used once to draw
*pools* of Indian first and last names; numpy then combines pool indices for every applicant and pyarrow builds the
strings. Faker's ``en_IN`` addresses pick city, state and PIN independently (Mumbai in Kerala with a Delhi PIN), so
the residence table below is written out by hand with consistent state and PIN-code prefixes.

Identifiers that must be unique in real life (PAN, mobile number) come from an affine permutation of the applicant
number, so two applicants never share one, while still looking random.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from faker import Faker

# city, state, PIN prefix (first three digits), relative weight (roughly urban population)
CITIES: tuple[tuple[str, str, int, float], ...] = (
    ("Mumbai", "Maharashtra", 400, 12.0), ("Pune", "Maharashtra", 411, 6.0), ("Nagpur", "Maharashtra", 440, 2.5),
    ("Nashik", "Maharashtra", 422, 1.5), ("Delhi", "Delhi", 110, 12.0), ("Noida", "Uttar Pradesh", 201, 2.5),
    ("Lucknow", "Uttar Pradesh", 226, 3.0), ("Kanpur", "Uttar Pradesh", 208, 2.0), ("Gurugram", "Haryana", 122, 3.0),
    ("Bengaluru", "Karnataka", 560, 11.0), ("Mysuru", "Karnataka", 570, 1.2), ("Hyderabad", "Telangana", 500, 8.0),
    ("Chennai", "Tamil Nadu", 600, 7.0), ("Coimbatore", "Tamil Nadu", 641, 2.0), ("Kolkata", "West Bengal", 700, 7.0),
    ("Ahmedabad", "Gujarat", 380, 5.0), ("Surat", "Gujarat", 395, 3.5), ("Vadodara", "Gujarat", 390, 1.8),
    ("Jaipur", "Rajasthan", 302, 3.5), ("Indore", "Madhya Pradesh", 452, 2.2), ("Bhopal", "Madhya Pradesh", 462, 1.8),
    ("Patna", "Bihar", 800, 2.0), ("Kochi", "Kerala", 682, 1.8), ("Thiruvananthapuram", "Kerala", 695, 1.2),
    ("Visakhapatnam", "Andhra Pradesh", 530, 1.8), ("Vijayawada", "Andhra Pradesh", 520, 1.3),
    ("Bhubaneswar", "Odisha", 751, 1.3), ("Guwahati", "Assam", 781, 1.2), ("Ludhiana", "Punjab", 141, 1.5),
    ("Chandigarh", "Chandigarh", 160, 1.3), ("Ranchi", "Jharkhand", 834, 1.1), ("Dehradun", "Uttarakhand", 248, 0.9),
    ("Raipur", "Chhattisgarh", 492, 1.0),
)
EMAIL_DOMAINS = ("gmail.com", "yahoo.co.in", "outlook.com", "rediffmail.com", "hotmail.com", "yahoo.com")
EMAIL_DOMAIN_P = np.array([0.62, 0.12, 0.10, 0.07, 0.05, 0.04])
GENDERS = np.array(["male", "female", "other"])
GENDER_P = np.array([0.665, 0.33, 0.005])
_LETTERS = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", dtype=np.uint8)
_PAN_SPACE = 26**3 * 9999  # three free letters x serial 0001-9999
_PHONE_SPACE = 4 * 10**9  # first digit 6-9, nine more digits


@dataclass(frozen=True)
class NamePools:
    """Distinct Indian first names (by gender) and surnames, drawn from Faker ``en_IN`` once per world."""

    male: np.ndarray
    female: np.ndarray
    last: np.ndarray

    @classmethod
    def from_faker(cls, seed: int, draws: int = 4000) -> NamePools:
        fake = Faker("en_IN")
        fake.seed_instance(seed)

        def pool(fn: object) -> np.ndarray:
            names = {str(fn()).strip() for _ in range(draws)}  # type: ignore[operator]
            return np.array(sorted(n for n in names if n.isalpha()))

        return cls(pool(fake.first_name_male), pool(fake.first_name_female), pool(fake.last_name))


def _affine(index: np.ndarray, space: int, mult: int, offset: int) -> np.ndarray:
    """A bijection of ``range(space)`` (``mult`` coprime with ``space``): unique, random-looking identifiers."""
    return (index.astype(np.int64) * mult + offset) % space


def _fixed_width_strings(codes: np.ndarray) -> pa.Array:
    """Rows of ASCII byte codes (n x width, uint8) into a pyarrow string array, without a Python loop."""
    width = codes.shape[1]
    flat = np.ascontiguousarray(codes, dtype=np.uint8).reshape(-1)
    offsets = np.arange(0, (codes.shape[0] + 1) * width, width, dtype=np.int32)
    return pa.StringArray.from_buffers(codes.shape[0], pa.py_buffer(offsets), pa.py_buffer(flat))


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded decimal digits of non-negative integers as an (n x width) array of ASCII codes."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return (values[:, None] // powers % 10 + ord("0")).astype(np.uint8)


def make_pan(index: np.ndarray, surname_initial: np.ndarray, rng: np.random.Generator) -> pa.Array:
    """PAN ``AAAPS9999C``: three letters, 'P' (individual), surname initial, a four-digit serial, a check letter."""
    code = _affine(index, _PAN_SPACE, 2_654_435_761, 91_234_567)
    serial = code % 9999 + 1
    letters = code // 9999
    out = np.empty((len(index), 10), dtype=np.uint8)
    out[:, 0] = _LETTERS[letters // 676 % 26]
    out[:, 1] = _LETTERS[letters // 26 % 26]
    out[:, 2] = _LETTERS[letters % 26]
    out[:, 3] = ord("P")
    out[:, 4] = surname_initial
    out[:, 5:9] = _digits(serial, 4)
    out[:, 9] = _LETTERS[rng.integers(0, 26, len(index))]
    return _fixed_width_strings(out)


def make_phone(index: np.ndarray) -> pa.Array:
    """Indian mobile numbers ``+91`` followed by ten digits starting with 6, 7, 8 or 9."""
    number = _affine(index, _PHONE_SPACE, 2_654_435_761, 1_357_913_579) + 6 * 10**9
    out = np.empty((len(index), 13), dtype=np.uint8)
    out[:, 0:3] = np.frombuffer(b"+91", dtype=np.uint8)
    out[:, 3:] = _digits(number, 10)
    return _fixed_width_strings(out)


def make_applicants(
    index: np.ndarray,
    gender: np.ndarray,
    date_of_birth: np.ndarray,
    city: np.ndarray,
    pools: NamePools,
    rng: np.random.Generator,
) -> pa.Table:
    """The ``applicants`` rows for new applicants number ``index`` (0-based, unique across the world).

    ``gender`` holds codes into :data:`GENDERS`, ``date_of_birth`` numpy datetime64[D], ``city`` indices into
    :data:`CITIES`.
    """
    n = len(index)
    is_female = gender == 1
    male_first = rng.integers(0, len(pools.male), n)
    female_first = rng.integers(0, len(pools.female), n)
    first = np.where(is_female, pools.female[female_first % len(pools.female)], pools.male[male_first])
    last = pools.last[rng.integers(0, len(pools.last), n)]
    first_a, last_a = pa.array(first), pa.array(last)
    full_name = pc.binary_join_element_wise(first_a, last_a, " ")
    surname_initial = np.frombuffer(pc.utf8_upper(pc.utf8_slice_codeunits(last_a, 0, 1)).to_numpy(
        zero_copy_only=False).astype("S1").tobytes(), dtype=np.uint8)
    # email: first.last / firstlast / first_last, an optional number, a common provider
    sep = np.array([".", "", "_"])[rng.choice(3, n, p=[0.55, 0.3, 0.15])]
    number = rng.integers(1, 1000, n)
    suffix = np.where(rng.random(n) < 0.7, number.astype(str), "")
    domain = np.array(EMAIL_DOMAINS)[rng.choice(len(EMAIL_DOMAINS), n, p=EMAIL_DOMAIN_P)]
    local = pc.binary_join_element_wise(pc.utf8_lower(first_a), pa.array(sep), pc.utf8_lower(last_a), pa.array(suffix),
                                        "")
    email = pc.binary_join_element_wise(local, pa.array(domain), "@")
    prefix = np.array([c[2] for c in CITIES])[city]
    pincode = _fixed_width_strings(_digits(prefix * 1000 + rng.integers(1, 1000, n), 6))
    return pa.table(
        {
            "applicant_id": applicant_ids(index),
            "full_name": full_name,
            "pan": make_pan(index, surname_initial, rng),
            "phone": make_phone(index),
            "email": email,
            "date_of_birth": pa.array(date_of_birth.astype("datetime64[D]"), type=pa.date32()),
            "gender": pa.array(GENDERS[gender]),
            "city": pa.array(np.array([c[0] for c in CITIES])[city]),
            "state": pa.array(np.array([c[1] for c in CITIES])[city]),
            "pincode": pincode,
        }
    )


def applicant_ids(index: np.ndarray) -> pa.Array:
    """``C`` followed by a nine-digit applicant number."""
    out = np.empty((len(index), 10), dtype=np.uint8)
    out[:, 0] = ord("C")
    out[:, 1:] = _digits(index.astype(np.int64), 9)
    return _fixed_width_strings(out)


def city_weights() -> np.ndarray:
    w = np.array([c[3] for c in CITIES])
    return w / w.sum()


def dob_from_age(age_years: np.ndarray, on: dt.date, rng: np.random.Generator) -> np.ndarray:
    """Dates of birth for applicants of fractional ``age_years`` on date ``on``."""
    days = np.floor(age_years * 365.25).astype(np.int64) + rng.integers(0, 30, len(age_years))
    return np.datetime64(on, "D") - days.astype("timedelta64[D]")
