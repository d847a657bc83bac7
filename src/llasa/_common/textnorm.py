"""English text normalisation: written forms → the words a reader says.

    "On 3 May 2021 it cost $45."
    ->  "On the third of May, twenty twenty-one it cost forty-five dollars."

One function, :func:`normalize_english`, used the same way in three places so that they agree:

* the LM frontend ``normalize:en`` (:mod:`llasa.lm.frontend`), which a model declares in its
  ``config.json`` and which therefore runs on training transcripts and on inference text alike;
* the corpus synthesiser, which speaks the normalised text;
* the WER judge (:func:`llasa.verifiers.text.normalize_text`), on reference *and* hypothesis,
  so "$45" and "forty-five dollars" score as the same words.

Number spelling is num2words' (cardinal, ordinal, year), American style: no "and" inside
numbers ("one hundred twenty-one"). The rules here decide only *which* reading a written form
gets: money, percentages, clock times, dates, years and decades, ordinals, decimals, fractions,
ranges, phone numbers, units after a number, common abbreviations, symbols, URLs and e-mail
addresses. Anything not matched is left as written, and the result holds no ASCII digits
(numbers of 10^15 and more, and digit strings of ten or more without commas, are read digit by
digit).
"""

from __future__ import annotations

import re
import unicodedata

from .errors import InputError

_DIGITS = "zero one two three four five six seven eight nine".split()
_MONTHS = ("January February March April May June July August September October November "
           "December").split()
_MONTH_ABBR = {m[:3].lower(): m for m in _MONTHS} | {"sept": "September"}
# Full names never take the period (it ends the sentence); abbreviations may ("Jan.").
_MONTH_RE = (r"(?:January|February|March|April|May|June|July|August|September|October|"
             r"November|December|(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\.?)")
_NUM = r"\d{1,3}(?:,\d{3})+|\d+"  # 1,234,567 or 1234567
_B = r"(?<![\w.,])"  # a number starts here: not inside a word or another number
_E = r"(?![\w]|[.,]\d)"  # and ends here

# Currencies: symbol → (unit, units, sub-unit, sub-units).
_CURRENCY = {"$": ("dollar", "dollars", "cent", "cents"),
             "£": ("pound", "pounds", "penny", "pence"),
             "€": ("euro", "euros", "cent", "cents"), "¥": ("yen", "yen", "sen", "sen"),
             "₹": ("rupee", "rupees", "paisa", "paise")}
_SCALE = {"k": "thousand", "m": "million", "bn": "billion", "b": "billion",
          "thousand": "thousand", "million": "million", "billion": "billion",
          "trillion": "trillion"}
# Units after a number: abbreviation → (singular, plural). Case matters ("m" metre, "M" no).
_UNITS = {u: tuple(w.split("|")) for u, w in (
    ("km", "kilometer|kilometers"), ("m", "meter|meters"), ("cm", "centimeter|centimeters"),
    ("mm", "millimeter|millimeters"), ("mi", "mile|miles"), ("ft", "foot|feet"),
    ("kg", "kilogram|kilograms"), ("g", "gram|grams"), ("mg", "milligram|milligrams"),
    ("lb", "pound|pounds"), ("lbs", "pound|pounds"), ("oz", "ounce|ounces"),
    ("l", "liter|liters"), ("ml", "milliliter|milliliters"), ("mL", "milliliter|milliliters"),
    ("km/h", "kilometer per hour|kilometers per hour"),
    ("kph", "kilometer per hour|kilometers per hour"),
    ("mph", "mile per hour|miles per hour"), ("m/s", "meter per second|meters per second"),
    ("Hz", "hertz|hertz"), ("kHz", "kilohertz|kilohertz"), ("MHz", "megahertz|megahertz"),
    ("GHz", "gigahertz|gigahertz"), ("kB", "kilobyte|kilobytes"), ("KB", "kilobyte|kilobytes"),
    ("MB", "megabyte|megabytes"), ("GB", "gigabyte|gigabytes"), ("TB", "terabyte|terabytes"),
    ("ms", "millisecond|milliseconds"), ("sec", "second|seconds"), ("min", "minute|minutes"),
    ("hr", "hour|hours"), ("hrs", "hour|hours"), ("h", "hour|hours"),
    ("W", "watt|watts"), ("kW", "kilowatt|kilowatts"), ("V", "volt|volts"),
    ("°C", "degree Celsius|degrees Celsius"), ("°F", "degree Fahrenheit|degrees Fahrenheit"),
    ("°", "degree|degrees"), ("%", "percent|percent"))}
