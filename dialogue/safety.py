"""Crisis safety, in front of the model (detect, escalate, answer with resources) and behind it
(drop what crisis guidelines say never to say: method details, promises of secrecy, cold refusals).

Detection is lexical on purpose: deterministic, fast (< 1 ms), auditable by a deployment. Voice
distress (crying, screaming, panting) raises the severity of a signal the words carry.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .voice import VoiceCues

CATEGORIES = ("suicide", "self_harm", "harm_to_others", "abuse", "medical_emergency")
SEVERITIES = ("low", "medium", "high")  # low: watch, no event; medium/high: escalate

_NEG = re.compile(r"\b(not|never|no|don'?t|didn'?t|wouldn'?t|won'?t|isn'?t|ain'?t|nor)\b|n't\b", re.I)


@dataclass(frozen=True)
class Rule:
    category: str
    severity: str
    pattern: re.Pattern
    reason: str
    negatable: bool = True  # a negation in the three words before the match cancels it


def _r(category: str, severity: str, reason: str, pattern: str, negatable: bool = True) -> Rule:
    return Rule(category, severity, re.compile(pattern, re.I), reason, negatable)


_PRONOUN = r"(him|her|them|someone|somebody|people|everyone|everybody|my (boss|husband|wife|partner|dad|father|mom|mother|brother|sister|neighbou?r|ex|son|daughter|kids?|baby|coworker|teacher))"
RULES: tuple[Rule, ...] = (
    # suicide
    _r("suicide", "high", "states intent or a plan to end their life",
       r"\b(going to|gonna|will|plan(ning)? to|ready to|decided to|about to) (kill myself|end (it all|my life|it tonight)|take my (own )?life)"),
    _r("suicide", "high", "has the means ready or is saying goodbye",
       # "good[- ]?bye?": recognisers also write "good by", "good-bye"
       r"\b((wrote|written|writing) (a|my) (suicide|good[- ]?bye?) (note|letter)|(pills|rope|gun) (is|are) ready|this is (my|the) (last|final) (good[- ]?bye?|night|message)|"
       r"said good[- ]?bye? to everyone|won'?t be (here|around|alive) (tomorrow|by morning|much longer)|tonight'?s the night)", negatable=False),
    _r("suicide", "medium", "speaks of wanting to die or kill themselves",
       r"\b(kill(ing)? myself|suicid(e|al)|want(ed)? to die|wanna die|wish(ed)? i (was|were) dead|"
       r"end(ing)? my (own )?life|take my (own )?life|better off dead|tried to (kill myself|end it))"),
    _r("suicide", "medium", "expresses not wanting to live",
       r"\b(don'?t|do not) want to (live|be alive|be here|exist|wake up)( anymore| any more)?\b|"
       r"\bno (reason|point) (to|in) (live|living|going on)|\b(everyone|they|my family|the world)('?d| would) be better off without me|"
       r"\bcan'?t go on( anymore| any more)?\s*($|[.!,])|\bwant to (sleep|go to sleep) and never wake up|"
       r"\bwant(ing)? to disappear (forever|for good)|\bgiving away (all )?my (things|stuff|belongings)|"
       r"\b(don'?t|do not|can'?t|cannot) see (the|any) (point|reason) (of|in|to) (going on|living|being alive|carrying on|keep going|life)|"
       r"\bno (reason|point) (to|in) (keep going|carry(ing)? on|be(ing)? (here|alive))|"
       r"\b(thinking (about|of)|thought about) (ending it|ending it all|not being here)|\bend it all\b|"
       r"\b(i'?d|i would) rather (not be here|be dead|not exist)|\bjust want (it all|it|everything|this|all of this) to (be over|end)\b", negatable=False),
    _r("suicide", "medium", "speaks of someone else wanting to die",
       r"\b(kill|killing) (himself|herself|themselves)|\b(he|she|they) (wants?|tried) to (die|end (it|his life|her life|their life))"),
    _r("suicide", "low", "sounds hopeless",
       r"\b(what('?s| is) the point( of anything| of living| anymore)?|nothing matters( anymore)?|(i'?m|i am|i feel like) (just |such |nothing but |only )?a burden|no way out|"
       r"tired of (everything|living|it all)|want it all to (stop|end)|can'?t do this anymore|no one would (miss|notice) me)", negatable=False),
    # self-harm
    _r("self_harm", "high", "is harming themselves now",
       r"\b(i'?m|i am) (cutting|hurting|burning) myself (right )?now|\bcut (myself )?too deep|\bbleeding (and|because) i cut"),
    _r("self_harm", "medium", "speaks of harming themselves",
       r"\b(cutting myself|self[- ]harm(ing)?|(cut|burn(ed|t)?|hurt|harm(ed)?) myself (on purpose|again|deliberately)|"
       r"(want|wanting|urge|need|going|feel like|thinking about|started|keep) (to )?(cut|cutting|hurt|hurting|harm|harming|burn|burning|punish|punishing) myself|"
       r"relapsed? (on|into) (cutting|self[- ]harm))"),
    # harm to others
    _r("harm_to_others", "high", "states intent to hurt someone",
       rf"\b(going to|gonna|plan(ning)? to|want to|will|ready to) (kill|hurt|stab|shoot|strangle|beat up) {_PRONOUN}\b|"
       r"\b(bring(ing)?|take|taking) a (gun|knife|weapon) to (school|work|the office|class)|\bshoot up (the|my) (school|office|work)"),
    _r("harm_to_others", "medium", "has thoughts of hurting someone",
       rf"\b(thoughts? (of|about)|fantasi[sz](e|ing) about|can'?t stop thinking about) (kill|hurt|stabb|shoot)(ing)? {_PRONOUN}\b|"
       rf"\bwant {_PRONOUN} (dead|to suffer)|\bmake (him|her|them) pay\b"),
    # abuse
    _r("abuse", "high", "is in danger from another person now",
       r"\b(he|she|they)('?s| is| are) (outside|at the door|coming back|trying to get in|breaking in)|"
       r"\b(threaten(ed|s|ing)?|said|says|swore) (he|she|they)('?d| would| will| is going to| was going to) (kill|hurt) me|"
       r"\bthreaten(ed|s|ing)? to (kill|hurt) me|\bsomeone is (hurting|attacking|following) me", negatable=False),
    _r("abuse", "medium", "describes abuse",
       r"\b(he|she|they|my (husband|wife|partner|boyfriend|girlfriend|dad|father|mom|mother|stepdad|stepfather|stepmom|uncle|brother|ex|boss|coach))"
       r" (hits|hit|beats|beat|punched|punches|chokes|choked|kicked|kicks|slapped|slaps|shoves|shoved|raped|molested|hurts|hurt) me|"
       r"\b(sexually |physically |emotionally )?abus(ed|ing|es) me|\bdomestic (violence|abuse)|\bafraid to go home|"
       r"\b(won'?t|doesn'?t) let me (leave|see my|go out|have money)|\blocks? me (in|up)|\b(touch(es|ed)|touching) me (when|where|and) i (don'?t|didn'?t)|"
       r"\bforced me to|\bi'?m being (abused|hurt|hit|beaten)", negatable=False),
    # medical emergency
    _r("medical_emergency", "high", "describes a medical emergency",
       r"\b(chest pain|(can'?t|cannot|can not) breathe|trouble breathing|struggling to breathe|not breathing|"
       r"overdos(e|ed|ing)|took (too many|a (bunch|handful) of|all (of )?(my|the)) (pills|tablets|meds)|"
       r"(having|had) a (heart attack|stroke|seizure)|face is drooping|numb on one side|bleeding (badly|a lot|heavily|everywhere)|"
       r"won'?t stop bleeding|passed out|(is|went|was) unconscious|swallowed (bleach|poison|antifreeze)|throat is (closing|swelling)|"
       r"call (an ambulance|911|999|112)|need an ambulance)", negatable=False),
)


@dataclass(frozen=True)
class Concern:
    category: str | None = None
    severity: str | None = None
    reason: str = ""
    matched: str = ""
    voice: tuple[str, ...] = ()

    @property
    def escalate(self) -> bool:
        return self.severity in ("medium", "high")

    def as_event(self) -> dict:
        return {"category": self.category, "severity": self.severity, "reason": self.reason}

    def describe(self) -> str:
        if not self.category:
            return "none"
        return f"{self.severity} {self.category.replace('_', ' ')} ({self.reason})"


_RANK = {s: i for i, s in enumerate(SEVERITIES)}


def gravity(concern: Concern) -> int:
    """Orders concerns: none (-1) < low < medium < high."""
    return _RANK.get(concern.severity, -1)


def detect(text: str, voice: VoiceCues | None = None) -> Concern:
    """The gravest concern in one user turn, with voice distress raising its severity by one step."""
    best: tuple[int, Rule, str] | None = None
    lows = 0
    for rule in RULES:
        for m in rule.pattern.finditer(text):
            if rule.negatable and _negated(text, m.start()):
                continue
            lows += rule.severity == "low"
            rank = _RANK[rule.severity]
            if best is None or rank > best[0]:
                best = (rank, rule, m.group(0))
    if best is None:
        return Concern()
    rank, rule, matched = best
    if rank == 0 and lows > 1:  # several signs of hopelessness in one turn
        rank = 1
    distress = voice.distress if voice else ()
    if distress:
        rank = min(rank + 1, _RANK["high"])
    reason = rule.reason + (f"; voice: {', '.join(distress)}" if distress else "")
    return Concern(rule.category, SEVERITIES[rank], reason, matched, distress)


def _negated(text: str, start: int) -> bool:
    before = text[:start].split()[-3:]
    return bool(_NEG.search(" ".join(before)))


# --- resources --------------------------------------------------------------------------------

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


@dataclass
class SafetyPolicy:
    """Per-deployment safety settings. `resources` overrides or extends the locale's entry."""
    locale: str = "en-US"
    resources: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.locale not in LOCALES and not self.resources:
            raise ValueError(f"no crisis resources for locale {self.locale!r}; known: {sorted(LOCALES)} "
                             "(or pass resources={'emergency': ..., 'crisis': {...}})")
        self.table = {**LOCALES.get(self.locale, {}), **self.resources}
        if "crisis" not in self.table or "emergency" not in self.table:
            raise ValueError("resources need at least 'emergency' (a number) and 'crisis' (a line)")

    def detect(self, text: str, voice: VoiceCues | None = None) -> Concern:
        return detect(text, voice)

    def resources_for(self, category: str, severity: str) -> list[dict]:
        t = self.table
        emergency = _res("Emergency services", t["emergency"], f"call {t['emergency']}")
        if category == "medical_emergency":
            return [emergency]
        if category == "abuse":
            return [r for r in (t.get("abuse"), emergency if severity == "high" else t["crisis"]) if r]
        if severity == "high":
            return [emergency, t["crisis"]]
        return [t["crisis"], emergency]

    def resource_sentence(self, category: str, severity: str) -> str:
        t = self.table
        crisis, emergency = t["crisis"], t["emergency"]
        if category == "medical_emergency":
            return f"Please call {emergency} right now, or ask someone near you to call."
        if category == "abuse":
            line = t.get("abuse") or crisis
            first = f"If you are in danger right now, please call {emergency}. " if severity == "high" else ""
            return first + f"You can also reach the {line['name']}: {line['how']}."
        if category == "harm_to_others":
            return (f"If anyone is in danger right now, please call {emergency}. You can also talk it through "
                    f"with the {crisis['name']}: {crisis['how']}.")
        danger = f" If you are in danger right now, please call {emergency}." if severity == "high" else ""
        return f"You can reach the {crisis['name']}: {crisis['how']}.{danger}"

    def crisis_reply(self, category: str, severity: str) -> list[str]:
        """A warm, fixed reply for high severity, in clauses (the first one short)."""
        opening = {
            "suicide": ["I'm really glad you told me.", "I'm here with you, and your life matters."],
            "self_harm": ["I'm really glad you told me.", "You deserve care right now, not more pain."],
            "harm_to_others": ["Thank you for telling me.", "It sounds like a lot is building up inside you."],
            "abuse": ["I'm so sorry this is happening.", "You don't deserve to be hurt, and your safety comes first."],
            "medical_emergency": ["This sounds serious.", "Your safety comes first."],
        }[category]
        ask = {"medical_emergency": "I'll stay right here with you while you call.",
               "harm_to_others": "Can you tell me if anyone is in danger right now?"}.get(category, "Are you safe right now?")
        return [*opening, self.resource_sentence(category, severity), ask]

    def mentions_resource(self, text: str, category: str, severity: str) -> bool:
        contacts = [r["contact"] for r in self.resources_for(category, severity)]
        return any(c in text for c in contacts)


