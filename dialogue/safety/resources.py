"""Where to send a person in crisis, per locale: the emergency number, a crisis line, an abuse line."""
from __future__ import annotations


def _res(name: str, contact: str, how: str) -> dict:
    return {"name": name, "contact": contact, "how": how}


LOCALES: dict[str, dict] = {
    "en-US": {"emergency": "911",
              "crisis": _res("988 Suicide and Crisis Lifeline", "988", "call or text 988, any time"),
              "abuse": _res("National Domestic Violence Hotline", "1-800-799-7233", "call 1-800-799-7233 or text START to 88788")},
    "en-CA": {"emergency": "911", "crisis": _res("9-8-8 Suicide Crisis Helpline", "988", "call or text 988, any time"),
              "abuse": _res("Assaulted Women's Helpline", "1-866-863-0511", "call 1-866-863-0511")},
    "en-GB": {"emergency": "999", "crisis": _res("Samaritans", "116 123", "call 116 123, free, any time"),
              "abuse": _res("National Domestic Abuse Helpline", "0808 2000 247", "call 0808 2000 247, free, any time")},
    "en-IE": {"emergency": "112", "crisis": _res("Samaritans", "116 123", "call 116 123, free, any time"),
              "abuse": _res("Women's Aid", "1800 341 900", "call 1800 341 900")},
    "en-AU": {"emergency": "000", "crisis": _res("Lifeline", "13 11 14", "call 13 11 14 or text 0477 13 11 14"),
              "abuse": _res("1800RESPECT", "1800 737 732", "call 1800 737 732")},
    "en-NZ": {"emergency": "111", "crisis": _res("Need to talk?", "1737", "call or text 1737"),
              "abuse": _res("Women's Refuge", "0800 733 843", "call 0800 733 843")},
    "en-IN": {"emergency": "112", "crisis": _res("Tele-MANAS", "14416", "call 14416")},
    "de-DE": {"emergency": "112", "crisis": _res("TelefonSeelsorge", "0800 111 0 111", "call 0800 111 0 111")},
    "fr-FR": {"emergency": "112", "crisis": _res("3114", "3114", "call 3114")},
    "es-ES": {"emergency": "112", "crisis": _res("Línea 024", "024", "call 024")},
}