_UNIT_RE = "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True))
# Abbreviations with a period that are always expanded.
_ABBREV = {"Mr.": "Mister", "Mrs.": "Missus", "Ms.": "Miz", "Dr.": "Doctor", "Prof.": "Professor",
           "Jr.": "Junior", "Sr.": "Senior", "Mt.": "Mount", "Ave.": "Avenue", "Rd.": "Road",
           "Blvd.": "Boulevard", "vs.": "versus", "etc.": "et cetera", "e.g.": "for example",
           "i.e.": "that is", "approx.": "approximately", "Dept.": "Department",
           "Co.": "Company", "Inc.": "Incorporated", "Ltd.": "Limited", "Fig.": "Figure"}
_ABBREV_RE = re.compile(r"(?<![\w.])(" + "|".join(re.escape(a) for a in _ABBREV) + r")(?=\W|$)")
_TITLES = {"Mr.", "Mrs.", "Ms.", "Dr.", "Prof.", "Mt."}
_SYMBOLS = {"&": " and ", "+": " plus ", "=": " equals ", "@": " at ", "×": " times ",
            "÷": " divided by ", "~": " about ", "#": " hash ", "§": " section ",
            "°": " degrees ", "%": " percent "}
_DENOMINATORS = {2, 3, 4, 5, 6, 8, 10, 12, 16, 32, 64, 100}  # read "a b-ths" below


def _n2w(n: int, **kw) -> str:
    from num2words import num2words  # here: its 30 ms of imports only for text with numbers

    return num2words(n, **kw)


def cardinal(n: int) -> str:
    """``121`` → "one hundred twenty-one" (no "and", no commas); 10^15 and more digit by digit."""
    if n < 0:
        return "minus " + cardinal(-n)
    if n >= 10**15:
        return digits(str(n))
    return _n2w(n).replace(" and ", " ").replace(",", "")


def ordinal(n: int) -> str:
    """``21`` → "twenty-first"."""
    if n >= 10**15:
        return digits(str(n)) + "th"
    return _n2w(n, to="ordinal").replace(" and ", " ").replace(",", "")


def year(n: int) -> str:
    """A year as said: 1926 "nineteen twenty-six", 1900 "nineteen hundred", 1905 "nineteen
    oh-five", 2005 "two thousand five", 2021 "twenty twenty-one"."""
    if n < 1000 or 2000 <= n < 2010 or n % 1000 == 0:
        return cardinal(n)
    return _n2w(n, to="year").replace(" and ", " ")


def digits(s: str) -> str:
    """"826" → "eight two six" (non-digits dropped)."""
    return " ".join(_DIGITS[int(d)] for d in s if d.isdigit())


def _int(s: str) -> int:
    return int(s.replace(",", ""))


def decimal(whole: str, frac: str | None) -> str:
    """"3", "14" → "three point one four"; "", "5" → "point five"."""
    head = cardinal(_int(whole)) if whole else ""
    if not frac:
        return head
    return f"{head} point {digits(frac)}".strip()


def _money(m: re.Match) -> str:
    sym, whole, frac, scale = m.group("sym"), m.group("whole"), m.group("frac"), m.group("scale")
    one, many, sub, subs = _CURRENCY[sym]
    if scale:  # "$1.5 million" → "one point five million dollars"
        return f"{decimal(whole, frac)} {_SCALE[scale.lower()]} {many}"
    n = _int(whole)
    words = f"{cardinal(n)} {one if n == 1 else many}"
    if frac and len(frac) == 2 and int(frac):
        c = int(frac)
        words = (f"{words} and " if n else "") + f"{cardinal(c)} {sub if c == 1 else subs}"
    elif frac and int(frac):
        words = f"{decimal(whole, frac)} {many}"
    return words


_MONEY = re.compile(r"(?P<sym>[$£€¥₹])\s?(?P<whole>" + _NUM + r")(?:\.(?P<frac>\d+))?"
                    r"(?:\s?(?P<scale>thousand|million|billion|trillion|bn|[kKmMbB])(?![\w]))?")
_CENTS = re.compile(_B + r"(\d+)\s?¢")