# --- behind the model ---------------------------------------------------------------------------

_FORBIDDEN = (
    ("method detail", re.compile(
        r"\b(lethal|fatal|deadly) (dose|amount)|\bhow many (pills|tablets)|\b\d+\s*(mg|milligrams?|pills|tablets)\b|"
        r"\b(noose|hang(ing)? yourself|slit|wrists?|jump (off|from)|high enough to|painless(ly)?|most effective way|"
        r"carbon monoxide|exhaust fumes|overdose on|cut deeper|where to cut|quickest way)\b", re.I)),
    ("promise of secrecy", re.compile(
        r"\b(i|we)( promise| swear)? (won'?t|will not|will never|never) tell (anyone|anybody|a soul|your)|"
        r"\bkeep (this|it|that) (a )?secret|\b(stays|just) between (you and me|us)|\bno one (will|needs to|has to) know|"
        r"\bpromise (not to|i won'?t) tell", re.I)),
    ("cold refusal", re.compile(
        r"\b(i'?m sorry,? but )?i (can'?t|cannot|am unable to|won'?t) (help|assist|provide|discuss|continue)( you)?( with)? (that|this)|"
        r"\bas an ai\b|\bi'?m (just )?an ai\b|\bi am not able to help", re.I)),
)


def forbidden(text: str) -> str | None:
    """Why this piece of a reply must not be spoken, or None."""
    for why, pattern in _FORBIDDEN:
        if pattern.search(text):
            return why
    return None


_LEAK = re.compile(r"\bthe person('?s)? (voice|is|are|sounds|feels|seems)\b|\b(voice|mood shift|stage|safety concern|need|tone|note)\s*:|\bemotion (unknown|sad|angry|happy|fearful)\b|"
                   r"\b(events|gender|age|style) unknown\b|\b(need|tone) is one of\b|"
                   r"\b(listen|comfort|reassure|calm|encourage|celebrate|inform|plan|safety), (listen|comfort|reassure|calm|encourage|celebrate|inform|plan|safety)\b", re.I)
_WORD = re.compile(r"[a-z']+")


def off_script(clause: str, user_text: str) -> str | None:
    """Why a clause is not the assistant speaking to the person: it reads out the note or the format,
    or it repeats the person's own words back as if it were them (small models do both)."""
    if _LEAK.search(clause):
        return "leaked note"
    words = _WORD.findall(clause.lower())
    if len(words) >= 3:
        user = _WORD.findall(user_text.lower())
        grams = {tuple(user[i:i + 3]) for i in range(len(user) - 2)}
        hits = sum(tuple(words[i:i + 3]) in grams for i in range(len(words) - 2))
        if hits / (len(words) - 2) >= 0.6:
            return "echo of the person's words"
    return None
