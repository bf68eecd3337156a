"""An answer heard in the light of the agent's question.

"Yeah. Most nights." is nothing alone and a crisis after "Are you having thoughts of ending your life?";
"No." after "Are you safe right now?" is one too (the answer that carries the risk flips). Counsellors are
trained to ask about suicide directly and to take an answer that does not rule it out ("I don't know",
"sometimes", "would it matter?", "I'm not telling you that") as a yes; so is this member. It reads the
agent's last words (as heard: a reply cut by a barge-in holds only what was played) and the answer's first
and last words, and only ever raises what the other members found.

Written on the tuning part (`answers_a`, `_d`, `_e`, and `_h` since session 6; benchmarks/safety_sets/README.md); the held-out and final
parts (`answers_b`, `_c`, `_f`, `_g`) were never read line by line.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .risk import Concern


# What the agent asks where the screen is unsure (a concern: hopelessness, feeling trapped, a scorer in its grey
# zone): fixed, reviewed words, warm and direct, as counsellors are trained to ask. Each is a question `question()`
# recognises, so the answer is heard in its light.
DIRECT_QUESTIONS = {
    "suicide": "Sometimes when things feel this heavy, people think about ending their life. Is that something "
               "you've been thinking about?",
    "self_harm": "Can I ask you directly: have you been hurting yourself, or thinking about it?",
    "harm_to_others": "When feelings get this strong, some people have thoughts of hurting someone. Is that "
                      "something that's been on your mind?",
    "abuse": "Can I ask you something directly: is someone hurting you, or making you afraid?",
}


@dataclass(frozen=True)
class Question:
    topic: str  # what was asked about, in words for the reason
    category: str | None  # None: the conversation's own (e.g. "are you safe?")
    risky: str  # "yes" or "no": the answer that carries the risk
    level: str  # what a risky answer reaches
    needs_context: bool = False  # generic words ("have you picked a day?"): a risk question only in a call already of concern
    content_is_yes: bool = False  # an answer that names a thing ("my birthday", "my uncle") says yes


def _q(pattern: str) -> re.Pattern:
    return re.compile(pattern, re.I)


MEANS = r"(pills|tablets|meds|medication|gun|rifle|shotgun|firearm|rope|cord|belt|knife|knives|blade|razor|bridge|car|poison|bleach|stash)"
# Thoughts of suicide, as an agent may put them ("ending your life", "not wanting to be alive", "wish you could die").
IDEATION = (r"suicid\w*|kill(ing)? yourself|end(ing)? (it all|things)\b(?! with)|(take|taking) (your|their|one'?s) (own )?life|"
            r"(ending|end) (your|their|one'?s) (own )?life|(your )?life (to )?(stop|end)|life (is )?not worth living|"
            r"not (want(ing)? to )?(be |being )?(alive|here|around)|not (to )?wake up|not waking up|(want(ing)?|wish you could) (to )?die|"
            r"wanting to be dead|wish(ing)? you (were|was) dead|better off dead|(about|of) (death|dying)|think(ing)? about dying|unalive|"
            r"ending it\b(?! with)|end it\b(?! with)|(do you )?mean (your|ending your) life|stop (living|existing)|give up on life|disappear for good|can'?t go on|"
            r"not (going|carrying) on|tired of (living|life|being alive)|"
            r"(these|those|the|your) (dark |bad )?thoughts")
# The gravest first: a question about a plan usually follows one about thoughts, and both may be in one reply.
QUESTIONS: list[tuple[re.Pattern, Question]] = [
    (_q(r"\b(a plan (to|for) (end|kill|hurt|die|do it|take)|plans? to act|how you(')?(d| would| might| will| were going to) (do it|end|kill|hurt|go about it)|"
        r"thought about how to (end|kill|do it)|a way to (end|kill|hurt)|(access|get hold|anything) .{0,30}use to (end your life|kill yourself|hurt yourself)|"
        r"(gun|firearm|weapon|rifle)s? in the (house|home|car)|anything (nearby|near you|close by) (you could|to) use|"
        r"\b(the|those|any|some|your|that) " + MEANS + r"\b.{0,40}(with you|near|nearby|to hand|in the house|at home|close|still)|"
        r"(already|just) (taken|taking|swallowed|started)|have you (taken|swallowed|done something|done anything) (tonight|today|now|already)|"
        r"getting something ready|(is|are) you (doing it|about to)|planning to (end|kill|take))"),
     Question("a plan, the means or a time", None, "yes", "imminent", content_is_yes=True)),
    (_q(r"\b(a plan|picked a (day|time|date|place)|decided (how|when|where)|when (would|will) you|when are you (going|planning)|"
        r"thought about how|how (would|will) you|is (it|that|the \w+) still (there|in|at|with)|where (is|are) (it|they|the " + MEANS + r")|"
        r"how often|right now,? tonight|(did|have) you take?n? anything|anything at home (you could|to) use|what did you take|"
        r"how (many|much) (have you|did you|you)( \w+)?)"),
     Question("a plan, the means or a time", None, "yes", "imminent", needs_context=True, content_is_yes=True)),
    # asked so that "no" is the dangerous answer: the person is not breathing, not awake
    (_q(r"\b(can you breathe|(is|are) (he|she|they) (breathing|conscious|awake|responding)|can you stay awake|can (he|she|they) hear you)"),
     Question("a medical emergency", "medical_emergency", "no", "imminent")),
    (_q(r"\b((need|want|call|get|send) (you )?(an|the) ambulance|(took|take|taken|swallowed) (more|too many|extra|the whole|a lot)|more than (the|it) (box|packet|label|dose)|overdos\w*|"
        r"trouble breathing|(hard|struggling) to breathe|chest (pain|hurt|tight)|still bleeding|bleeding (a lot|badly|heavily)|"
        r"pass(ed|ing) out|feel(ing)? faint|drowsy|(throat|lips|tongue) (swell|closing|tight))"),
     Question("a medical emergency", "medical_emergency", "yes", "imminent")),
    (_q(r"\b(" + IDEATION + r")"), Question("thoughts of suicide", "suicide", "yes", "elevated")),
    (_q(r"\b((hurt|harm|cut|burn|hit|punish)(ing)? yourself|self[- ]?harm\w*|scratch(ing)? yourself|the cutting|cutting (still|again)|"
        r"still cutting|hurt yourself)\b"),
     Question("hurting themselves", "self_harm", "yes", "elevated")),
    (_q(r"\b((thoughts of |think(ing)? (of|about) )?(hurt|harm|kill|hit|attack|get back at)(ting|ing)? (him|her|them|someone|anyone|somebody|the baby|your baby|the kids?|your \w+)|"
        r"do something to (him|her|them)|(are|is) (he|she|they|anyone|someone) (in danger|safe) from you)\b"),
     Question("hurting someone", "harm_to_others", "yes", "elevated", content_is_yes=True)),
    (_q(r"\b((is|does|did|has) (he|she|they|someone|anyone|somebody|your \w+)( \w+){0,3} (ever |been )?(hurt|hit|threaten|push|chok|strangl|grab|force|kick|touch|control|made you|stop you|take)\w*( you)?|"
        r"(hurting|hitting|threatening|scaring|forcing) you|made you do|against your will|afraid of (him|her|them)|scared of (him|her|them)|"
        r"(are|is) you in danger|(is|are) (he|she|they) (there|home|in the house|with you|nearby|outside|in the room)( now| right now)?)"),
     Question("being hurt by someone", "abuse", "yes", "elevated", content_is_yes=True)),
    (_q(r"\b((are|do) you (feel )?safe|feel(ing)? safe|safe (to go|going|at home|tonight|right now|where you are|from|for you)|"
        r"keep yourself safe|stay safe|promise (me )?you('ll| will) (be|stay) safe|allowed to (leave|go out|see))"),
     Question("being safe", None, "no", "elevated")),
]
# the agent's own words name the risk, so a generic follow-up is about it
_RISK_WORDS = _q(r"\b(" + IDEATION + r"|" + MEANS + r"|dizzy|faint|drowsy|overdos\w*)")

_FILLER = re.compile(r"^(\W+|(um+|uh+|er+|erm|hm+|oh|well|so|like|okay|ok|honestly|lowkey|low key|i mean|look|listen|"
                     r"truthfully|to be honest|if i'?m honest|if i'?m being honest|sí|si|ye|ya|"
                     r"yes,? i understand( the question| you)?|i understand( the question| you)?)\b|mm+(?=\W+\w))+\s*", re.I)
_NO = _q(r"^(no+|nope|nah|na|not (at all|really|like that|me|that|ever|once|since)|never|god no|hell no|of course not|"
         r"absolutely not|definitely not|no way|i'?d never|i would never|i'?m not|i don'?t|i didn'?t|i haven'?t|i wouldn'?t|"
         r"not a chance|nothing like that|no no|it'?s not|he'?s not|she'?s not|he doesn'?t|she doesn'?t|he hasn'?t|she hasn'?t|"
         r"nobody|no one|nothing|probably not|not when|shouldn'?t think so|(i )?doubt it|not with (myself|me)|hardly)\b")
# "I'm fine": safe, whichever way the question was put
_FINE = _q(r"^((i'?m|i am|we'?re) (fine|okay|ok|good|alright|all right|safe)|all good)\b")
_YES = _q(r"^(yes|yeah|yea|yep|yup|ya|aye|mhm+|mm+|mm+ ?hm+|uh[- ]?huh|i (have|am|do|did|guess|suppose|think so|think about it)|"
          r"sometimes|often|a lot|lots|(every|most|some|many|a few) (day|night|morning|evening|time|week)s?|every (couple|few)|many|"
          r"all the time|constantly|kind of|kinda|sort of|sorta|a (bit|little)|a little bit|probably|lately|more and more|"
          r"i'?ve thought about it|it'?s crossed my mind|crossed my mind|on and off|now and then|here and there|"
          r"more than i'?d like|i'?ve (made up my mind|decided)|more than ever|(most|part|some) of (me|the time)|every single|"
          r"(they|it) never (left|went away|stopped)|(they'?re|it'?s|they are|it is) (always )?(kind of )?(around|there|back)|crossed it|only when|"
          r"not gonna lie|i won'?t lie|that'?s right|correct|exactly|right|pretty much|basically|"
          r"(you )?could say that|there'?s (days|nights|times|been times)|suppose (i (do|have|am|did)|so)|bit(?=[.!,]|\s*$)|"
          r"that'?s why i'?m? ?(rang|called|phoned|calling|ringing|texted|here)|i'?d be lying if i said (no|never|not)|"
          r"(worried|scared|afraid|tempted),? (aye|yes|yeah)|when (he|she|they)('?s| has| have|'?ve| gets?| had| is| are| been)|"
          r"wouldn'?t be the first time)\b")
_YES_WORD = _q(r"\b(yes|yeah|yep|yup)\b")
_HEDGE = _q(r"^(i don'?t know|dunno|idk|i'?m not sure|not sure|maybe|might be|could be|perhaps|possibly|define|"
            r"what if i (am|was|did|said)|(why,? )?(would|does) it matter|what does it matter|why (do you ask|does it matter)|"
            r"depends|i'?d rather not|i don'?t want to (say|talk|answer|get)|can'?t say|doesn'?t every(one|body)|who doesn'?t|"
            r"(i )?(wouldn'?t|can'?t|couldn'?t) rule it out|hard to say|might'?ve|might have|let'?s just say|accidents happen|"
            r"i'?ve thought about (a lot of|lots of|many|all sorts of) things|nothing (the|a|my) (doctor|nurse|gp)|"
            r"not (right )?now|not (tonight|today)|i wouldn'?t say no|i'?m trying not to|(it )?doesn'?t matter|what do you think|not yet|not exactly|who knows|what'?s the point|(it'?s |is )?complicated|i can try|i'?ll try)\b")
_HEDGE_ANYWHERE = _q(r"\b(i don'?t know|i dunno|dunno|idk|maybe|not sure)\b")
# a soft no that goes on to say some of it ("not really... sometimes when I'm driving", "not really hurt. just scratched")
_SOFT_NO = _q(r"^(not really|nah|not exactly|no,? not really)\b")
_BUT_SOME = _q(r"\b(sometimes|a bit|a little|kind of|sort of|scratch\w*|once or twice)\b")
# a yes that does not last ("yes. but I won't be when he gets home")
_BUT_NOT = _q(r"\bbut (i )?(won'?t|will not|not|can'?t|might not)\b")
# Not answering a direct question is an answer too: a refusal, a question back about what would happen
_REFUSAL = _q(r"\b(i'?m not telling|not telling you|not going to tell|won'?t tell|let'?s leave it|leave it there|"
              r"(rather|want to) not (say|talk|answer)|don'?t want to (talk|say|answer|get (him|her|them) in trouble)|"
              r"get (him|her|them) in trouble|if i said yes|what would you do if|don'?t call|change the subject|"
              r"not supposed to (tell|say)|why (do )?you ask|next question|can'?t talk (now|right now)|don'?t worry about me|"
              r"can(no|')t (say no|promise)|cannot promise|talk about something else|not answering|can'?t talk about (that|it)|stop asking|"
              r"ask me (again )?tomorrow|couldn'?t promise|what'?ve you heard|what have you heard|who told you)\b")
# Over: said to be in the past, with nothing said to be now
_PAST = _q(r"\b(used to|years ago|(a )?long time ago|not anymore|not any more|in the past|back then|back in|before(?=,)|"
           r"last (week|month|year|winter|summer|spring|autumn|fall)|the last time i|not since|for (a while|some months|some weeks)|"
           r"when i was (younger|a teen\w*|a kid|at)|(at|when i was) (fifteen|sixteen|seventeen|\d\d)|(19|20)\d\d|"
           r"i'?m (out|better|doing better) now|doing better|not for (many|years|a long)|in therapy|(doctor|therapy|therapist) helped|"
           r"got help|i'?m past (it|that)|behind me|at the time|long dead)\b|^then,? yes\b")
_PRESENT = _q(r"\b(still|again|lately|these days|every (day|night)|tonight|at the moment|now also|more and more)\b")
_NAMES_SOMEONE = _q(r"^(my |his |her |the )?(dad|father|mum|mom|mother|stepdad|stepfather|stepmum|stepmom|uncle|aunt|brother|sister|"
                    r"husband|wife|partner|boyfriend|girlfriend|ex|son|daughter|boss|neighbou?r|cousin|grandad|grandpa|coach|teacher|him|her|he|she|"
                    r"grandson|granddaughter|nephew|niece|son-in-law|daughter-in-law|carer|lodger|foreman|landlord)\b")
_ADMITS = _q(r"\b(wasn'?t an accident|not an accident|(?<!not )on purpose)\b")
# means named in an answer, and said to be out of reach or harmless ("Air rifle for the rats. Couldn't hurt a rabbit.")
_HARMLESS = _q(r"\b(couldn'?t hurt|wouldn'?t hurt a|locked (up|away)|(took|taken|handed) (them|it|the guns?) (off|away|in)|"
               r"not loaded)\b")
_ASKS = _q(r"^(are|do|does|did|have|has|is|can|could|would|will)\b")
_ANAPHOR = _q(r"\b(that|this|those|it|so|way|like that)\b")


def question(agent_words: str | None, *, context: str | None = None) -> Question | None:
    """The gravest risk question in what the agent just said, if it asked one. A question that points back
    ("Is that where you are?") is read with the sentence before it. Generic words ("have you picked a day?")
    are a risk question only in a call already of concern (`context`: its category) or where the agent's own
    words name the risk ("You said you'd thought about ending your life. Have you decided when?")."""
    if not agent_words:
        return None
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", agent_words.strip()) if s.strip()]
    asked = []
    for i, s in enumerate(sentences):
        if s.endswith("?") or (i == len(sentences) - 1 and _ASKS.match(s)):  # a transcript without its "?"
            if i and _ANAPHOR.search(s) and not sentences[i - 1].endswith("?"):
                asked.append(sentences[i - 1])
            asked.append(s)
    text = " ".join(asked)
    context = context or ("suicide" if _RISK_WORDS.search(agent_words) else None)
    return next((q for pattern, q in QUESTIONS if pattern.search(text) and (context or not q.needs_context)), None)


def answer(text: str) -> str | None:
    """yes | no | hedge | fine | someone (names a person), from the answer's first words, or its last short
    sentence ("He knows where I live. So no."); None when it does not answer."""
    said = _FILLER.sub("", text.strip().lower())
    sentences = _sentences(said)
    refused = [i for i, x in enumerate(sentences) if _REFUSAL.search(x)]
    denied = _denials(sentences)
    if refused and not (denied and denied[-1] > refused[-1]):  # the last word counts: "Why ask? I didn't say that."
        return "hedge"
    if _SOFT_NO.match(said) and _BUT_SOME.search(said):
        return "hedge"
    for kind, pattern in (("hedge", _HEDGE), ("fine", _FINE), ("no", _NO), ("yes", _YES)):
        if pattern.match(said):
            if kind == "no" and _HEDGE_ANYWHERE.search(said) and len(said.split()) <= 12:
                return "hedge"
            return "hedge" if kind in ("yes", "fine") and _BUT_NOT.search(said) else kind
    if _HEDGE_ANYWHERE.search(said) and len(said.split()) <= 12:
        return "hedge"
    for kind, pattern in (("no", _NO), ("yes", _YES)):
        if len(sentences[-1].split()) <= 3 and pattern.match(sentences[-1]):
            return kind
    if (any(_YES_WORD.search(x) for x in sentences[:2]) or _ADMITS.search(said)) and not _NO.match(said):
        return "yes"
    if _NAMES_SOMEONE.match(said):
        return "someone"
    return None


def _sentences(text: str) -> list[str]:
    return [_FILLER.sub("", x) for x in re.split(r"(?<=[.!?])\s+", text.strip().lower()) if x.strip()] or [""]


def _denials(sentences: list[str]) -> list[int]:
    """The sentences that start with a no (a refusal that starts with one, "I'm not telling you", is not one)."""
    return [i for i, x in enumerate(sentences) if _NO.match(x) and not _REFUSAL.search(x)]


def over(text: str) -> bool:
    """The answer puts it in the past ("years ago", "not since I got help") and says nothing of now."""
    said = text.lower()
    return bool(_PAST.search(said)) and not _PRESENT.search(said)


def hear(agent_words: str | None, text: str, *, context: str | None = None, fallback: str | None = None) -> Concern:
    """The concern an answer carries given the question before it. `context`: the conversation's category so
    far; `fallback`: the category to name when neither the question nor the call has one."""
    q = question(agent_words, context=context)
    if q is None:
        return Concern()
    said = answer(text)
    cat = q.category or context or fallback or "suicide"
    if q.risky == "yes" and said in ("yes", "hedge", "someone", None) and over(text):
        return Concern(cat, "concern", f"said it was in the past when asked about {q.topic}", text[:60], source="answer")
    if said == "someone" or (said is None and q.needs_context):  # "My birthday." to "Have you picked a day?"
        said = "yes" if q.content_is_yes else None
    elif said is None and q.content_is_yes and q.level == "imminent" and not _denials(_sentences(text)) and not _HARMLESS.search(text):
        said = "yes"  # "The river near the station." to "Have you thought about how?"
    risky = said == q.risky or said == "hedge"
    if not risky:
        return Concern()
    level = q.level if said != "hedge" or q.level != "imminent" else "elevated"
    how = "did not rule it out" if said == "hedge" else f"answered {said}"
    return Concern(cat, level, f"{how} when asked about {q.topic}", text[:60], source="answer")