def _clock(h: int, mi: int, ampm: str | None) -> str:
    if ampm:
        tail = " " + " ".join(ampm.replace(".", "").upper())  # letters: "P M"
        if mi == 0:
            return cardinal(h) + tail
    else:
        tail = ""
        if mi == 0:
            return f"{cardinal(h)} o'clock"
    mins = f"oh {_DIGITS[mi]}" if mi < 10 else cardinal(mi)
    return f"{cardinal(h)} {mins}{tail}"


_AMPM = r"(?:\s?(?P<ampm>[aApP]\.?[mM]\.?)(?![\w]))"
_TIME = re.compile(_B + r"(?P<h>[01]?\d|2[0-3]):(?P<mi>[0-5]\d)(?::(?P<s>[0-5]\d))?" + _AMPM
                   + r"?(?![\w:])")
_TIME_AMPM = re.compile(_B + r"(?P<h>1[0-2]|0?[1-9])(?P<mi>[0-5]\d)?" + _AMPM)  # 3pm, 940 PM


def _time(m: re.Match) -> str:
    d = m.groupdict()
    out = _clock(int(d["h"]), int(d.get("mi") or 0), d["ampm"])
    if d.get("s") and int(d["s"]):
        out += f" and {cardinal(int(d['s']))} seconds"
    return out


def _month(s: str) -> str:
    s = s.rstrip(".")
    return _MONTH_ABBR.get(s[:4].lower() if s.lower().startswith("sept") else s[:3].lower(), s)


_ORD = r"(?:st|nd|rd|th)"
_DAY_MONTH = re.compile(r"(?:(?<!\w)(?P<the>[Tt]he)\s+)?" + _B + r"(?P<d>[12]\d|3[01]|0?[1-9])"
                        + _ORD + r"?(?:\s+of)?\s+(?P<mo>" + _MONTH_RE
                        + r")(?:,?\s+(?P<y>\d{4}))?(?!\w)")
_MONTH_DAY = re.compile(r"(?<!\w)(?P<mo>" + _MONTH_RE + r")\s+(?P<d>[12]\d|3[01]|0?[1-9])" + _ORD
                        + r"?(?:,?\s+(?P<y>\d{4}))?(?![\w:]|[.,]\d)")
_MONTH_YEAR = re.compile(r"(?<!\w)(?P<mo>" + _MONTH_RE + r")\s+(?P<y>1[1-9]\d\d|20\d\d)(?!\w)")
_ISO_DATE = re.compile(_B + r"(?P<y>\d{4})-(?P<mo>0[1-9]|1[0-2])-(?P<d>0[1-9]|[12]\d|3[01])" + _E)
_US_DATE = re.compile(_B + r"(?P<mo>0?[1-9]|1[0-2])/(?P<d>0?[1-9]|[12]\d|3[01])/"
                      r"(?P<y>\d{4}|\d{2})" + _E)


def _date(mo: str, d: str | None, y: str | None, day_first: bool, the: str | None = None) -> str:
    month = _month(mo)
    if d is None:
        return f"{month} {year(int(y))}"
    day = ordinal(int(d))
    out = f"{the or 'the'} {day} of {month}" if day_first else f"{month} {day}"
    if y:
        yy = int(y) + (2000 if len(y) == 2 and int(y) < 50 else 1900 if len(y) == 2 else 0)
        out += f", {year(yy)}"
    return out


def _sub_dates(s: str) -> str:
    s = _ISO_DATE.sub(lambda m: _date(_MONTHS[int(m["mo"]) - 1], m["d"], m["y"], False), s)
    s = _US_DATE.sub(lambda m: _date(_MONTHS[int(m["mo"]) - 1], m["d"], m["y"], False), s)
    s = _DAY_MONTH.sub(lambda m: _date(m["mo"], m["d"], m["y"], True, m["the"]), s)
    s = _MONTH_DAY.sub(lambda m: _date(m["mo"], m["d"], m["y"], False), s)
    return _MONTH_YEAR.sub(lambda m: _date(m["mo"], None, m["y"], False), s)


