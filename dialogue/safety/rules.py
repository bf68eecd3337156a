"""The lexical member of the screen: patterns for what people say in crisis, with negation ("I would
never hurt myself") and idioms ("this commute is killing me") left alone. Deterministic, < 1 ms, and
auditable by a deployment; the scorer (`scorer.py`) hears what the patterns were never written for."""
from __future__ import annotations

import re
from dataclasses import dataclass

from .risk import Concern, rank

_NEG = re.compile(r"\b(not|never|no|don'?t|didn'?t|wouldn'?t|won'?t|isn'?t|ain'?t|nor)\b|n't\b", re.I)


@dataclass(frozen=True)
class Rule:
    category: str
    level: str
    pattern: re.Pattern
    reason: str
    negatable: bool = True  # a negation in the three words before the match cancels it


def _r(category: str, level: str, reason: str, pattern: str, negatable: bool = True) -> Rule:
    return Rule(category, level, re.compile(pattern, re.I), reason, negatable)


_PRONOUN = r"(him|her|them|someone|somebody|people|everyone|everybody|my (boss|husband|wife|partner|dad|father|mom|mother|brother|sister|neighbou?r|ex|son|daughter|kids?|baby|coworker|teacher))"
RULES: tuple[Rule, ...] = (
    # suicide
    _r("suicide", "imminent", "states intent or a plan to end their life",
       r"\b(going to|gonna|will|plan(ning)? to|ready to|decided to|about to) (kill myself|end (it all|my life|it tonight)|take my (own )?life)"),
    _r("suicide", "imminent", "has the means ready or is saying goodbye",
       # "good[- ]?bye?": recognisers also write "good by", "good-bye"
       r"\b((wrote|written|writing) (a|my) (suicide|good[- ]?bye?) (note|letter)|(pills|rope|gun) (is|are) ready|this is (my|the) (last|final) (good[- ]?bye?|night|message)|"
       r"said good[- ]?bye? to everyone|won'?t be (here|around|alive) (tomorrow|by morning|much longer)|tonight'?s the night)", negatable=False),
    _r("suicide", "elevated", "speaks of wanting to die or kill themselves",
       r"\b(kill(ing)? myself|suicid(e|al)|want(ed)? to die|wanna die|wish(ed)? i (was|were) dead|"
       r"end(ing)? my (own )?life|take my (own )?life|better off dead|tried to (kill myself|end it))"),
    _r("suicide", "elevated", "expresses not wanting to live",
       r"\b(don'?t|do not) want to (live|be alive|be here|exist|wake up)( anymore| any more)?\b|"
       r"\bno (reason|point) (to|in) (live|living|going on)|\b(everyone|they|my family|the world)('?d| would) be better off without me|"
       r"\bcan'?t go on( anymore| any more)?\s*($|[.!,])|\bwant to (sleep|go to sleep) and never wake up|"
       r"\bwant(ing)? to disappear (forever|for good)|\bgiving away (all )?my (things|stuff|belongings)|"
       r"\b(don'?t|do not|can'?t|cannot) see (the|any) (point|reason) (of|in|to) (going on|living|being alive|carrying on|keep going|life)|"
       r"\bno (reason|point) (to|in) (keep going|carry(ing)? on|be(ing)? (here|alive))|"
       r"\b(thinking (about|of)|thought about) (ending it|ending it all|not being here)|\bend it all\b|"
       r"\b(i'?d|i would) rather (not be here|be dead|not exist)|\bjust want (it all|it|everything|this|all of this) to (be over|end)\b", negatable=False),
    _r("suicide", "elevated", "speaks of someone else wanting to die",
       r"\b(kill|killing) (himself|herself|themselves)|\b(he|she|they) (wants?|tried) to (die|end (it|his life|her life|their life))"),
    _r("suicide", "concern", "sounds hopeless",
       r"\b(what('?s| is) the point( of anything| of living| anymore)?|nothing matters( anymore)?|(i'?m|i am|i feel like) (just |such |nothing but |only )?a burden|no way out|"
       r"tired of (everything|living|it all)|want it all to (stop|end)|can'?t do this anymore|no one would (miss|notice) me)", negatable=False),
    # self-harm
    _r("self_harm", "imminent", "is harming themselves now",
       r"\b(i'?m|i am) (cutting|hurting|burning) myself (right )?now|\bcut (myself )?too deep|\bbleeding (and|because) i cut"),
    _r("self_harm", "elevated", "speaks of harming themselves",
       r"\b(cutting myself|self[- ]harm(ing)?|(cut|burn(ed|t)?|hurt|harm(ed)?) myself (on purpose|again|deliberately)|"
       r"(want|wanting|urge|need|going|feel like|thinking about|started|keep) (to )?(cut|cutting|hurt|hurting|harm|harming|burn|burning|punish|punishing) myself|"
       r"relapsed? (on|into) (cutting|self[- ]harm))"),
    # harm to others
    _r("harm_to_others", "imminent", "states intent to hurt someone",
       rf"\b(going to|gonna|plan(ning)? to|want to|will|ready to) (kill|hurt|stab|shoot|strangle|beat up) {_PRONOUN}\b|"
       r"\b(bring(ing)?|take|taking) a (gun|knife|weapon) to (school|work|the office|class)|\bshoot up (the|my) (school|office|work)"),
    _r("harm_to_others", "elevated", "has thoughts of hurting someone",
       rf"\b(thoughts? (of|about)|fantasi[sz](e|ing) about|can'?t stop thinking about) (kill|hurt|stabb|shoot)(ing)? {_PRONOUN}\b|"
       rf"\bwant {_PRONOUN} (dead|to suffer)|\bmake (him|her|them) pay\b"),
    # abuse
    _r("abuse", "imminent", "is in danger from another person now",
       r"\b(he|she|they)('?s| is| are) (outside|at the door|coming back|trying to get in|breaking in)|"
       r"\b(threaten(ed|s|ing)?|said|says|swore) (he|she|they)('?d| would| will| is going to| was going to) (kill|hurt) me|"
       r"\bthreaten(ed|s|ing)? to (kill|hurt) me|\bsomeone is (hurting|attacking|following) me", negatable=False),
    _r("abuse", "elevated", "describes abuse",
       r"\b(he|she|they|my (husband|wife|partner|boyfriend|girlfriend|dad|father|mom|mother|stepdad|stepfather|stepmom|uncle|brother|ex|boss|coach))"
       r" (hits|hit|beats|beat|punched|punches|chokes|choked|kicked|kicks|slapped|slaps|shoves|shoved|raped|molested|hurts|hurt) me|"
       r"\b(sexually |physically |emotionally )?abus(ed|ing|es) me|\bdomestic (violence|abuse)|\bafraid to go home|"
       r"\b(won'?t|doesn'?t) let me (leave|see my|go out|have money)|\blocks? me (in|up)|\b(touch(es|ed)|touching) me (when|where|and) i (don'?t|didn'?t)|"
       r"\bforced me to|\bi'?m being (abused|hurt|hit|beaten)", negatable=False),
    # medical emergency
    _r("medical_emergency", "imminent", "describes a medical emergency",
       r"\b(chest pain|(can'?t|cannot|can not) breathe|trouble breathing|struggling to breathe|not breathing|"
       r"overdos(e|ed|ing)|took (too many|a (bunch|handful) of|all (of )?(my|the)) (pills|tablets|meds)|"
       r"(having|had) a (heart attack|stroke|seizure)|face is drooping|numb on one side|bleeding (badly|a lot|heavily|everywhere)|"
       r"won'?t stop bleeding|passed out|(is|went|was) unconscious|swallowed (bleach|poison|antifreeze)|throat is (closing|swelling)|"
       r"call (an ambulance|911|999|112)|need an ambulance)", negatable=False),
)


def match(text: str) -> Concern:
    """The gravest pattern in one turn; several signs of hopelessness in one turn make it elevated."""
    best: tuple[int, Rule, str] | None = None
    concerns = 0
    for rule in RULES:
        for m in rule.pattern.finditer(text):
            if rule.negatable and _negated(text, m.start()):
                continue
            concerns += rule.level == "concern"
            if best is None or rank(rule.level) > best[0]:
                best = (rank(rule.level), rule, m.group(0))
    if best is None:
        return Concern()
    _, rule, matched = best
    level = "elevated" if rule.level == "concern" and concerns > 1 else rule.level
    return Concern(rule.category, level, rule.reason, matched, source="rules")


def _negated(text: str, start: int) -> bool:
    before = text[:start].split()[-3:]
    return bool(_NEG.search(" ".join(before)))
