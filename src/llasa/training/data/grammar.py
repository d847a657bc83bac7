"""Open English text: a small phrase grammar over a few hundred everyday words, written for llasa.

The template sentences of :mod:`.sentences` (16 sentence frames) teach a small LM one kind of
sentence: it then reads any other text as one of those frames. This grammar builds sentences
from parts instead (subjects, verb phrases in three tenses, objects, places, times, clauses),
as statements, questions, commands, exclamations, joined clauses and short replies, from one to
about twenty words. Every word list below is ours; numbers are spelled out and spellings are
American, as in :mod:`.sentences`.
"""

from __future__ import annotations

import numpy as np

from ...verifiers.text import number_to_words

# (singular, plural); "" plural: a mass noun
NOUNS = [("apple", "apples"), ("bag", "bags"), ("ball", "balls"), ("bed", "beds"),
         ("bike", "bikes"), ("bird", "birds"), ("boat", "boats"), ("book", "books"),
         ("bottle", "bottles"), ("box", "boxes"), ("bridge", "bridges"), ("brush", "brushes"),
         ("bus", "buses"), ("cake", "cakes"), ("camera", "cameras"), ("car", "cars"),
         ("card", "cards"), ("chair", "chairs"), ("child", "children"), ("clock", "clocks"),
         ("coat", "coats"), ("cup", "cups"), ("desk", "desks"), ("dog", "dogs"),
         ("door", "doors"), ("dress", "dresses"), ("egg", "eggs"), ("engine", "engines"),
         ("fence", "fences"), ("field", "fields"), ("flower", "flowers"), ("fork", "forks"),
         ("friend", "friends"), ("game", "games"), ("gate", "gates"), ("gift", "gifts"),
         ("glass", "glasses"), ("hat", "hats"), ("horse", "horses"), ("house", "houses"),
         ("island", "islands"), ("jacket", "jackets"), ("key", "keys"), ("kitchen", "kitchens"),
         ("ladder", "ladders"), ("lamp", "lamps"), ("letter", "letters"), ("lion", "lions"),
         ("machine", "machines"), ("map", "maps"), ("nail", "nails"), ("needle", "needles"),
         ("orange", "oranges"), ("page", "pages"), ("pencil", "pencils"), ("piano", "pianos"),
         ("picture", "pictures"), ("pillow", "pillows"), ("plate", "plates"),
         ("pocket", "pockets"), ("question", "questions"), ("rabbit", "rabbits"),
         ("radio", "radios"), ("ring", "rings"), ("road", "roads"), ("rock", "rocks"),
         ("roof", "roofs"), ("rope", "ropes"), ("sandwich", "sandwiches"), ("ship", "ships"),
         ("shirt", "shirts"), ("shoe", "shoes"), ("shop", "shops"), ("song", "songs"),
         ("spoon", "spoons"), ("star", "stars"), ("stone", "stones"), ("story", "stories"),
         ("street", "streets"), ("student", "students"), ("table", "tables"),
         ("teacher", "teachers"), ("tent", "tents"), ("ticket", "tickets"), ("tiger", "tigers"),
         ("tool", "tools"), ("towel", "towels"), ("tower", "towers"), ("tree", "trees"),
         ("truck", "trucks"), ("umbrella", "umbrellas"), ("village", "villages"),
         ("wall", "walls"), ("watch", "watches"), ("window", "windows"), ("wheel", "wheels"),
         ("woman", "women"), ("man", "men"), ("baby", "babies"), ("doctor", "doctors"),
         ("neighbor", "neighbors"), ("kitten", "kittens"), ("monkey", "monkeys"),
         ("penguin", "penguins"), ("sister", "sisters"), ("brother", "brothers"),
         ("water", ""), ("milk", ""), ("music", ""), ("money", ""), ("sugar", ""),
         ("paper", ""), ("butter", ""), ("juice", ""), ("sand", ""), ("news", ""),
         ("homework", ""), ("furniture", ""), ("luggage", ""), ("medicine", "")]