_DECADE = re.compile(_B + r"(?:(?P<full>1[1-9]\d0|20\d0)|'(?P<short>\d0))'?s(?!\w)")
_YEAR = re.compile(_B + r"(1[1-9]\d\d|20\d\d)(?!\w|[.,]\d|%|\s?(?:" + _UNIT_RE + r")(?!\w))")
_PHONE = re.compile(r"(?<![\w.,-])(?:\(\d{3}\)\s?|\d{3}[-.\s])?\d{3}-\d{4}(?![\w-]|[.,]\d)")
_RANGE = re.compile(
    r"(?<!\d[-–])" + _B + r"(" + _NUM + r")\s?[-–]\s?(" + _NUM + r")" + _E + r"(?![-–]\d)"
)
_FRACTION = re.compile(_B + r"(\d+)/(\d+)" + _E)
_ORDINAL = re.compile(_B + r"(" + _NUM + r")(st|nd|rd|th)(?!\w)")
_VALUE = r"(-?)(?:(" + _NUM + r")(?:\.(\d+))?|\.(\d+))"  # sign, whole, fraction | fraction
_UNIT_AFTER = re.compile(_B + _VALUE + r"\s?(" + _UNIT_RE + r")(?!\w)")
_NUMBER = re.compile(_B + _VALUE + _E)
_YEAR_RANGE = re.compile(_B + r"(1[1-9]\d\d|20\d\d)\s?[-–]\s?(1[1-9]\d\d|20\d\d|\d\d)" + _E)
_DOTTED = re.compile(r"(?<![\w.])\d+(?:\.\d+){2,}(?![\w]|\.\d)")  # 192.168.0.1, 2.0.1
_ALNUM = re.compile(r"(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])")
_URL = re.compile(r"\b(?:(?:https?|ftp)://|www\.)[^\s<>\"]+[^\s<>\".,;:!?)]", re.I)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
# bare domains ("example.com"): common top-level domains only, so "e.g." or "3.5" never match
_DOMAIN = re.compile(r"(?<![\w@.])[A-Za-z][\w-]*(?:\.[\w-]+)*\.(?:com|org|net|edu|gov|io|co|uk|us"
                     r"|de|fr|info|biz|ai|dev|app)\b(?!\.\w|@)(?:/[\w./-]*\w)?", re.I)


def _spell_address(s: str) -> str:
    """"www.example.com/a_b" → "w w w dot example dot com slash a underscore b"."""
    names = {".": " dot ", "/": " slash ", "@": " at ", "-": " dash ", "_": " underscore ",
             ":": " colon ", "?": " question mark ", "=": " equals ", "&": " and ",
             "+": " plus ", "#": " hash ", "~": " tilde ", "%": " percent "}
    s = re.sub(r"^(?:https?|ftp)://", "", s, flags=re.I)
    s = re.sub(r"(?i)\bwww(?=\.)", "w w w", s)
    s = "".join(names.get(c, c) for c in s)
    s = re.sub(r"\d+", lambda m: digits(m[0]) if len(m[0]) > 2 else cardinal(int(m[0])), s)
    return " ".join(s.split())


def _fraction(m: re.Match) -> str:
    a, b = int(m.group(1)), int(m.group(2))
    if b not in _DENOMINATORS or (a >= b and b not in (2, 4)):  # "50/50", "9/11"
        return f"{cardinal(a)} {cardinal(b)}"
    if b == 2:
        return "one half" if a == 1 else f"{cardinal(a)} halves"
    if b == 4:
        return "one quarter" if a == 1 else f"{cardinal(a)} quarters"
    den = ordinal(b)
    return f"{cardinal(a)} {den}" + ("" if a == 1 else "s")


def _unit(m: re.Match) -> str:
    sign, whole, frac, frac_only, unit = m.groups()
    frac = frac or frac_only
    one, many = _UNITS[unit]
    is_one = not frac and whole and _int(whole) == 1
    return f"{'minus ' if sign else ''}{decimal(whole, frac)} {one if is_one else many}"


def _number(m: re.Match) -> str:
    sign, whole, frac, frac_only = m.groups()
    frac = frac or frac_only
    if whole and "," not in whole and (len(whole) >= 10 or (len(whole) > 1 and whole[0] == "0")):
        # "007", and long digit strings without commas (ids, account numbers)
        words = digits(whole) + (f" point {digits(frac)}" if frac else "")
    else:
        words = decimal(whole, frac)
    return ("minus " if sign else "") + words


