"""Sentences with written numbers, dates, times, money, units and abbreviations, as people
write them ("The bus leaves at 7:15 on 3 May."): the ``numbers`` text source.

The other sources hold few such forms, and the goals of issue 18 measure them separately. The
synthesiser and models declaring ``normalize:en`` read them through the text normaliser, so the
audio says "seven fifteen on the third of May".
"""

from __future__ import annotations

import numpy as np

NAMES = (
    "Anna",
    "Ben",
    "Clara",
    "David",
    "Emma",
    "Frank",
    "Grace",
    "Henry",
    "Laura",
    "Mark",
    "Nina",
    "Oscar",
    "Paul",
    "Rosa",
    "Sam",
    "Tina",
    "Victor",
    "Wendy",
)
THINGS = (
    "ticket",
    "jacket",
    "lamp",
    "bicycle",
    "book",
    "chair",
    "coffee",
    "sandwich",
    "phone",
    "camera",
    "guitar",
    "kettle",
    "umbrella",
    "watch",
    "backpack",
    "rug",
)
PLACES = (
    "the station",
    "the museum",
    "the airport",
    "the library",
    "the office",
    "the park",
    "the harbor",
    "the stadium",
    "the bakery",
    "the clinic",
)
CITIES = ("Boston", "London", "Denver", "Toronto", "Sydney", "Dublin", "Chicago", "Seattle")
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
UNITS = (
    ("km", "The trail is {n} km long."),
    ("kg", "The box weighs {n} kg."),
    ("mph", "The limit here is {n} mph."),
    ("°C", "It was {n} °C at noon."),
    ("%", "Sales rose by {n}% this year."),
    ("GB", "The file is {n} GB."),
    ("cm", "The shelf is {n} cm wide."),
    ("mi", "We drove {n} mi before lunch."),
    ("lb", "The bag weighs {n} lb."),
    ("min", "The walk takes {n} min."),
)
TITLES = ("Dr.", "Mr.", "Mrs.", "Ms.", "Prof.")


def _plural(noun: str) -> str:
    return noun + ("es" if noun.endswith(("ch", "sh", "s", "x")) else "s")


def _money(r) -> str:
    kind = r.integers(4)
    if kind == 0:
        return f"${r.integers(1, 100)}"
    if kind == 1:
        return f"${r.integers(1, 500)}.{r.integers(1, 100):02d}"
    if kind == 2:
        return f"${r.integers(1, 10)},{r.integers(0, 1000):03d}"
    return f"{'£€'[int(r.integers(2))]}{r.integers(2, 300)}"


def _date(r) -> str:
    m, d, y = MONTHS[int(r.integers(12))], int(r.integers(1, 29)), int(r.integers(1950, 2031))
    return [
        f"{d} {m} {y}",
        f"{m} {d}, {y}",
        f"{m} {d}",
        f"{d} {m}",
        f"{int(r.integers(1, 13))}/{d}/{y}",
    ][int(r.integers(5))]


def _time(r) -> str:
    h, mi = int(r.integers(1, 13)), int(r.integers(0, 12)) * 5
    return [
        f"{h}:{mi:02d}",
        f"{h} {'ap'[int(r.integers(2))]}.m.",
        f"{h}:{mi:02d} {'AP'[int(r.integers(2))]}M",
        f"{h}pm",
    ][int(r.integers(4))]


def sentence(r: np.random.Generator) -> str:
    """One sentence with at least one written form."""
    c = lambda xs: xs[int(r.integers(len(xs)))]  # noqa: E731
    n = int(r.integers(2, 60))
    frames = [
        lambda: f"The {c(THINGS)} cost {_money(r)} at {c(PLACES)}.",
        lambda: f"{c(NAMES)} paid {_money(r)} for a {c(THINGS)} on {_date(r)}.",
        lambda: f"On {_date(r)} it cost {_money(r)}.",
        lambda: f"The train to {c(CITIES)} leaves at {_time(r)} from platform {n}.",
        lambda: f"Meet me at {c(PLACES)} at {_time(r)}.",
        lambda: f"{c(NAMES)} was born on {_date(r)} in {c(CITIES)}.",
        lambda: f"The {c(['meeting', 'concert', 'game', 'party'])} is on {_date(r)} at {_time(r)}.",
        lambda: f"We moved to {c(CITIES)} in {int(r.integers(1950, 2025))}.",
        lambda: (
            f"The {c(['bridge', 'school', 'church', 'library'])} was built in "
            f"{int(r.integers(1700, 2020))}."
        ),
        lambda: c(UNITS)[1].format(n=n if r.random() < 0.7 else f"{n}.{int(r.integers(1, 10))}"),
        lambda: f"{c(TITLES)} {c(NAMES)} will see you at {_time(r)}.",
        lambda: (
            f"Call {int(r.integers(200, 999))}-{int(r.integers(1000, 9999))} before {_time(r)}."
        ),
        lambda: (
            f"She finished {c(['1st', '2nd', '3rd', '4th', '5th', '10th', '21st'])} in the race."
        ),
        lambda: f"About {n}% of the {int(r.integers(2, 9)) * 100} guests came early.",
        lambda: f"The {c(THINGS)} is on sale for {_money(r)}, down from {_money(r)}.",
        lambda: (
            f"Our office is at {int(r.integers(1, 999))} {c(['Oak', 'Main', 'Pine', 'Elm'])} "
            f"{c(['St.', 'Ave.', 'Rd.'])}"
        ),
        lambda: f"Write to {c(NAMES).lower()}@example.com by {_date(r)}.",
        lambda: f"The {c(['1980s', '1990s', '1960s', '2010s'])} were good years for {c(CITIES)}.",
        lambda: f"Add {c(['1/2', '3/4', '1/3', '2/3'])} cup of sugar and {n} g of butter.",
        lambda: f"Read pages {n}-{n + int(r.integers(5, 40))} for {c(['Monday', 'Friday'])}.",
        lambda: (
            f"{c(NAMES)} & {c(NAMES)} sold {int(r.integers(2, 99)) * 10} {_plural(c(THINGS))} in "
            f"{int(r.integers(1990, 2025))}."
        ),
        lambda: f"The temperature fell to -{int(r.integers(1, 20))} °C on {_date(r)}.",
    ]
    return c(frames)().replace("..", ".")  # "at 5 p.m.." at a sentence end


def number_sentences(count: int, seed: int = 0) -> list[str]:
    """``count`` distinct sentences (fewer if the frames run out), in a seeded order."""
    r = np.random.default_rng(seed)
    seen: dict[str, None] = {}
    for _ in range(count * 20):
        if len(seen) >= count:
            break
        seen.setdefault(sentence(r), None)
    return list(seen)