ANIMATE = {"bird", "child", "dog", "friend", "horse", "lion", "rabbit", "student", "teacher",
           "tiger", "woman", "man", "baby", "doctor", "neighbor", "kitten", "monkey",
           "penguin", "sister", "brother"}
NAMES = ["Adam", "Bella", "Carlos", "Diana", "Ethan", "Fiona", "George", "Hannah", "Isaac",
         "Jasmine", "Kevin", "Laura", "Martin", "Nina", "Oscar", "Priya", "Quentin", "Rachel",
         "Steve", "Tina", "Umar", "Wendy", "Yusuf", "Grandma", "Uncle Joe"]
ADJECTIVES = ["big", "small", "old", "new", "long", "short", "heavy", "light", "warm", "cold",
              "clean", "dirty", "soft", "hard", "quiet", "loud", "happy", "sad", "hungry",
              "tired", "brave", "careful", "strange", "funny", "pretty", "ugly", "cheap",
              "expensive", "empty", "full", "wet", "dry", "sharp", "round", "square", "sweet",
              "bitter", "fresh", "broken", "shiny", "gentle", "angry", "lucky", "busy", "lazy",
              "polite", "simple", "wooden", "golden", "purple", "brown", "pink", "wide",
              "narrow", "famous", "ancient", "modern", "friendly", "nervous", "curious"]
# (base, third person singular, past)
VERBS_T = [("carry", "carries", "carried"), ("clean", "cleans", "cleaned"),
           ("open", "opens", "opened"), ("close", "closes", "closed"),
           ("paint", "paints", "painted"), ("wash", "washes", "washed"),
           ("find", "finds", "found"), ("lose", "loses", "lost"), ("buy", "buys", "bought"),
           ("sell", "sells", "sold"), ("bring", "brings", "brought"),
           ("take", "takes", "took"), ("hold", "holds", "held"), ("fix", "fixes", "fixed"),
           ("break", "breaks", "broke"), ("drop", "drops", "dropped"),
           ("throw", "throws", "threw"), ("catch", "catches", "caught"),
           ("push", "pushes", "pushed"), ("pull", "pulls", "pulled"),
           ("draw", "draws", "drew"), ("keep", "keeps", "kept"), ("hide", "hides", "hid"),
           ("move", "moves", "moved"), ("touch", "touches", "touched"),
           ("watch", "watches", "watched"), ("want", "wants", "wanted"),
           ("need", "needs", "needed"), ("like", "likes", "liked"),
           ("borrow", "borrows", "borrowed"), ("send", "sends", "sent"),
           ("check", "checks", "checked"), ("count", "counts", "counted"),
           ("fill", "fills", "filled"), ("cover", "covers", "covered"),
           ("share", "shares", "shared"), ("order", "orders", "ordered"),
           ("choose", "chooses", "chose"), ("forget", "forgets", "forgot"),
           ("build", "builds", "built"), ("cut", "cuts", "cut"), ("shake", "shakes", "shook")]
VERBS_I = [("sleep", "sleeps", "slept"), ("laugh", "laughs", "laughed"),
           ("smile", "smiles", "smiled"), ("wait", "waits", "waited"),
           ("run", "runs", "ran"), ("walk", "walks", "walked"), ("sing", "sings", "sang"),
           ("dance", "dances", "danced"), ("swim", "swims", "swam"),
           ("cry", "cries", "cried"), ("shout", "shouts", "shouted"),
           ("jump", "jumps", "jumped"), ("fall", "falls", "fell"),
           ("arrive", "arrives", "arrived"), ("leave", "leaves", "left"),
           ("work", "works", "worked"), ("travel", "travels", "traveled"),
           ("rest", "rests", "rested"), ("listen", "listens", "listened"),
           ("whisper", "whispers", "whispered")]