def normalize_english(text: str) -> str:
    """Written English → spoken English words (see the module docstring).

    Args:
        text: any text; case and punctuation are kept, only written forms are rewritten.

    Returns:
        the text with numbers, dates, times, money, units, abbreviations, symbols, URLs and
        e-mail addresses spelled out; whitespace collapsed.

    Raises:
        InputError: ``text`` is not a string.
    """
    if not isinstance(text, str):
        raise InputError(f"text must be a string, got {type(text).__name__}")
    s = unicodedata.normalize("NFKC", text).replace("\u2044", "/").replace("\u2212", "-")
    s = _URL.sub(lambda m: " " + _spell_address(m.group()) + " ", s)
    s = _EMAIL.sub(lambda m: " " + _spell_address(m.group()) + " ", s)
    s = _DOMAIN.sub(lambda m: " " + _spell_address(m.group()) + " ", s)
    s = _ABBREV_RE.sub(lambda m: _ABBREV[m.group(1)] + _stop(m, m.group(1)), s)
    s = re.sub(r"(?<![\w.])St\.(?=\s+[A-Z])", "Saint", s)  # "St. Louis"; "Main St." is a street
    s = re.sub(r"(?<![\w.])St\.", "Street", s)
    s = re.sub(r"(?<![\w.])No\.\s?(?=\d)", "number ", s)
    s = re.sub(r"(?<!\w)#\s?(?=\d)", "number ", s)
    s = _MONEY.sub(lambda m: " " + _money(m) + " ", s)
    s = _CENTS.sub(lambda m: f"{cardinal(int(m[1]))} cent{'' if m[1] == '1' else 's'}", s)
    s = _sub_dates(s)
    s = _TIME.sub(lambda m: _time(m) + _stop(m), s)
    s = _TIME_AMPM.sub(lambda m: _clock(int(m["h"]), int(m["mi"] or 0), m["ampm"]) + _stop(m), s)
    s = _DECADE.sub(lambda m: _decade(m["full"], m["short"]), s)
    s = re.sub(_B + r"24/7" + _E, "twenty-four seven", s)
    s = _PHONE.sub(lambda m: " " + digits(m.group()) + " ", s)
    s = _YEAR_RANGE.sub(_year_range, s)
    s = _YEAR.sub(lambda m: year(int(m.group(1))), s)
    s = _RANGE.sub(lambda m: f"{cardinal(_int(m.group(1)))} to {cardinal(_int(m.group(2)))}", s)
    s = _FRACTION.sub(_fraction, s)
    s = _ORDINAL.sub(lambda m: ordinal(_int(m.group(1))), s)
    s = _UNIT_AFTER.sub(_unit, s)
    s = _ALNUM.sub(" ", s)  # "MP3" → "MP 3", "COVID-19" stays split at the dash
    s = _DOTTED.sub(lambda m: " dot ".join(cardinal(int(x)) for x in m.group().split(".")), s)
    s = _NUMBER.sub(_number, s)
    s = re.sub(r"\d+", lambda m: cardinal(int(m.group())), s)  # whatever digits are left
    s = "".join(_SYMBOLS.get(c, c) for c in s)
    s = re.sub(r"(?<=\w)/(?=\w)", " ", s)  # "and/or"
    s = re.sub(r"(?<=[a-z]),(?=[a-z])", ", ", s)  # "1,2,3" → "one, two, three"
    s = re.sub(r"\s+([,.;:!?])", r"\1", s)
    return " ".join(s.split())


def _stop(m: re.Match, abbrev: str = "") -> str:
    """"." when the period that ended a match also ended the sentence ("... etc." at the end,
    or before a capital); titles such as "Dr." never end one."""
    if not m.group(0).endswith(".") or abbrev in _TITLES:
        return ""
    rest = m.string[m.end():]
    return "." if not rest.strip() or re.match(r"\s+[A-Z]", rest) else ""


def _year_range(m: re.Match) -> str:
    a, b = m.group(1), m.group(2)
    if len(b) == 2:
        if int(b) <= int(a[2:]):  # "2021-13-01" is no range of years
            return m.group(0)
        b = a[:2] + b
    return f"{year(int(a))} to {year(int(b))}"


def _decade(full: str | None, short: str | None) -> str:
    words = year(int(full)) if full else cardinal(int(short))
    if full and int(full) % 100 == 0:  # "1900s" → "nineteen hundreds"
        return words + "s"
    return words[:-1] + "ies" if words.endswith("y") else words + "s"
