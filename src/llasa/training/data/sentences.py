"""A varied English sentence list, generated from templates and word lists written for llasa.

The synthetic corpus needs thousands of different sentences: short and long, statements and
questions, numbers, dates, times and amounts. They are built combinatorially and
deterministically from a seed, so the same seed always gives the same list. Numbers are spelled
out in words, so every synthesiser reads them the same way, and spellings are American, as
Whisper writes them (the judge would count "theatre" vs "theater" as an error).

The held-out split is chosen by a hash of the sentence text (not by position), so adding
templates never moves an existing sentence between splits.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from ..._common.errors import InputError
from ...verifiers.text import number_to_words, year_to_words  # one spelling for corpus and judge
from .grammar import open_sentence

NAMES = ["Anna", "Ben", "Clara", "David", "Emma", "Frank", "Grace", "Henry", "Irene", "Jack",
         "Kate", "Leo", "Maria", "Nora", "Oliver", "Paul", "Rosa", "Sam", "Tom", "Vera",
         "Walter", "Zoe", "Lucy", "Peter", "Helen", "Mark", "Julia", "Simon", "Alice", "Victor"]
PLACES = ["the market", "the station", "the library", "the old bridge", "the harbor",
          "the village", "the museum", "the park", "the school", "the hospital", "the bakery",
          "the office", "the garden", "the river", "the mountains", "the beach", "the airport",
          "the castle", "the farm", "the theater", "the city center", "the forest"]
CITIES = ["London", "Paris", "Berlin", "Madrid", "Rome", "Vienna", "Dublin", "Boston",
          "Chicago", "Toronto", "Sydney", "Tokyo", "Lisbon", "Prague", "Oslo", "Denver"]
OBJECTS = ["the red umbrella", "a heavy suitcase", "the blue notebook", "an old map",
           "a wooden chair", "the silver key", "a paper bag", "the new phone", "a small box",
           "the kitchen knife", "a warm blanket", "the broken clock", "a green bottle",
           "the yellow kite", "a leather wallet", "the glass vase", "a fresh loaf of bread",
           "the letter", "a pair of gloves", "the camera"]
ANIMALS = ["dog", "cat", "horse", "rabbit", "fox", "owl", "goat", "duck", "bear", "sheep",
           "parrot", "turtle", "mouse", "squirrel", "deer", "wolf"]
_PLURAL = {"fox": "foxes", "sheep": "sheep", "mouse": "mice", "deer": "deer", "wolf": "wolves"}
ADJECTIVES = ["quiet", "bright", "cold", "busy", "beautiful", "strange", "tiny", "enormous",
              "friendly", "noisy", "lovely", "dark", "gentle", "clever", "famous", "empty"]
FOODS = ["apples", "soup", "cheese", "coffee", "bread", "rice", "oranges", "tea", "pasta",
         "carrots", "cake", "fish", "potatoes", "honey", "chocolate", "tomatoes"]
VERBS_PAST = ["found", "painted", "carried", "cleaned", "opened", "lost", "borrowed", "fixed",
              "sold", "bought", "dropped", "wrapped", "hid", "returned", "checked", "moved"]
JOBS = ["teacher", "doctor", "pilot", "farmer", "baker", "nurse", "engineer", "singer",
        "driver", "painter", "lawyer", "gardener", "writer", "chef", "student", "musician"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]
COLOURS = ["red", "blue", "green", "yellow", "white", "black", "orange", "purple", "gray"]
WEATHER = ["rain", "snow", "wind", "sunshine", "fog", "thunder"]
ORDINALS = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth",
            "ninth", "tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth",
            "sixteenth", "seventeenth", "eighteenth", "nineteenth", "twentieth",
            "twenty first", "twenty second", "twenty third", "twenty fourth", "twenty fifth",
            "twenty sixth", "twenty seventh", "twenty eighth"]
SHORT = ["Yes, of course.", "No, thank you.", "Good morning!", "See you tomorrow.",
         "Please wait here.", "That sounds great.", "I am not sure.", "Come in, please.",
         "Watch out!", "Thank you very much.", "Well done!", "Not yet.", "Let us go.",
         "Excuse me.", "How lovely!", "Be careful.", "Good night.", "Of course not.",
         "Right away.", "Happy birthday!"]

def _cap(s: str) -> str:
    return s[0].upper() + s[1:]


def _template(rng: np.random.Generator) -> str:
    """One sentence from a randomly chosen template family."""
    c = lambda xs: xs[int(rng.integers(len(xs)))]  # noqa: E731 - tiny local chooser
    num = lambda lo, hi: number_to_words(int(rng.integers(lo, hi)))  # noqa: E731
    kind = int(rng.integers(16))
    if kind == 0:
        return f"{c(NAMES)} {c(VERBS_PAST)} {c(OBJECTS)} near {c(PLACES)}."
    if kind == 1:
        return f"Did {c(NAMES)} really go to {c(PLACES)} on {c(DAYS)}?"
    if kind == 2:
        animal = c(ANIMALS)
        return f"There are {num(2, 100)} {_PLURAL.get(animal, animal + 's')} on the farm this year."
    if kind == 3:
        return (f"The meeting is on {c(DAYS)}, the {c(ORDINALS)} of {c(MONTHS)}, "
                f"at {num(1, 13)} o'clock.")
    if kind == 4:
        return f"{c(NAMES)} was born in {c(CITIES)} in {year_to_words(int(rng.integers(1920, 2010)))}."
    if kind == 5:
        return f"How much do {num(2, 20)} kilos of {c(FOODS)} cost at {c(PLACES)}?"
    if kind == 6:
        return (f"The ticket costs {num(2, 100)} dollars and {num(1, 100)} cents, "
                f"so please bring some change.")
    if kind == 7:
        return f"Why is the {c(ANIMALS)} so {c(ADJECTIVES)} today?"
    if kind == 8:
        return c(SHORT)
    if kind == 9:
        return (f"My {c(['brother', 'sister', 'cousin', 'neighbor', 'friend', 'aunt'])} "
                f"works as a {c(JOBS)} in {c(CITIES)}.")
    if kind == 10:
        return (f"When the {c(WEATHER)} stopped, {c(NAMES)} and {c(NAMES)} walked slowly to "
                f"{c(PLACES)}, where a {c(ADJECTIVES)} {c(ANIMALS)} was waiting for them "
                f"beside {c(OBJECTS)}.")
    if kind == 11:
        return f"Call me at {' '.join(number_to_words(int(d)) for d in rng.integers(0, 10, 7))}."
    if kind == 12:
        return (f"The train to {c(CITIES)} leaves at {num(1, 13)} "
                f"{c(['fifteen', 'thirty', 'forty five', 'twenty', 'ten'])} from platform "
                f"{num(1, 20)}.")
    if kind == 13:
        return (f"Would you like some {c(FOODS)} or would you rather have a cup of "
                f"{c(['tea', 'coffee', 'milk', 'water'])}?")
    if kind == 14:
        return (f"{_cap(c(['yesterday', 'last week', 'this morning', 'on Sunday']))}, "
                f"{num(2, 1000)} people visited {c(PLACES)} to see the {c(COLOURS)} "
                f"{c(['balloons', 'flowers', 'lights', 'boats', 'paintings'])}.")
    return (f"Although it was {c(ADJECTIVES)} outside, the {c(JOBS)} decided to stay at "
            f"{c(PLACES)} until {c(['midnight', 'noon', 'the evening', 'dawn'])}.")


def is_heldout(sentence: str, fraction: float) -> bool:
    """Deterministic held-out membership by a hash of the text (stable across list changes)."""
    h = int.from_bytes(hashlib.sha1(sentence.encode("utf-8")).digest()[:8], "big")
    return (h / 2**64) < fraction


@dataclass(frozen=True)
class SentenceSplit:
    """Train and held-out sentence lists (disjoint, each without duplicates)."""

    train: list[str]
    heldout: list[str]


STYLES = ("templates", "open", "mixed")


def generate_sentences(count: int = 4000, *, seed: int = 0, heldout_fraction: float = 0.05,
                       style: str = "templates") -> SentenceSplit:
    """Generate ``count`` distinct sentences and split them into train / held-out.

    Args:
        count: number of distinct sentences wanted (short fixed phrases count once each).
        seed: random seed; the same seed always gives the same lists.
        heldout_fraction: share of sentences (by text hash) kept for evaluation.
        style: ``templates`` (16 sentence frames with slots, this module), ``open`` (a phrase
            grammar: any length, statements, questions, commands, replies;
            :mod:`.grammar`) or ``mixed`` (each sentence from either, evenly).

    Returns:
        SentenceSplit with ``len(train) + len(heldout) == count``.
    """
    if count < 1:
        raise InputError("sentence count must be at least 1")
    if not 0.0 <= heldout_fraction < 1.0:
        raise InputError("heldout_fraction must be in [0, 1)")
    if style not in STYLES:
        raise InputError(f"unknown sentence style {style!r}; choose one of {', '.join(STYLES)}")
    rng = np.random.default_rng(seed)
    makers = {"templates": (_template,), "open": (open_sentence,),
              "mixed": (_template, open_sentence)}[style]
    seen: dict[str, None] = {}
    tries = 0
    while len(seen) < count:
        tries += 1
        if tries > count * 50:
            raise InputError(f"cannot generate {count} distinct {style} sentences")
        # a single maker draws nothing extra, so the template lists stay what they were
        make = makers[int(rng.integers(len(makers)))] if len(makers) > 1 else makers[0]
        seen.setdefault(make(rng), None)
    sents = list(seen)
    held = [s for s in sents if is_heldout(s, heldout_fraction)]
    train = [s for s in sents if not is_heldout(s, heldout_fraction)]
    return SentenceSplit(train=train, heldout=held)


def read_sentence_file(path) -> list[str]:
    """One sentence per line; blank lines and lines starting with '#' are ignored."""
    from pathlib import Path

    p = Path(path)
    if not p.is_file():
        raise InputError(f"sentence file not found: {p}")
    lines = [ln.strip() for ln in p.read_text(encoding="utf-8").splitlines()]
    out = [ln for ln in lines if ln and not ln.startswith("#")]
    if not out:
        raise InputError(f"sentence file {p} holds no sentences")
    return out