ADVERBS = ["quickly", "slowly", "quietly", "carefully", "happily", "suddenly", "finally",
           "always", "never", "often", "almost", "really", "gently", "loudly", "again"]
WHERE = ["at home", "in the garden", "on the table", "under the bed", "near the door",
         "behind the house", "in the car", "at school", "on the roof", "by the river",
         "in the kitchen", "at the corner", "on the bus", "in the box", "upstairs",
         "downstairs", "outside", "over there", "in town", "at work", "in the park",
         "next to the window"]
WHEN = ["today", "tonight", "yesterday", "tomorrow", "last night", "this morning",
        "every day", "next week", "at noon", "after lunch", "before dinner", "in the evening",
        "on Monday", "on Friday", "in the summer", "in winter", "soon", "later", "right now",
        "at midnight", "on the weekend", "twice a week"]
REPLIES = ["Yes.", "No.", "Maybe.", "Hello.", "Goodbye.", "Thanks.", "Sorry.", "Okay.",
           "Really?", "Why?", "Where?", "When?", "Who?", "Wow!", "Hurry up!", "Stop!",
           "Listen.", "Good idea.", "Not now.", "Me too.", "Thanks again.", "No problem.",
           "I see.", "All right.", "Of course.", "Never mind.", "Help!", "Welcome back.",
           "Just a moment.", "Sounds good.", "Nice to meet you.", "I agree.", "Try again.",
           "Good luck!", "Take care.", "What happened?", "Who is there?", "It is late.",
           "I am sorry.", "Let me see.", "Hold on.", "Keep going.", "Be quiet.",
           "Sit down, please.", "Open the door.", "I do not know.", "See you later.",
           "How are you?", "I am fine.", "Are you ready?", "Ready or not.", "Here it is."]
SUBJECT_PRONOUNS = [("I", "1"), ("you", "2"), ("we", "2"), ("they", "2"), ("he", "3"),
                    ("she", "3"), ("it", "3")]
_VOWEL = "aeiou"


