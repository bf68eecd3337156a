"""Text normalisation for speech: what a voice should say for digits, symbols, times and abbreviations.

English only (the embedded voices are English). The rules run in a fixed order: times and money
before bare numbers, so "3:30" is never read as "three, thirty" and "$5" never as "dollar five".
"""
from __future__ import annotations

import re

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
         "fifteen sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_ORDINAL_IRREGULAR = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
                      "nine": "ninth", "twelve": "twelfth"}


def number_to_words(n: int) -> str:
    if n < 0:
        return "minus " + number_to_words(-n)
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + ("-" + _ONES[ones] if ones else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return _ONES[hundreds] + " hundred" + (" " + number_to_words(rest) if rest else "")
    for value, name in _SCALES:
        if n >= value:
            head, rest = divmod(n, value)
            return number_to_words(head) + " " + name + (" " + number_to_words(rest) if rest else "")
    raise AssertionError("unreachable")


def ordinal_to_words(n: int) -> str:
    head, sep, last = re.match(r"(.*?)([ -]?)([a-z]+)$", number_to_words(n)).groups()
    if last in _ORDINAL_IRREGULAR:
        last = _ORDINAL_IRREGULAR[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return head + sep + last


def year_to_words(n: int) -> str:
    if 2000 <= n < 2010:
        return number_to_words(n)
    high, low = divmod(n, 100)
    if low == 0:
        return number_to_words(high) + " hundred"
    return number_to_words(high) + " " + ("oh " + _ONES[low] if low < 10 else number_to_words(low))


def _digits_one_by_one(digits: str) -> str:
    return " ".join(_ONES[int(d)] for d in digits)


def _decimal(text: str) -> str:
    whole, _, frac = text.partition(".")
    out = number_to_words(int(whole.replace(",", "") or "0"))
    return out + (" point " + _digits_one_by_one(frac) if frac else "")


ABBREVIATIONS = {
    "mr.": "mister", "mrs.": "missus", "ms.": "miz", "dr.": "doctor", "prof.": "professor", "st.": "saint",
    "jr.": "junior", "sr.": "senior", "vs.": "versus", "etc.": "et cetera", "e.g.": "for example",
    "i.e.": "that is", "approx.": "approximately", "min.": "minutes", "hr.": "hour", "hrs.": "hours",
    "no.": "number", "dept.": "department", "ave.": "avenue", "apt.": "apartment",
}
_SYMBOLS = {"&": " and ", "%": " percent", "+": " plus ", "=": " equals ", "@": " at ", "#": " number ",
            "°": " degrees", "*": " ", "_": " ", "~": " about "}
_UNITS = {"km": "kilometers", "kg": "kilograms", "mg": "milligrams", "ml": "milliliters", "cm": "centimeters",
          "mm": "millimeters", "lb": "pounds", "lbs": "pounds", "mph": "miles per hour", "kmh": "kilometers per hour",
          "h": "hours", "min": "minutes", "s": "seconds", "ms": "milliseconds"}
_SPELL_OUT = {"ASAP": "as soon as possible", "FYI": "for your information", "OK": "okay", "ok": "okay",
              "vs": "versus", "approx": "approximately"}

_TIME = re.compile(r"\b([01]?\d|2[0-3]):([0-5]\d)\s*(a\.?m\.?|p\.?m\.?|AM|PM|am|pm)?(?=\W|$)")
_CLOCK = re.compile(r"\b(1[0-2]|[1-9])\s*(a\.?m\.?|p\.?m\.?|AM|PM|am|pm)(?=\W|$)")
_MONEY = re.compile(r"([$€£])\s?(\d[\d,]*)(?:\.(\d{1,2}))?\b(\s*(?:million|billion|thousand))?")
_ORDINAL = re.compile(r"\b(\d+)(st|nd|rd|th)\b", re.IGNORECASE)
_YEAR = re.compile(r"\b(in|since|by|until|from|of|year|circa|before|after) (1[1-9]\d\d|20\d\d)\b", re.IGNORECASE)
_PERCENT = re.compile(r"(\d[\d,]*(?:\.\d+)?)\s?%")
_UNIT = re.compile(r"\b(\d[\d,]*(?:\.\d+)?)\s?(" + "|".join(sorted(_UNITS, key=len, reverse=True)) + r")\b")
_NUMBER = re.compile(r"(?<![\w.])-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|(?<![\w.])-?\d+(?:\.\d+)?")
_PHONE = re.compile(r"(?<![\w.])(?:\+?1[-. ])?(?:\(\d{3}\)\s?|\d{3}[-. ])\d{3}[-. ]\d{4}\b|(?<![\w.])\d{3}[-. ]\d{4}\b")
# Short codes people must hear digit by digit: emergency and crisis lines (US 911/988, UK 999/111, EU 112, ...).
_SHORT_CODES = re.compile(r"\b(911|988|999|112|111|211|311|411|511|611|711|811|000)\b")
_RANGE = re.compile(r"\b(\d+)\s?[-–]\s?(\d+)\b")
_CURRENCY = {"$": ("dollar", "dollars", "cent", "cents"), "€": ("euro", "euros", "cent", "cents"),
             "£": ("pound", "pounds", "penny", "pence")}


def _phone(m: re.Match) -> str:
    groups = re.findall(r"\d+", m.group(0))
    return ", ".join(_digits_one_by_one(g) for g in groups)


def _meridiem(m: re.Match, suffix: str) -> str:
    words = " a m" if suffix.lower().startswith("a") else " p m"
    rest = m.string[m.end():]
    if suffix.endswith(".") and (not rest.strip() or re.match(r"\s+[A-Z]", rest)):
        words += "."  # the abbreviation's dot also ended the sentence
    return words


def _time(m: re.Match) -> str:
    hour, minute, suffix = int(m.group(1)), int(m.group(2)), m.group(3)
    words = number_to_words(hour)
    if minute == 0:
        words += " o'clock" if suffix is None else ""
    elif minute < 10:
        words += " oh " + number_to_words(minute)
    else:
        words += " " + number_to_words(minute)
    return words + (_meridiem(m, suffix) if suffix else "")


def _clock(m: re.Match) -> str:
    return number_to_words(int(m.group(1))) + _meridiem(m, m.group(2))


def _money(m: re.Match) -> str:
    one, many, cent, cents = _CURRENCY[m.group(1)]
    whole = int(m.group(2).replace(",", ""))
    if m.group(4):  # "$5 million" -> "five million dollars"
        return f"{number_to_words(whole)}{m.group(4)} {many}"
    words = f"{number_to_words(whole)} {one if whole == 1 else many}"
    if m.group(3):
        c = int(m.group(3).ljust(2, "0"))
        if c:
            words += f" and {number_to_words(c)} {cent if c == 1 else cents}"
    return words


def _number(m: re.Match) -> str:
    text = m.group(0).replace(",", "")
    negative = text.startswith("-")
    text = text.lstrip("-")
    words = _decimal(text) if "." in text else number_to_words(int(text))
    return ("minus " if negative else "") + words


def _unit(m: re.Match) -> str:
    return f"{m.group(1)} {_UNITS[m.group(2)]}"


def normalize(text: str) -> str:
    """Rewrite `text` into words a voice reads correctly. Never raises on odd input; returns '' for None."""
    if not text:
        return ""
    out = text.replace("\u2019", "'").replace("\u2014", ", ").replace("\u2013", "-").replace("\u2026", "...")
    out = re.sub(r"https?://\S+", "a link", out)
    out = re.sub(r"[\u2600-\u27bf\U0001f000-\U0001faff]", "", out)  # emoji: unspeakable
    # "Main St." is a street, "St. Paul" a saint.
    out = re.sub(r"\b([A-Z][a-z]+) St\.(\s*)$", r"\1 Street.\2", out)
    out = re.sub(r"\b([A-Z][a-z]+) St\.", r"\1 Street", out)
    for abbr, full in ABBREVIATIONS.items():
        # At the very end the abbreviation's dot also ended the sentence: keep one.
        out = re.sub(r"(?<![\w.])" + re.escape(abbr) + r"(?=\s|$|[,;:!?])", full, out, flags=re.IGNORECASE)
        if out.endswith(full) and text.rstrip().lower().endswith(abbr):
            out += "."
    out = _PHONE.sub(_phone, out)
    out = _SHORT_CODES.sub(lambda m: _digits_one_by_one(m.group(1)), out)
    out = _TIME.sub(_time, out)
    out = _CLOCK.sub(_clock, out)
    out = _MONEY.sub(_money, out)
    out = _PERCENT.sub(lambda m: m.group(1) + " percent", out)
    out = _UNIT.sub(_unit, out)
    out = _ORDINAL.sub(lambda m: ordinal_to_words(int(m.group(1))), out)
    out = _RANGE.sub(lambda m: f"{m.group(1)} to {m.group(2)}", out)
    out = _YEAR.sub(lambda m: m.group(1) + " " + year_to_words(int(m.group(2))), out)
    out = _NUMBER.sub(_number, out)
    for sym, word in _SYMBOLS.items():
        out = out.replace(sym, word)
    out = re.sub(r"\b(" + "|".join(_SPELL_OUT) + r")\b", lambda m: _SPELL_OUT[m.group(1)], out)
    return re.sub(r"\s+", " ", out).strip()