class _Gen:
    """Sentence parts drawn from one random generator."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng

    def pick(self, xs):
        return xs[int(self.rng.integers(len(xs)))]

    def maybe(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def number(self, lo: int, hi: int) -> str:
        return number_to_words(int(self.rng.integers(lo, hi)))

    def noun_phrase(self, animate: bool | None = None) -> tuple[str, str]:
        """A noun phrase and its person ("3" singular, "2" plural, for agreement)."""
        pool = NOUNS if animate is None else [n for n in NOUNS if (n[0] in ANIMATE) == animate]
        sing, plur = self.pick(pool)
        adj = self.pick(ADJECTIVES) + " " if self.maybe(0.45) else ""
        if not plur:  # mass noun
            det = self.pick(["the ", "some ", "", "my ", "our "])
            return f"{det}{adj}{sing}".strip(), "3"
        if self.maybe(0.3):
            det = self.pick(["the ", "some ", "my ", "those ", "many ", "a few ",
                             f"{self.number(2, 20)} ", ""])
            return f"{det}{adj}{plur}", "2"
        det = self.pick(["the ", "a ", "my ", "your ", "this ", "that ", "her ", "his "])
        if det == "a " and (adj or sing)[0] in _VOWEL:
            det = "an "
        return f"{det}{adj}{sing}", "3"

    def subject(self) -> tuple[str, str]:
        r = self.rng.random()
        if r < 0.35:
            return self.pick(SUBJECT_PRONOUNS)
        if r < 0.6:
            return self.pick(NAMES), "3"
        np_, person = self.noun_phrase(animate=True if self.maybe(0.7) else None)
        return np_, person

    def verb_phrase(self, person: str, tense: str) -> str:
        transitive = self.maybe(0.7)
        base, third, past = self.pick(VERBS_T if transitive else VERBS_I)
        adv = self.pick(ADVERBS) + " " if self.maybe(0.25) else ""
        if tense == "past":
            v = f"{adv}{past}"
        elif tense == "future":
            v = f"will {adv}{base}"
        else:
            v = f"{adv}{third if person == '3' else base}"
        if transitive:
            v += " " + self.noun_phrase()[0]
        if self.maybe(0.35):
            v += " " + self.pick(WHERE)
        if self.maybe(0.3):
            v += " " + self.pick(WHEN)
        return v

    def clause(self, tense: str | None = None) -> str:
        subj, person = self.subject()
        tense = tense or self.pick(["past", "past", "present", "future"])
        return f"{subj} {self.verb_phrase(person, tense)}"

    def sentence(self) -> str:
        kind = int(self.rng.integers(12))
        if kind <= 2:
            return _cap(self.clause()) + "."
        if kind == 3:  # yes / no question
            subj, person = self.subject()
            aux = self.pick(["did", "will", "can", "should", "do"])
            if aux == "do" and person == "3":
                aux = "does"
            base, _, _ = self.pick(VERBS_T)
            return f"{_cap(aux)} {subj} {base} {self.noun_phrase()[0]}?"
        if kind == 4:  # wh- question
            wh = self.pick(["Where", "Why", "When", "How"])
            subj, person = self.subject()
            base, _, _ = self.pick(VERBS_T + VERBS_I)
            aux = self.pick(["did", "do", "will", "can"])
            if aux == "do" and person == "3":
                aux = "does"
            return f"{wh} {aux} {subj} {base}?"
        if kind == 5:  # command
            base, _, _ = self.pick(VERBS_T)
            please = self.pick(["Please ", "", "", "Do not "])
            tail = " " + self.pick(WHERE) if self.maybe(0.4) else ""
            return f"{please}{base} {self.noun_phrase()[0]}{tail}.".capitalize()
        if kind == 6:  # joined clauses
            join = self.pick([", and ", ", but ", ", so ", " because ", " while "])
            return _cap(self.clause("past")) + join + self.clause("past") + "."
        if kind == 7:  # subordinate clause first
            conj = self.pick(["When", "If", "After", "Before", "Although", "As soon as"])
            tense = "present" if conj == "If" else "past"
            main = "future" if conj == "If" else "past"
            return f"{conj} {self.clause(tense)}, {self.clause(main)}."
        if kind == 8:  # description
            np_, person = self.noun_phrase()
            be = {"2": "were", "3": "was"}[person] if self.maybe(0.5) else (
                {"2": "are", "3": "is"}[person])
            adv = self.pick(["very ", "too ", "quite ", "not ", "so ", ""])
            return f"{_cap(np_)} {be} {adv}{self.pick(ADJECTIVES)}."
        if kind == 9:  # exclamation
            sing, plur = self.pick([n for n in NOUNS if n[1]])
            adj = self.pick(ADJECTIVES)
            art = "an" if adj[0] in _VOWEL else "a"
            return self.pick([f"What {art} {adj} {sing}!", f"How {adj}!",
                              f"Look at the {adj} {plur}!", f"Oh no, the {sing}!"])
        if kind == 10:  # numbers in running speech
            sing, plur = self.pick([n for n in NOUNS if n[1]])
            return self.pick([
                f"I counted {self.number(2, 200)} {plur}.",
                f"She is {self.number(3, 99)} years old.",
                f"It takes {self.number(2, 60)} minutes to get there.",
                f"We need {self.number(2, 30)} more {plur}.",
                f"The {sing} costs {self.number(2, 500)} dollars.",
                f"Room {self.number(100, 999)} is on the left.",
                f"Only {self.number(2, 12)} {plur} were left.",
            ])
        return self.pick(REPLIES)


def _cap(s: str) -> str:
    return s[0].upper() + s[1:]


def open_sentence(rng: np.random.Generator) -> str:
    """One sentence of open text (statement, question, command, reply, …)."""
    return _Gen(rng).sentence()
