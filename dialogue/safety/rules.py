"""The lexical member of the screen: patterns for what people say in crisis, with negation ("I would
never hurt myself") and idioms ("this commute is killing me") left alone. Deterministic, < 1 ms, and
auditable by a deployment; the scorer (`scorer.py`) hears what the patterns were never written for.

The rules are grouped by category (suicide, self-harm, harm to others, abuse, medical emergency), gravest
level first within each. They were written on the development set's tuning part only (`tune_*`); the
held-out parts were never read line by line.

A pattern that needs a word anywhere in the turn says so in a lookahead anchored at the turn's start,
`^(?=.*\bword\b)`: unanchored, it re-read the turn from every position, and a turn of a few thousand
characters took seconds, holding every other session's audio.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .risk import LEVELS, Concern, rank

_NEG = re.compile(r"\b(not|never|no|don'?t|didn'?t|wouldn'?t|won'?t|isn'?t|ain'?t|nor)\b|n't\b", re.I)
_NOT = re.compile(r"\b(not|never)\b|n't\b", re.I)  # a verb denied ("I'm not retiring"), not a thing absent ("no reception")


def _any(*patterns: re.Pattern) -> re.Pattern:
    """One pattern matching wherever any of these does."""
    return re.compile("|".join(p.pattern for p in patterns), re.I)


# What makes an alarming phrase innocent when the same turn says it: it is over, or it is about helping
# someone else, or it happens in a story (a match is then a concern to keep an ear on, not a crisis); a
# goodbye or a giveaway for a move, a new job or an exam.
PAST_OR_HELPING = re.compile(
    r"\b((\w+ )?years ago|years back|used to|back (in|then|when)|when i was (a teen(ager)?|younger|a kid|in)|in year \w+|"
    r"(in|at|during) (college|uni|university|high school|my teens|my twenties)|(took|had|got|after) (treatment|therapy|counselling|help)|"
    r"i haven'?t (for|since)|doing (well|great|fine|good) (now|these days)|glad i stuck around|i'?m (happy|proud|thirty|fine) now|"
    r"(in )?a good place now|warning signs|prevention|support (her|him|them)|one of my (kids|students|clients|patients)|volunteer|peer support|"
    r"how (do|can|should|would) i (like |best |even )?(help|support|talk|ask|bring)|what (do|should|can|would) (i|we|mods|staff|parents) (say|do)\b[^.?!]{0,40}\bif\b|(awareness|prevention|first aid|safetalk|asist) (course|training|session|workshop)|spot the signs|ask (a|my|the) (patient|client|student)|"
    r"(talk|speak) to (my|a|her|him) \w+ about|and i said no|never once|died (of|from)|turned (things|it|my life|me) (a)?round|"
    r"glad( every( single)? day)? (it didn'?t work|i'?m (still )?here|i survived)|got (her|him|them) (help|support|seen)|"
    r"peer mentor|(school|uni|college) (project|assignment)|for (my|his|her|their|a) (homework|essay|project|assignment)|"
    r"got me (into|onto|through)|(police|coroner|inquest|verdict|they) (say|said|ruled|recorded|think)( that)? (it'?s|it was|it) (a )?suicide|ruled (a |it )?(a )?suicide|(came|come|got) out the other side|(years|months) sober|sober (now|today|for)|paid (it|the last of it|them) off)\b", re.I)
FICTION = re.compile(
    r"\b(novel|story|stories|book|film|movie|episode|series|serial|telly|show|game|character|chapter|script|play|poem|scene|campaign|"
    r"soap|storyline|plot|spoilers?|sitcom|documentary|podcast|audiobook|whodunn?it|detective|true crime|song|lyrics?)\b",
    re.I)
PAST_HELPING_OR_FICTION = _any(PAST_OR_HELPING, FICTION)
LEAVING = re.compile(
    r"\b(last day|retir\w*|moving|move (to|into)|new (job|phone|number|flat|house)|cake|party|airport|flight|flying|holiday|"
    r"trip|contract|(?<!failed )(?<!failed the )(?<!failed my )(?<!failing )exams?|chemo|degrees|weather|climate|visa|leavers?|yearbook|signal|reception|coach trip|semester|term|graduat\w*|emigrat\w*|abroad|(mat(ernity)?|paternity|parental|annual|study) leave|on this number|hotel|camping|civilian|discharged|notice|resign\w*|surgery|operation|rehab|detox|credit)\b", re.I)

# a story on a screen or a page, named so (narrower than FICTION: "show me", "a game" and "play" are left out)
STORY = re.compile(r"\b(novel|book|film|movie|episode|on the (telly|tv)|soap|storyline|plot|spoilers?|sitcom|chapter|character|crime (show|drama)|on the news|in the song|song says|lyrics?)\b", re.I)
# hyperbole on a small matter: embarrassment, a sore body after the gym
HYPERBOLE = re.compile(r"\b(embarrass\w*|mortif\w*|cringe\w*|so awkward|(floor|ground|earth) (to )?(open|swallow)|leg day|legs day|was legs|gym|workout|squats|spin class|"
                       r"hungover|hangover)\b", re.I)
PAST_HELPING_OR_STORY = _any(PAST_OR_HELPING, STORY)
PAST_HELPING_OR_HYPERBOLE = _any(PAST_OR_HELPING, HYPERBOLE)
# a baby kicking from the inside ("the baby's been kicking me all night, 30 weeks now"), bruises from blood thinners
PAST_HELPING_STORY_OR_WOMB = _any(PAST_HELPING_OR_STORY, re.compile(r"\b(baby|bump|little one)('?s| is| has)?( been)? (kicking|punching|hitting|wriggling)\b|\bblood thinners?\b|\bwarfarin\b|\bi bruise (easily|like)\b", re.I))
# it is over and they came through it (narrower than PAST_OR_HELPING: "I'm fine now" is also what sudden calm says)
RECOVERED = re.compile(
    r"\b((\w+ )?years ago|years back|(a while|a bit|some time|a few years|ages) (back|ago)|used to|back (then|when)|when i was (a teen(ager)?|younger|a kid)|turned (things|it|my life|me) (a)?round|"
    r"got me (into|onto|through)|(came|come|got) out the other side|(years|months) sober|sober (now|today|for)|paid (it|the last of it|them) off|"
    r"glad i stuck around|(in )?a good place now|i'?d got to the point|back in ('|19|20)\d\d|it passed|(took|had|got|after) (treatment|therapy|counselling|help))\b", re.I)
LEAVING_OR_PAST = _any(LEAVING, RECOVERED)
RECOVERED_OR_FICTION = _any(RECOVERED, FICTION)  # narrower than PAST_HELPING_OR_FICTION: "go back in there" is not the past
# medicine taken as prescribed ("the tablets are on the table, I take them with breakfast")
ROUTINE = re.compile(r"\b(with (my )?(breakfast|dinner|tea|food|meals?)|every (morning|night|day)|(pill|dosette|weekly) (box|organi[sz]er)|as prescribed|for (my|his|her) (blood pressure|heart|cholesterol))\b", re.I)
# a thrill on purpose: the edge of a bungee platform, a high dive
THRILL = re.compile(r"\b(bungee|elastic round|abseil\w*|zip ?wire|high dive|diving board|harness|skydiv\w*|parachut\w*)\b", re.I)
STORY_OR_ROUTINE = _any(STORY, ROUTINE, THRILL)
# a blade or a gun out for a job: food, parcels, wood, a day's shooting (not where it is: a kitchen is also where
# threats happen; nor cleaning a gun, which a tuning line used as the cover)
TASK = re.compile(r"\b(carv\w*|slic\w*|chop\w*|peel\w*|cut(ting)?|fillet\w*|gut(ting)?|open(ing)?|whittl\w*)\b( \w+){0,3}? "
                  r"(cake|bread|loaf|roast|turkey|chicken|joint|meat|steak|ham|veg\w*|onions?|carrots?|potato\w*|cheese|pizza|pie|"
                  r"fish|apples?|melon|pumpkin|box(es)?|parcels?|branch(es)?|wood|sticks?|deer)\b|"
                  r"\bclay pigeons?\b|\b(the|a) (shooting )?range\b|"
                  r"\b(go|going|went) (hunting|shooting|fishing|camping)\b", re.I)
STORY_OR_TASK = _any(STORY, TASK)
STORY_ROUTINE_OR_TASK = _any(STORY_OR_ROUTINE, TASK)
STORY_ROUTINE_OR_RECOVERED = _any(STORY, ROUTINE, RECOVERED)
# lines being learnt or rehearsed aloud
STAGE = re.compile(r"\b(rehears\w*|audition\w*|monologue|my lines|the line|in character|try it again|the role)\b|"
                   r"\b(i|she|he|they) (say|says|go|goes):\s*['\"\u2018\u201c]", re.I)
LEAVING_OR_STAGE = _any(LEAVING, STAGE)
# performed, not lived: a match these defuse is dropped, not kept as a concern
PERFORMED = _any(STORY, STAGE)

OTHERS_EXPLAINED = _any(PAST_HELPING_OR_FICTION, LEAVING)  # someone else's goodbye

# Someone saying outright that they are safe ("I'm not suicidal, I just need to vent"). The patterns handle
# negation themselves; this is for the scorer, which reads a denial much as it reads the thing denied.
DENIAL = re.compile(
    r"\b(i'?m|i am|im) not (suicidal|in (any )?danger|(going to|gonna) (hurt|kill|do anything)|thinking (of|about) (ending|hurting|killing))|"
    r"\bi('?d| would) never (do anything|hurt|kill)|\b(i )?(don'?t|do not|dont) (want|wanna)( to)? (die|hurt (myself|him|her|anyone)|kill (myself|him|her))\b|"
    r"\bnot suicidal\b|\bnever (thought|think) about (killing|ending|hurting|topping)|\bnot (thinking|thought) (of|about) (hurting|killing|harming) (anyone|anybody|him|her|them|myself)|"
    r"\b(i'?m|i am|im) not in that (place|headspace|space)\b", re.I)


@dataclass(frozen=True)
class Rule:
    category: str
    level: str
    pattern: re.Pattern
    reason: str
    negatable: bool = True  # a negation in the three words before the match cancels it
    defused_by: re.Pattern | None = None  # context in the same turn that makes a match a concern only


def _r(category: str, level: str, reason: str, pattern: str, negatable: bool = True,
       defused_by: re.Pattern | None = None) -> Rule:
    return Rule(category, level, re.compile(pattern, re.I), reason, negatable, defused_by)


_PRONOUN = r"(him|her|them|someone|somebody|people|everyone|everybody|my (boss|husband|wife|partner|dad|father|mom|mother|brother|sister|neighbou?r|ex|son|daughter|kids?|baby|coworker|teacher))"
_MEANS = r"(pills|tablets|meds|medication|painkillers|paracetamol|insulin|rope|gun|pistol|rifle|shotgun|revolver|blade|razor)"
_DAY = r"(tonight|tomorrow|today|this (week(end)?|sunday|monday|tuesday|wednesday|thursday|friday|saturday)|(on )?(sunday|monday|tuesday|wednesday|thursday|friday|saturday))"
_ABUSER = r"(he|she|they|my (husband|wife|partner|boyfriend|girlfriend|bf|gf|dad|father|mum|mom|mother|stepdad|stepfather|stepmom|uncle|brother|son|grandson|ex|boss|coach|in-laws))"

# The reasons several patterns give (one rule per pattern: their negation and defusing differ).
HARMING_NOW = "is harming themselves now"
THOUGHTS_OF_HARM = "has thoughts of hurting someone"
MEDICAL = "describes a medical emergency"

SUICIDE: tuple[Rule, ...] = (
    # imminent: intent with a time, the means at hand, a plan
    _r("suicide", "imminent", "states intent or a plan to end their life",
       r"\b(going to|gonna|will|plan(ning)? to|ready to|decided to|about to) (kill myself|end (it all|my life|it tonight)|take my (own )?life)"),
    _r("suicide", "imminent", "has the means ready or is saying goodbye",
       # "good[- ]?bye?": recognisers also write "good by", "good-bye"
       r"\b((wrote|written|writing) (a|my) (suicide|good[- ]?bye?) (note|letter)|(pills|rope|gun) (is|are) ready|this is (my|the) (last|final) (good[- ]?bye?|night|message)|"
       r"said good[- ]?bye? to everyone|won'?t be (here|around|alive) (tomorrow|by morning|much longer)|tonight'?s the night)", negatable=False, defused_by=LEAVING),
    _r("suicide", "imminent", "wants to end their life soon",
       r"\b(kill myself|end (it|it all|my life)|take my (own )?life)\b[^.?!]{0,20}\b(tonight|today|tomorrow|this weekend)\b"),
    _r("suicide", "imminent", "has the means at hand",
       r"\b(sav(ing|ed)|stockpil\w*|hoard\w*|collect(ing|ed)|count(ing|ed)( out)?|sort(ed|ing) out|lined up) (up )?(all )?(my |her |his |the |of my )?"
       r"(old |sleeping |pain ?killer |heart |pain )?(pills|tablets|meds|medication|painkillers|paracetamol|insulin)\b(?! (for|in) (the|a|my) (trip|holiday|week|pill ?box))|"
       r"\b(pills|tablets|gun|pistol|rifle|shotgun|revolver|rope)\b[^.?!]{0,30}\b(in front of me|on the table|in my lap|on my lap|next to me|on the (bed|dresser|sink))|"
       r"\b(it'?s|is) loaded\b|\bengine running\b|\b(different|three|two) (shops|stores|pharmacies|chemists)\b|so nobody would (ask|stop me|notice)|"
       r"\b(got|took|have|get) (the|my|my dad'?s|dad'?s|his) (shotgun|gun|rifle|pistol|revolver) out\b|\bkeep going out there and looking at it|"
       r"\b(standing|sitting|stood|sat|i'?m) (on|at) (the )?(edge|ledge|bridge|roof|cliff|tracks|platform)\b|\b(right )?at the edge\b[^.?!]{0,40}\b(voice|goodbye|jump)|"
       r"\b(up|went|going) (to|on) the roof of\b|\bin the (car|garage) in the garage\b|\bin the garage with the door (down|shut|closed)\b|"
       r"\b(pills|tablets|meds|ones)\b.{0,60}\b(weeks?|months?)'? worth\b[^.?!]{0,30}\b(lined up|saved|stashed|hidden)\b|"
       r"\b(pills|tablets|meds)\b[^.?!]{0,20}\bthe whole (lot|bottle|packet|box)\b|\b(pills|tablets|meds)\b.{0,60}\b(saving|stockpiling|hoarding|collecting) them\b|"
       r"\b(rope|pills|tablets|gun|rifle|shotgun|pesticide|poison|weedkiller|blade|razor)\b.{0,80}\b(go|going|keep|kept|just|sit|sat|sitting)( out( there)? and)? (look|looking|stare|staring) at (it|them)\b|"
       r"\b(pesticide|poison|weedkiller|bleach|antifreeze)\b[^.?!]{0,30}\b(near|next to|by|beside|under) my (bed|pillow)\b|"
       r"\b(took|taken|got) the blades? out of (my|the|a) (razor|sharpener)\b|"
       r"\b(got|have|need|bought) enough (this time )?(to make sure it works|to not wake up|to do it properly|that it'?s done properly)\b",
       negatable=False, defused_by=STORY_ROUTINE_OR_TASK),
    _r("suicide", "imminent", "has the means and a time",
       r"\b(rope|gun|pills|tablets|blade|pistol|rifle)\b[^.?!]{0,60}\b(in a (few )?minutes|in an hour|going out there)\b|"
       rf"\b(i'?ve got|i have|got|i'?ve) (the |my |all my |all the )?{_MEANS}\b[^.?!]{{0,15}}\bready\b", negatable=False),
    _r("suicide", "imminent", "has a plan or a time",
       r"\b(tonight|tomorrow|this (week(end)?|sunday|saturday|friday)|on (sunday|saturday|friday|my birthday)|after (the|my|everyone)\b[^.?!]{0,30})[^.?!]{0,30}"
       r"\b(i'?m (going to|gonna) do it|i'?ll do it|that'?s when|it'?s (over|done)|i'?m done)\b|"
       r"\b(going to|gonna) do it\b[^.?!]{0,30}\b(tonight|tomorrow|sunday|friday|saturday|once|after|when)\b|"
       r"\b(picked|chosen|decided on) (the|a) (spot|place)\b|"
       r"\b(i'?ve|i have) (planned|worked) (it|everything) (all )?out\b|\b(worked out|know|planned) (exactly )?how i'?(ll|d|m going to) do it\b|"
       r"\bi know how i'?ll do it\b|\btonight'?s? (is )?the night\b|\bi'?ve decided\W+(it'?s )?tonight\b|\bsunday'?s the last day\b", negatable=False),
    _r("suicide", "imminent", "has a plan or a time",  # the same, where a party, a move or a trip can explain it
       rf"\bi'?ve decided\W+(it'?s )?{_DAY}\b|\btonight i'?m doing it\b|\bi'?m doing it tonight\b|"
       rf"\bi'?(ve)? (decided|picked|chosen)\b[^.?!]{{0,10}}\b(it'?s|its|it will be|it'?ll be) (gonna be |going to be )?{_DAY}\b|"
       r"\b(once|after|when)\b[^.?!]{0,50}\b(i will|i'?ll|i'?m going to|i am going to) end (it|things|my life)\b(?! with)|"
       r"\bi know (which|a) (bridge|tree|cliff)\b(?! (where|with|that|near|by))", negatable=False, defused_by=LEAVING),
    # elevated: thoughts of ending their life, said directly or indirectly
    _r("suicide", "elevated", "speaks of wanting to die or kill themselves",
       r"\b(kill(ing)? myself|suicid(e|al)|want(ed)? to die|wanna die|wish(ed)? i (was|were) dead|"
       r"end(ing)? my (own )?life|tak(e|ing) my (own )?life|better off dead|tried to (kill myself|end it)|"
       r"(shoot|shooting|hang|hanging|gas|gassing|drown|drowning) myself|do away with myself)", defused_by=PAST_HELPING_OR_HYPERBOLE),
    _r("suicide", "elevated", "speaks of someone else wanting to die",
       r"\b(kill|killing) (himself|herself|themselves)|\b(he|she|they) (wants?|tried) to (die|end (it|his life|her life|their life))|"
       r"\b(jokes?|joking|talk(s|ing)?|saying|says|keeps saying) about (not being (around|here)|dying|killing (himself|herself|themselves)|ending it)",
       defused_by=PAST_HELPING_OR_FICTION),
    _r("suicide", "imminent", "someone else is in danger now",
       r"\b(he'?s|she'?s|he is|she is|they'?re|hes|shes) (going to|gonna|about to) (jump (off|from) (the|a) (bridge|roof|building|cliff|balcony)|jump in front|kill (himself|herself)|take all|overdose|end (it|his life|her life))\b|"
       r"\b(he'?s|she'?s|hes|shes|he is|she is) taking (all|the whole)\b|"
       r"\b(shed|garage|woods|barn|bush)\b[^.?!]{0,20}\bwith (the|a|his|her) (shotgun|gun|rifle|rope|pistol)\b|"
       r"\b(goodbye|good ?bye|sorry for everything|love (you|them))\b.{0,80}\b(not answering|switched off|turned off|not picking up|won'?t answer|isn'?t answering|no answer)\b",
       negatable=False, defused_by=OTHERS_EXPLAINED),
    _r("suicide", "concern", "someone else may be in danger",
       r"\b(she|he)('?s| has)? locked (herself|himself) in (the )?(bathroom|room|bedroom|garage|shed)\b", negatable=False, defused_by=PAST_HELPING_OR_FICTION),
    _r("suicide", "elevated", "expresses not wanting to live",
       r"\b(don'?t|do not|dont) (really )?(want to|wanna) (live|be alive|be here|exist|wake up)( anymore| any more)?\b(?! (for|at|when|if|in|on|with|tonight|today|tomorrow|this|next|while)\b)|"
       r"\b(don'?t|do not|dont) (really )?(want to|wanna) be around (anymore|any more|at all)\b|"
       r"\bno (reason|point) (to|in) (live|living|going on)|\b(everyone|they|my family|the world)('?d| would) be better off without me|"
       r"\bcan'?t go on( anymore| any more)?\s*($|[.!,])|\bwant to (sleep|go to sleep) and never wake up|"
       r"\bwant(ing)? to disappear (forever|for good)|\bgiving away (all )?my (things|stuff|belongings)|"
       r"\b(don'?t|do not|can'?t|cannot) see (the|any) (point|reason) (of|in|to) (going on|living|being alive|carrying on|keep going|life)|"
       r"\bno (reason|point) (to|in) (keep going|carry(ing)? on|be(ing)? (here|alive))|"
       r"\b(thinking (about|of)|thought about) (ending it|ending it all|not being here)|\bend it all\b|"
       r"\b(i'?d|i would) rather (not be here|be dead|not exist)|\bjust want (it all|it|everything|this|all of this) to (be over|end)\b|"
       r"\b(go|die|end it|end things) on my own terms\b|\bhad enough of (this world|life|living|being alive)\b(?! (in|here|at|with|as|cup))", negatable=False, defused_by=LEAVING_OR_PAST),
    _r("suicide", "elevated", "wishes not to be alive",
       r"\b(wish|wishing|hope|hoping|pray|praying)\b[^.?!]{0,40}\b(not|never|wouldn'?t|don'?t|didn'?t|dont) (wake up|see the morning|make it)|"
       r"\btakes? me in my sleep\b|\b(go to )?sleep (and )?(not|never) wake up\b|\bsleep forever\b|\b(stop|ceas(e|ing)) existing\b|"
       r"\bwish i'?d never been born\b|\b(want(ed)?|wanting|wish) to be dead\b|\bwant(ed)? to disappear\b[^.?!]{0,20}\b(permanently|forever|for good)|"
       r"\b(car|bus|truck|train|lorry)\b[^.?!]{0,30}\bhit (me|it)\b[^.?!]{0,40}\b(mind|okay|ok|fine|easier|relief)|\b(mind|okay|fine)\b[^.?!]{0,30}\bif (a|the) (car|bus|truck|train) hit|"
       r"\bsomething (bad )?(would |will |to )?happens? to me\b|\bwouldn'?t (be sad|mind) if i (didn'?t|don'?t) make it|"
       # a death or a disappearance imagined, and accepted ("if I didn't wake up tomorrow I'd be fine with that")
       r"\bif (i|a (bus|car|truck|lorry|train)|the (bus|car|truck|lorry|train|cancer|illness)|it)\b[^.?!]{0,30}\b(disappeared|didn'?t wake up|never woke up|hit me|got me|took me|got hit|was hit|got run over|died)\b[^.?!]{0,40}\b(fine|okay|ok|alright|wouldn'?t mind|relief|fair enough|worst thing)\b|"
       r"\b(wouldn'?t (mind|be the worst thing)|be fine|be okay|be a relief)\b[^.?!]{0,20}\bif (i|the (cancer|illness)|a (bus|car|truck|lorry|train))\b[^.?!]{0,30}\b(disappeared|didn'?t wake|got me|took me|hit me)\b|"
       r"\b(wouldn'?t mind|be fine|be okay|be a relief) if (it all|everything) (just )?stopped\b|"
       r"\bhop(e|ing)\b[^.?!]{0,20}\bi (get|got) (really |very )?(sick|ill)\b[^.?!]{0,20}\b(don'?t|dont|never|not) (get better|recover)|"
       r"\b(ask(ed|ing)?|pray(ed|ing)?|beg(ged|ging)?)\b[^.?!]{0,30}\b(the lord|god|him|he)\b[^.?!]{0,20}\b(to |will |'?ll |would )?(just )?(take|call) me( home| soon)?\b|"
       r"\b(un-?aliv(e|ing)|unalive) myself|\bk ?m ?s\b|\bsewerslide\b|\bctb\b|\btop(ping)? myself\b|\boff myself\b|\byeet(ing)? myself\b|\bfinish myself( off)?\b|"
       r"\b(want|wanna|going|gonna|thinking about|thought about|think about) (to )?end(ing)? it\b(?! with)|\bend it all\b|"
       r"\b(check(ing|ed)? out|log(ging)? off|sign(ing)? off|clock(ing)? out|bow(ing)? out|tap(ping)? out)\b(?! (of|from) (the|my|a) (hotel|room|shop)| (twitter|facebook|instagram|insta|tiktok|reddit|discord|social media)).{0,15}\b(permanently|for good|forever|for ever)\b|"
       r"\bcheck(ed)? out for good\b|\bsigning off for good\b|\bcash(ing)? in (my|the) chips\b|\bonly (one )?way out\b|\bin case i (need|want) (a|the) way out\b|"
       r"\bgo (and )?(be with|join) (him|her)\b|\bready to go (home|now)\b|\bgo home to (god|the lord|jesus)\b|\btired of waiting\b|\bthe long walk into the sea\b|"
       r"\bnot (going to|gonna) be around (much|for) long(er)?\b|\bwon'?t be (around|here) (much|for) long(er)?\b|"
       r"\b(it|this|everything|it all)('?ll| will) (all )?(be over|stop|end|be sorted) soon\b|\bit'?s all going to (stop|end) soon\b|"
       r"\bwon'?t be long now\b|"
       r"\bnobody('?d|'?ll| would| will)? (find|look for|notice|miss) (me|the \w+|my \w+)\b[^.?!]{0,20}\b(for (a while|days|weeks|ages)|until)\b|\bnobody('?d|'?ll| would| will) (find|look|notice)\b[^.?!]{0,25}\bfor (days|weeks|ages)\b|"
       r"\b(don'?t|do not) want (anyone|anybody) (waking up and )?(stopping|to stop) me\b|\bbefore (anyone|anybody) (can |could )?(stop|stops) me\b|"
       r"\bafter (tonight|today|tomorrow|this week|friday|saturday|sunday)\b[^.?!]{0,10}\b(it|nothing)('?ll| will)? ?(won'?t )?matter\b|\b(i'?d|i would) not swerve\b|\bwouldn'?t (bother to )?swerve\b|"
       r"\b(not like|it'?s not like) (i'?ll |ill |i will )?be around (for|to see|by)\b|\bwon'?t be around to see (next|the next|christmas|the end|my birthday)\b|"
       r"\b(heaven|hell|god|forgive\w*)\b.{0,60}\b(do|did|does|done) it (themselves|himself|herself|yourself|myself)\b|\bwon'?t matter after\b|\bnot bother(ing)? (waking|to wake) up\b|"
       r"\b(could|might|would|will|'?ll|'?d) (just )?(not|never) come back from\b|"
       r"\b(platform|train|tracks|edge|ledge)\b[^.?!]{0,60}\bstep(ping)? (forward|off)\b|"
       r"\b(easy|tempting|tempted|thought|think|wonder)\w*\b[^.?!]{0,40}\b((walk|walking|step|stepping|jump|jumping) in front of (a|the) (train|bus|truck|lorry)|(walk|walking|drive|driving) (into|off) (the )?(traffic|river|sea|cliff))",
       negatable=False, defused_by=LEAVING_OR_PAST),
    _r("suicide", "elevated", "feels a burden to others",
       r"\b(better off|easier|happier|fine|relieved|breathe easier|have (a|their|her|his) life( back)?|do better|manage fine|be better|be free|better for (him|her|them|everyone|everybody))\b[^.?!]{0,40}"
       r"\b(without me|if i (was|were|wasn'?t|weren'?t|am|'?m)( gone| here| around| in (it|the picture))?|if i'?m gone|when i'?m gone|if it (was|were|weren'?t)n?'?t? for me|than with me)|"
       r"\b(i'?m|i am)( just| literally| such| nothing but| only| a)* (a )?(burden|dead weight|drain|weight (on|round|around)|cost to)\b|"
       r"\b(stop|quit) being a (problem|burden)\b|\bwon'?t be a (problem|burden)\b|\btaking myself out of the equation\b|"
       r"\bnobody (has|needs|will have) to worry about me\b[^.?!]{0,15}\b(again|anymore|ever)|\bsoon i won'?t be\b|\bworth more (to (them|her|him|everyone|my \w+) )?(dead|gone)\b|"
       r"\b(they|she|he|the kids|everyone)('?d| would) (all )?be better off with (someone else|anyone else|(just )?(their|her|his) (mum|mom|dad|father|mother)|my (sister|brother|mum|mom|mother|parents))\b(?! (this|next|for|while|tonight|today|on|at)\b)|"
       r"\bwon'?t (be )?(bother|troubl|burden)\w* (anyone|anybody|them|everyone)\b[^.?!]{0,15}\b(after this|much longer|for (much )?long(er)?|anymore|any more|ever again)\b",
       negatable=False),
    _r("suicide", "elevated", "sees no reason to live",
       r"\b(no|any|one|single|a) (reason|point|purpose)\b[^.?!]{0,30}\b(keep going|to live|living|being (here|alive)|stay(ing)?|sticking around|get(ting)? up|carry(ing)? on|going on|go on|me being here)|"
       r"\bnothing (left )?(for me|to live for|to get up for)\b|\b(don'?t|do not) have (anything|anyone|a future|any future|nothing) (to live for|to get up for)|"
       r"\bwhat am i (staying|living|still here) for\b|\bwhy i should (stay|keep going|live|be here)\b|\bpoint (of|in) (me )?(being alive|living|me being (alive|here))\b|"
       r"\bonly reason i was still\b|\b(don'?t|do not|dont) (really )?(see|know) why i'?m (still )?(here|alive)\b(?! (at|in|on|with|until|till|late|after))|"
       r"\bnothing (left )?(keeping|to keep) me (here|going|alive)\b", negatable=False, defused_by=LEAVING),
    _r("suicide", "elevated", "is saying goodbye",
       r"\bnone of (it|this)('?s| is| was) (their|your|his|her|anyone'?s) fault\b|\bi'?m sorry for everything\b|"
       r"\bwhere (they|she|he)'?(ll| will) find (them|it|me)\b|\bfind me easier\b|\bso they know (how i felt|i loved)|\bto remember me by\b|\bremember me (like this|this way)\b|"
       r"\bif i don'?t (talk|speak) to you again\b|\b(this is|this'?ll be|this will be|probably) (the|my) last time\b|\b(you'?ll|you will) be the last( one| person| voice)?\b(?!( one| person| voice)? (to|i'?d|who|in|at|on)\b)|"
       r"\bwon'?t be (calling|talking to you|ringing) again\b|\bthank(s| you) for (everything|being kind to me)\b.{0,60}\b(take care|bye|goodbye)|"
       r"\b(before the end|after i'?m gone|when i'?m gone|for after i'?m gone)\b|\b(after|when|once) i'?m (not around|not here|no longer (here|around))( anymore| any more)\b|"
       r"\bsee (u|you) on the other side\b|\bi love (u|you),? bye\b|\b(it was|it'?s been) nice knowing (u|you)\b|"
       r"\b(read|open) (it )?after\b|\bwanted that done before\b|\bjust wanted to hear a voice\b|\bsaid (my|all my) good[- ]?byes\b|"
       r"\b(wanted|want) to (say )?(good)?bye (properly )?to (someone|somebody)\b|\bsay (good)?bye properly\b|"
       r"\btell (my \w+|the \w+|her|him|them|everyone)( that)? (i'?m|i am) sorry( for everything)?\s*([.!]|$)|"
       r"\b(left|written|wrote|leaving) (her |him |them |my \w+ )?(a|the) (note|letter)\b[^.?!]{0,30}\b(understand|explain|know why)|"
       r"\b(letters?|notes?)\b.{0,80}\b(not|wasn'?t|wasnt|isn'?t|isnt) (their|your|his|her|anyone'?s) fault\b|\b(letter|note)\b[^.?!]{0,30}\bunder my pillow\b|"
       r"\b(wrote|written|writing|left) (letters|notes) (for|to) (my (mum|mom|mother|dad|father|sister|brother|wife|husband|kids|children|family|parents|partner)|each of)\b", negatable=False, defused_by=LEAVING),
    _r("suicide", "elevated", "gives things away or puts affairs in order",
       r"\bwon'?t (be )?(need(ing)?|us(e|ing)) (it|them|him|her|any of (it|them)|anything|(the|my) \w+)\b[^.?!]{0,20}\b(where|after|anymore|any more|now|much longer|anyway)|"
       r"\bwhere i'?m going\b|\bsomeone who'?ll be around\b|\bdon'?t (really )?need anything anymore\b|\bno use to me now\b|"
       r"\bwho (gets|takes|has) (what|my \w+|the (kids|dogs?|cats?|house))\b|\b(my (own )?affairs|everything) in order\b|\b(tying|tie) up (the )?loose ends\b|\b(will'?s|will is) (done|updated|sorted|written)\b|"
       r"\bpasswords?\b[^.?!]{0,30}\b(envelope|written down|for my|on the desk)|\bfuneral('?s| is)? (paid|planned|sorted)\b|"
       r"\b(easy|easier) for (them|everyone|her|him) (after|afterwards)\b|\bnobody has to (struggle|scramble|be stuck)|"
       r"\b(nobody|no one|anyone|anybody)\b[^.?!]{0,25}\b(figure|sort|deal with|clean(ing)? up|fuss|stuck)\b[^.?!]{0,25}\bafter( me| i'?m gone|wards)?\s*([.!?]|$)|"
       r"\binsurance\b[^.?!]{0,60}\b(self[- ]inflicted|suicide|pays? out to|just in case)\b|\blife insurance\b[^.?!]{0,30}\b(current|paid up|valid|up to date)\b|"
       r"\bsquared away\b|\ball labell?ed\b|\bpaid (the rent|it) up to\b|\bwhatever happens to me\b[^.?!]{0,30}\b(manage|be (fine|okay|alright|provided))|"
       r"\bgiving (away )?(all )?(my|her|his) (stuff|things|belongings)( away)?\b|"
       r"\b(gave|given|giving|handed|handing|passed|sent|boxed up)\b.{0,150}\b(won'?t|wont|will not) (be )?(need(ing)?|us(e|ing)|around|here)\b|"
       r"\b(i )?won'?t (be )?(need(ing)?|us(e|ing))\b[^.?!]{0,15}\bafter (next|this|\w+day)\b", negatable=False, defused_by=LEAVING),
    _r("suicide", "elevated", "asks about a way to die",
       r"\bhow (many|much)\b[^.?!]{0,50}\b(would it take|to (be )?(fatal|lethal|kill|die|not wake up)|is (fatal|lethal|too many))|"
       r"\b(be|is|was) (fatal|lethal)\b|\b(fatal|lethal|deadly) (dose|amount|height|fall)\b|\benough to kill\b|\bto not wake up\b|\b(most )?painless way\b|\bquick(est|er) way to (die|go\b(?! (to|by|and|home|back|there|into|out|from|via)))\b|"
       r"\b(tallest|highest) (bridge|building|roof|car park|parking garage|cliff)\b|\bhow (high|tall)\b[^.?!]{0,40}\b(fatal|die|bridge|building|garage|roof)\b|"
       r"\bhow long does it take (to drown|to die|for (someone|somebody|a person) to die)|\bcarbon monoxide\b|"
       r"\bwhich would be quicker\b|\bwould that do it\b|\bwould (my |the |these |those )?(\w+ )?(insulin|pills|tablets|meds|medication|rope) do it\b|"
       r"\b(less|more|least|most) painful\b[^.?!]{0,30}\b(hanging|overdos\w*|drowning|jumping|gun)\b|"
       r"\b(insulin|pills|tablets|overdose|potassium)\b[^.?!]{0,40}\bstops? (your|my|the|a) heart\b|\bdoes it hurt to (die|drown|overdose)|"
       r"\b(googl\w*|looked up|look(ing)? up|read(ing)? up|search\w*|research\w*)\b[^.?!]{0,60}\b(fatal|lethal|(pills|tablets|meds|medication)\b[^.?!]{0,20}\bmost dangerous|painless|to die|hanging|drown\w*|to be certain)\b|"
       r"\b(height|high)\b[^.?!]{0,30}\bfall\b[^.?!]{0,20}\b(certain|fatal|kill|die)\b|\bexhaust\b[^.?!]{0,40}\b(closed|shut) garage\b|"
       r"\b(train|fall|jump|bridge|height|drop)\b[^.?!]{0,80}\b(wouldn'?t|won'?t|not) feel (anything|a thing)\b|"
       r"\b(beam|hatch|banister|bannister|loft)\b[^.?!]{0,40}\bhold (someone|somebody|a person|my weight)\b|"
       r"\bhow long (before|until) (someone|somebody|anyone|a person)('?s| is| would be| gets)? (missed|found|noticed)\b", negatable=False),
    _r("suicide", "elevated", "has tried before and the wish is back",
       r"\b(tried|last time|didn'?t work|woke up|attempt\w*|had a go|overdos\w*|hospital|icu)\b.{0,120}\b(do it properly|get it right|finish(ing)? (it|the job))\b|"
       r"\b(wish(ed)? it had worked|annoyed it didn'?t work|next time i'?d (do it|make sure|get it|take|use)|this time i'?d (make sure|do it|get it))\b|"
       r"\b(feeling is coming back|starting to feel like it did|been thinking about going back)\b|\bmake sure no one (was|is|would be) (home|around)\b|"
       r"\b(tried (to (end|kill) (it|myself|my life)|when i was|in year \w+)|attempted( suicide| to)|overdosed?|took an overdose|sectioned|(consumed|swallowed|drank) (phenyl|bleach|poison|pesticide))\b.{0,120}"
       r"\b(feeling|thoughts?|pull|its?|it'?s)\b[^.?!]{0,25}\b(never (really )?(went away|left|stopped)|(is |are |'?s )?(kind of )?(coming|come) back|still coming)\b|"
       r"\b(overdosed?|took an overdose|tried to (end|kill) (it|myself|my life))\b.{0,80}\bthink(ing)? about it again\b",
       negatable=False),
    _r("suicide", "elevated", "is suddenly calm after deciding",
       r"\b(peaceful|at peace|calm|relief|relieved|light|weight (is|has) (gone|lifted)|not (scared|upset|worried|fighting|stressed))\b.{0,60}"
       r"\b(know (how|what)|decided|decision|made my mind up|going to do|settled|(found|have) (the|a) (solution|answer))\b|"
       r"\b(know (how it|what i'?m going to)|decided|decision|settled|(found|have) (the|a) (solution|answer))\b.{0,60}"
       r"\b(peaceful|at peace|relief|relieved|feels? light|weight is gone|calm)\b|"
       r"\b(found|have) (the|a) (solution|answer) to (all )?(my problems|everything|it all)\b|"
       r"\b(calm|peaceful|fine now|at peace|relieved)\b.{0,60}\b(everything|it all)( just)? (feels|is|'?s) (sorted|settled)\b|\b(happier|calmer|lighter|at peace)\b.{0,60}\bstopped fighting\b", negatable=False, defused_by=LEAVING),
    # concern: hopeless, settled on something (two in one turn make it elevated)
    _r("suicide", "concern", "sounds hopeless",
       r"\b(what('?s| is) the point( of anything| of living| anymore)?|nothing matters( anymore)?|(i'?m|i am|i feel like) (just |such |nothing but |only )?a burden|no way out|"
       r"tired of (everything|living|it all)|want it all to (stop|end)|can'?t do this anymore|(no one|nobody)('?s| is)? (would|will|going to|gonna) (miss|notice) me|(got|have) it all (worked out|planned))", negatable=False),
    _r("suicide", "concern", "sounds settled on something",
       r"\b(made|reached) (my|the|a) decision\b|\bmy mind'?s made up\b|\bmade my mind up\b|\b(made|making) (my )?peace\b|\bat peace\b|"
       r"\bi know (what i'?m (going to do|doing)|how (it|this) ends)\b|\b(stopped|not|stop) fighting (it|this)\b|\brunning out of road\b|"
       r"\bdon'?t worry about me\b", negatable=False),
)

SELF_HARM: tuple[Rule, ...] = (
    _r("self_harm", "imminent", HARMING_NOW,
       r"\b(i'?m|i am) (cutting|hurting|burning) myself (right )?now|\bcut (myself )?too deep|\bbleeding (and|because) i cut"),
    _r("self_harm", "imminent", HARMING_NOW,
       r"\b(blade|razor|knife|glass|lighter)\b[^.?!]{0,40}\b(right now|over my wrist|in my hand|on right now)|\b(right now|while we'?re talking)\b[^.?!]{0,40}\b(blade|razor|knife|cut|pressing)|"
       r"\b(i'?m|i am|i'?ve) (already )?(doing it|started)\b(?! (wrong|right|well|badly|properly|all wrong))[^.?!]{0,20}$|\bdoing it right now\b|\b(cuts?|cutting) (is |are )?deeper\b|\bon purpose\b[^.?!]{0,20}\bblister|"
       r"\bin the bath with a (razor|blade|knife)\b|\b(in|locked in) the (bathroom|bath|toilet)\b[^.?!]{0,10}\bwith (the|a|my) (razor|blade|knife|scissors)\b|"
       r"\b(it'?s|its|this one'?s|the cut'?s|cuts are) deeper than (usual|before|last time|normal)\b|"
       r"\b(i'?m|i am|im) cutting (right now|now|rn)\b|\b(i'?m|i am|im) (burning|hitting) (myself|my head)\b[^.?!]{0,15}\b(right now|now|rn)\b|\b(did it|cut) again\b.{0,40}\b(bleeding|blood)\b|"
       r"\b(knife|blade|razor|scissors)\b[^.?!]{0,20}\b(against|over|pressed (to|into|on)) my (arm|wrist|skin|leg|thigh)\b", negatable=False),
    _r("self_harm", "elevated", "speaks of harming themselves",
       r"\b(cutting myself|self[- ]harm(ing)?|(cut|burn(ed|t)?|hurt|harm(ed)?) myself (on purpose|again|deliberately)|"
       r"(want|wanting|urge|need|going|feel like|thinking about|started|keep) (to )?(cut|cutting|hurt|hurting|harm|harming|burn|burning|punish|punishing) myself|"
       r"relapsed? (on|into) (cutting|self[- ]harm))", defused_by=PAST_OR_HELPING),
    _r("self_harm", "elevated", "harms themselves",
       r"\b(cutting|burning|scratching|hitting|punching|starving|hurting|harming)( myself| my (arms?|legs?|thighs?|wrists?|head))\b|"
       r"\b(cut|burn|scratch|hit|punch|starve|hurt)(ing|ed|s)? (myself|my arms?|my thighs?|my legs)\b[^.?!]{0,30}\b(with|till|until|again|when|so|to feel|on purpose|bleed)|"
       r"\b(started|start|doing) (cutting|the thing) again\b|\bcutting again\b|\b(i|i'?ve|i have)( (just|kind of|sort of|totally|finally|gone and))? relapsed\b|(^|[.!?]\s*)relapsed\b|\b(punch|punching) (the |a )?(brick )?walls?\b[^.?!]{0,40}\b(bleed|split|till|until)|"
       r"\bdig(ging)? my nails\b|\btill (it|they) bleeds?\b|\buntil (it|they) bleeds?\b|\b(stopped|stop|not) eating\b[^.?!]{0,20}\bon purpose\b|\bstarving myself\b|"
       r"\bpull my hair out\b|\bopen them up again\b|\brazor blades\b|\bwear long sleeves\b|\bburn(ed|t)? myself\b|\bhit myself\b|\bhurt myself\b[^.?!]{0,20}\bfeel|"
       # not eating as a punishment ("I haven't eaten in three days. It's a punishment.")
       r"\b(haven'?t eaten|not eating|stopped eating|starv\w*|skip(ping)? meals)\b.{0,60}\b(punish\w*|i deserve)\b", defused_by=PAST_OR_HELPING),
    _r("self_harm", "elevated", "hears a voice telling them to harm themselves",
       r"\b(voices?|something)\b[^.?!]{0,30}\b(telling|tells|told) me (to|i should) (hurt|kill|cut|harm) myself\b", negatable=False),
    _r("self_harm", "elevated", "someone else is harming themselves",
       r"\b(pics|pictures|photos) of (her|his|their) cuts\b|\b(she|he)('?s| is| has been| keeps) (cutting|burning) (herself|himself)\b", negatable=False,
       defused_by=PAST_HELPING_OR_FICTION),
)

HARM_TO_OTHERS: tuple[Rule, ...] = (
    _r("harm_to_others", "imminent", "states intent to hurt someone",
       rf"\b(going to|gonna|plan(ning)? to|want to|will|ready to) (kill|hurt|stab|shoot|strangle|beat up) {_PRONOUN}\b|"
       r"\b(bring(ing)?|take|taking) a (gun|knife|weapon) to (school|work|the office|class)|\bshoot up (the|my) (school|office|work)"),
    _r("harm_to_others", "imminent", "is about to hurt someone",
       r"\b(got|have|brought|put|with) (a|the|my|his|dad'?s|my dad'?s) (old )?(bat|knife|hammer|gun|revolver|rifle|air rifle|shotgun)\b[^.?!]{0,40}\b(for when|with me|outside|he'?s home|by the door|out\b(?! of))|"
       r"\boutside (his|her|their) (place|apartment|house|flat)\b|\bwon'?t walk away from it\b|\bgoing round there tonight\b|\b(bringing|bring) (something|a gun|a knife|a weapon) (in|into|to)\b|"
       r"\bi know (where (he|she) (lives|parks)|what time he leaves)\b|\btook (dad'?s|his|the) (shotgun|gun|rifle) out\b[^.?!]{0,30}\bdrove|"
       r"\b(knife|gun|bat|hammer|machete|pistol|rifle|shotgun|weapon)\b.{0,80}\b(address|where (he|she|they)('?re)? (lives?|works?|stays?|staying)|going (to|over to|round to) (his|her|their))\b|"
       r"\b(address|where (he|she|they|his \w+|her \w+|my \w+'?s? \w+)('?re)? (lives?|works?|stays?|staying)|parked outside|going (to|over to|round to) (his|her|their))\b.{0,80}\b(knife|gun|bat|hammer|machete|pistol|rifle|shotgun|weapon)\b|"
       r"\bfound (his|her|their) address\b[^.?!]{0,40}\b(going|tonight)\b", negatable=False, defused_by=STORY_OR_TASK),
    _r("harm_to_others", "elevated", THOUGHTS_OF_HARM,
       rf"\b(thoughts? (of|about)|fantasi[sz](e|ing) about|can'?t stop thinking about) (kill|hurt|stabb|shoot)(ing)? {_PRONOUN}\b|"
       rf"\bwant {_PRONOUN} (dead|to suffer)|\bmake (him|her|them) pay\b"),
    _r("harm_to_others", "elevated", THOUGHTS_OF_HARM,
       r"\b(thoughts?|thinking|think|urge|picture|picturing|fantasi\w+|imagine|scared|afraid|flash(es)?|images?|impulses?)\b[^.?!]{0,40}\b(hurt|hurting|kill|killing|stab|stabbing|shoot|shooting|shake|shaking|strangle|wrong dose)\b(?!\s+(myself|me)\b)|"
       r"\b(make|making) (them|him|her|everyone|everybody|them all)( all)? (pay|sorry)\b|\bput (him|her) in the ground\b|\bscared of what i('?ll| might| will)? do\b|"
       r"\bi could (honestly )?hurt someone\b|\bvoices\b[^.?!]{0,40}\b(hurt|kill)\b|\bi'?ll stab\b|\burge to shake\b|\bshook (her|him) so hard\b|"
       r"\bshook (the|my) baby\b|\bwanted to (throw|shake|smother) (him|her|the baby|my baby)\b(?! (a|an|the|out|away|off|over|up|in|into)\b)|"
       r"\bpillow\b[^.?!]{0,30}\b(over|on) (his|her|their) face\b|\bpillow\b[^.?!]{0,20}\bthink about it\b|"
       r"\bwho i'?d (start|begin) with\b|\b(picture|imagine|think|thought|fantasi\w+)\b[^.?!]{0,60}\b(run(ning)?|ran) (him|her|them) (over|down)\b|"
       r"\b(he|she|they)('?s| is| are)? (going to|gonna|'?ll|will) (know|find out|learn) what it feels like\s*([.!]|$| when)|\b(that |so )?close to (hurting|killing|strangling|shaking) (them|him|her|the kids|the baby|my)\b", negatable=False,
       defused_by=STORY),
)

ABUSE: tuple[Rule, ...] = (
    _r("abuse", "imminent", "is in danger from another person now",
       r"\b(he|she|they)('?s| is| are) (outside|at the door|coming back|trying to get in|breaking in)|"
       r"\b(threaten(ed|s|ing)?|said|says|swore) (he|she|they)('?d|'?ll| would| will| is going to| was going to) (kill|hurt|finish) me\b(?![^.?!]{0,30}\b(if i('?m| am)? (late|back late|home late)|if i (forget|break|spend|lose|crash|spill|scratch|eat|miss)|if i (don'?t|do not) (tidy|clean|do my|finish|eat|ring|call|text)|lol|haha|lmao|jk)\b)|"
       r"\bthreaten(ed|s|ing)? to (kill|hurt) me|\bsomeone is (hurting|attacking|following) me", negatable=False),
    _r("abuse", "imminent", "is in danger from someone now",
       r"\b(hands|hand) (round|around) my (neck|throat)\b|\b(hit|hurt|hands|kill|scared|afraid|terrified|hiding|hid|drunk|neck|throat|bleed\w*|bruis\w*)\b.{0,80}\b(he|she)('?ll| will) be back\b|\b(he|she)('?ll| will) be back\b.{0,60}\b(hide|hiding|scared|afraid|terrified|kill|hurt|drunk|angry|furious)\b|\b(said|says|saying|screaming|shouting|swore|threaten\w*)\b[^.?!]{0,50}\b(going to|gonna) kill me\b|\bi'?m dead when\b|\b(on (his|her) way|coming up the stairs)\b|"
       r"\b(banging|kicking|breaking) (on |down )?the door\b|\bbroke the door\b|\b(hiding|hid|locked myself) in (the|my|a) (wardrobe|closet|bathroom|bedroom|car)\b|"
       r"\b(he'?s|she'?s|he has|she has) got (a|the) (gun|knife)\b|\bgot the (gun|knife) out\b|\bgetting his belt\b|\bfollowing (me|us)\b(?! (on|back))|\bshow me what happens\b|"
       r"\bhe'?s (downstairs|still in there)\b[^.?!]{0,40}\b(smashing|screaming|drunk)|\b(hit|hits) me with a\b[^.?!]{0,40}\bbleeding\b|"
       r"\b(just|has just|'?s just) (strangled|choked|stabbed|punched|attacked) me\b|\bpoured (kerosene|petrol|gasoline|acid) (on|over) (me|us|my)\b|\brammed (us|me|my car)\b|"
       r"\b(frightened|scared|afraid|terrified)\b[^.?!]{0,15}\b(he|she|they)('?ll| will| is going to| are going to| might)\b[^.?!]{0,20}\b(come (up|in|back|home)|find me|get (in|me))\b|"
       r"\b(is|'?s) (hitting|beating|hurting|choking|strangling|attacking|stabbing) (her|him|my (mum|mom|mother|sister|brother|dad))\b[^.?!]{0,20}\b(right )?now\b|"
       r"\b(teach|show) me a lesson\b[^.?!]{0,30}\b(tonight|when (he|she) (comes|gets) (back|home))\b", negatable=False, defused_by=STORY_OR_TASK),
    _r("abuse", "elevated", "describes abuse",
       r"\b(he|she|they|my (husband|wife|partner|boyfriend|girlfriend|dad|father|mom|mother|stepdad|stepfather|stepmom|uncle|brother|ex|boss|coach))"
       r" (hits|hit|beats|beat|punched|punches|chokes|choked|kicked|kicks|slapped|slaps|shoves|shoved|raped|molested|hurts|hurt) me|"
       r"\b(sexually |physically |emotionally )?abus(ed|ing|es) me|\bdomestic (violence|abuse)|\bafraid to go home|"
       r"\b(won'?t|doesn'?t) let me (leave|see my|go out|have money)|\blocks? me (in|up)|\b(touch(es|ed)|touching) me (when|where|and) i (don'?t|didn'?t)|"
       r"\bforced me to|\bi'?m being (abused|hurt|hit|beaten)", negatable=False, defused_by=PAST_OR_HELPING),
    _r("abuse", "elevated", "is hurt or controlled by someone",
       r"\b(hits|hit|shoves|shoved|grabs|grabbed|chokes|choked|slaps|slapped|kicks|kicked|beats|punches|punched|pushed|pushes|throws (things|stuff) at|locks|locked) me\b|"
       r"\b(are|is|keeps?|kept|been|start(s|ed)?) (beating|hitting|kicking|slapping|punching|choking|strangling|burning|starving) me\b|"
       r"\bbruises\b|\b(he|she)('?ll| will| would| gets| said he'?d| said she'?d) (hurt me|rough|do what he did)|\b(takes|took|takes all) my (pension|money)\b|\b(he|she|my (husband|wife|partner|boyfriend|girlfriend|bf|gf)) (took|takes|keeps|hides|smashed) my phone\b|"
       rf"\b{_ABUSER}('?s| has| have|'?ve)? (got|took|takes|keeps|kept|holds|hides|controls) (all )?(my|the) (passport|bank card|pension card|card|cards|car keys|documents|papers|money|wages)\b|"
       r"\bnobody will believe me\b|\b(no one|nobody) (would|will) believe (me|a man)\b|\bour (little )?secret\b|\btold me not to tell\b|\b(does|did) (stuff|things) to me\b|\bcomes into my room at night\b|"
       r"\b(goes|went|checks) (through )?my phone\b|\b(doesn'?t|won'?t) (like|let) me (see|seeing|leave|go)\b|\bscared to go home\b|\bfrightened in my own\b|"
       r"\bnot allowed to (call|see|phone|ring|talk to|contact|visit) my (parents|family|mum|mom|mother|dad|father|sister|brother)\b|"
       r"\bif\b[^.?!]{0,40}\bthings get (thrown|smashed)\b|\b(grab\w*|hold\w*|held|squeez\w*|chok\w*|strangl\w*)\b[^.?!]{0,20}\b(my|by the) (neck|throat)\b|"
       rf"\b{_ABUSER}('?s| has| have)? (put|landed) me in (the )?hospital\b|"
       r"\b(the )?(stuff|things) (he|she) does (to me|at night)\b|\b(beat|knock) (it|that|the \w+) out of me\b|"
       r"\b(smash\w*|threw|throws|thrown) (my |a |the |his |her )?(phone|plate|glass|bottle|mug|cup|chair|kettle|pan|remote)\b[^.?!]{0,15}\b(against|into|at) my (head|face)\b|"
       r"\b(girlfriend|boyfriend|husband|wife|partner|dad|father|mum|mom|mother|stepdad|stepmum|he|she) (hits|beats|punches|kicks|slaps|chokes) (him|her|my (mum|mom|mother|sister|brother|dad))\b|"
       r"\bif i (leave|tell (anyone|anybody|someone|the police|my \w+)|go to the police|report)\b[^.?!]{0,40}\b((he|she|they)('?ll| will|'?d| would| is going to) (hurt|kill|beat|hit|post|share|send|take|throw|find|make|put|come)|i('?ll| will) be (put|taken|sent))\b|"
       r"\b(order|dvo|avo|injunction|restraining)\b[^.?!]{0,40}\b(can'?t|cannot|not allowed to|isn'?t allowed to|mustn'?t) (come|be|get) (near|within)", negatable=False, defused_by=PAST_HELPING_STORY_OR_WOMB),
)

MEDICAL_EMERGENCY: tuple[Rule, ...] = (
    _r("medical_emergency", "imminent", MEDICAL,
       r"\b(chest pain|(can'?t|cannot|can not) breathe|trouble breathing|struggling to breathe|not breathing|"
       r"(i'?ve|i have|i'?d|he'?s|she'?s|he has|she has|they'?ve|they have|i|he|she|they|just|has|have) (just )?(taken |had |done )?(an |a )?overdos(e|ed)\b|overdosing|took (too many|a (bunch|handful) of|all (of )?(my|the)) (pills|tablets|meds)|"
       r"(having|had) a (heart attack|stroke|seizure)|face is drooping|numb on one side|bleeding (badly|a lot|heavily|everywhere)|"
       r"won'?t stop bleeding|passed out|(is|went|was) unconscious|swallowed (bleach|poison|antifreeze)|throat is (closing|swelling)|"
       r"call (an ambulance|911|999|112)|need an ambulance)", negatable=False, defused_by=PAST_HELPING_OR_FICTION),
    _r("medical_emergency", "imminent", MEDICAL,
       r"\bcan'?t feel my (legs|arms|face)\b|\b(arm|side)('?s| has| is)? (gone )?(numb|droopy)\b|\bchest('?s| is)? (really )?(tight|crushing)\b|\bholding (her|his) chest\b|"
       r"(?<!i'm )(?<!i am )(?<!im )\b(won'?t|not|isn'?t|can'?t) (wake|waking) (up|her|him)\b|\blips (look |are |going )?blue\b|\ballergic reaction\b|\bthroat('?s| is)? (going )?(all )?(tight|closing)\b|"
       r"\bcan'?t get my words out\b|\bsugar('?s| is) (crashing|low)\b|\bcollapsed\b|\bunconscious\b|\bbreathing (really )?slow(ly)?\b|\bpumping out\b|\bblood everywhere\b|"
       r"\bworst (headache|one) i'?ve ever\b|\bstiff neck\b[^.?!]{0,60}\brash\b|\bgone (all )?grey\b|\b(took|taken|had) (too much|a lot of (pills|tablets)|a load of pills|a bunch of (my )?pills|everything in my cabinet|like \d+|\d+ of the)\b|"
       r"\bnot answering me\b|\b(bleeding|pain)\b[^.?!]{0,40}\bpregnant\b|\bpregnant\b[^.?!]{0,60}\bbleeding\b|\bfell\b[^.?!]{0,40}\bcan'?t (feel|move)|"
       r"\b(diabetic|my sugar|insulin)\b[^.?!]{0,60}\b(shak(ing|y)|sweat\w*|confus\w*|muddled|faint\w*|slurr\w*)\b|\bbitten by a (snake|spider)\b|\bsnake ?bite\b|"
       r"\bsoak(ing|ed)? through\b[^.?!]{0,30}\b(pad|pads)\b|^(?!.*\b(dogs?|rain\w*|pouring|swim\w*|bath|shower|sweat\w*|puddles?|spill\w*)\b).*?\bsoak(ing|ed)? through\b[^.?!]{0,30}\b(towel|towels)\b|\b(he'?s|she'?s|hes|shes|he is|she is|they'?re) not (moving|responding|breathing)\b(?! (to|in|out|house|away|back|abroad|there|here|on|at|with|from)\b)|"
       r"\bblood (coming )?(out of|from) (his|her|my) ears?\b|\b(fall|fell|fallen)\b(?! asleep| in love| behind| for)[^.?!]{0,40}\bcan'?t (get up|move)\b|\b(took|taken|swallowed) the whole (bottle|packet|strip)\b(?![^.?!]{0,40}\b(burp\w*|feed|fed|formula|milk|ounces|oz|nappy|wind)\b)|\bit was the whole bottle\b|"
       r"\b(don'?t|do not) know how many (she|he|they|i) (had|took|swallowed|'?ve taken|taken)\b|"
       r"\b(took|taken|swallowed) (a bunch|a load|a lot|loads|a handful|all|the rest)( of)? (my |her |his |the |my \w+'?s? )?(pills|tablets|meds)\b|"
       r"\b(i'?ve|i have) taken something\b(?! for)|\b(headache|head)\b.{0,80}\bworst i'?ve ever (had|felt)\b|\bcan'?t see (properly )?out of (one|my left|my right) eye\b", negatable=False),
)

# Families written from the youth line, older adults and palliative care, domestic violence, veterans and rural men
# (tune_g, tune_h, tune_i): the same signals as above, said in those callers' words. Each was checked against the
# hard negatives written beside it.
_WEAPON = (r"(knife|knives|blade|gun|guns|shotgun|rifle|pistol|\.22|hammer|machete|axe|bat|crowbar|tyre iron|tire iron|jerry can|"
           r"the bar|iron bar)")
_SELF_PART = r"(arms?|legs?|thighs?|wrists?|stomach|hips?|hands?|skin)"
MORE_SUICIDE: tuple[Rule, ...] = (
    _r("suicide", "elevated", "speaks of wanting to die or kill themselves",
       r"\b(wanna|want to|wish i could|wish i (didn'?t|did not))( just)? (not exist|stop existing)\b|\bi (just )?(wanna|want to) not (exist|be here)\b|"
       r"\bwant to be deleted\b|\bun-?aliv(e|ing) (myself|himself|herself|themselves)\b|\bi'?m un-?aliving\b|\bdisappointed (that )?i'?m still (here|alive)\b|"
       r"\b(don'?t|do not|dont) want to (go on|carry on|keep) living\b|\bwish (it all|everything|my life|all of it) (was|were) (already |just )?over\b|"
       r"\bwish it was already over\b|\b(meet my maker|pushing up daisies)\b[^.?!]{0,40}\b(soon|time|nudge|hurry|riddance)|\b(time|ready) (i|to) (went|go) to meet my maker\b|"
       r"\bslip away (quietly|peacefully|in my sleep|one of these)\b|\bcheck(ed|ing)? out early\b(?! (from|of|this|today|tomorrow))|"
       r"\bgo to sleep and (just\W+)?not\W+(you know|wake)", defused_by=LEAVING_OR_PAST),
    _r("suicide", "elevated", "wishes not to be alive",
       r"\b(hope|hoping|pray|praying|wish|wishing)\b[^.?!]{0,40}\b(get (sick|ill) enough|have a fall|that'?ll be the end of me|hurry up and get on with it|(the|a) (plane|car|truck|bus|train|lorry) (goes down|crashes|hits me))\b|"
       r"\bif\b[^.?!]{0,50}\b(went down|crashed|came through the windscreen|went off the road|comes back|came back|stopped existing|was (all )?(just )?over|were (all )?(just )?over|didn'?t get up)\b[^.?!]{0,40}\b(relieved|relief|glad|wouldn'?t (be the worst|mind)|not be the worst|worst thing)\b|"
       r"\b(wouldn'?t mind|be (a )?relief|be glad|wouldn'?t be the worst thing|be easier)\b[^.?!]{0,10}\bif\b[^.?!]{0,60}\b(went off the road|crashed|went down|hit me|took me|got me|(was|were) (all )?(just )?over|stopped existing|didn'?t wake up|never woke up|lay down\b[^.?!]{0,30}\b(didn'?t|did not|never) get up|just stopped)\b|"
       r"\b(let it stop|let nature take its course)\b|\bi won'?t fight it\b|\b(good|maybe this is it)\b[^.?!]{0,20}\b(disappointed when i (got|woke) up)\b|\bdisappointed when i (got|woke) up\b|"
       r"\b(i'?d|i would) go tonight if\b|\bask (him|god|the lord) every night\b",
       negatable=False, defused_by=LEAVING_OR_PAST),
    _r("suicide", "elevated", "feels a burden to others",
       r"\bno use to anyone\b|\b(i'?m|i am|i'?ve become|become|being) (just |such )?(a|another) millstone\b|\bmillstone (round|around) (their|his|her|my \w+'?s?) necks?\b|\bi'?m (just )?another mouth to feed\b|\bwaste of space\b[^.?!]{0,40}\b(right|better off)\b|"
       r"\bhanging (round|around) (their|his|her|my kids'?) necks?\b|\b(everyone|everybody|they)( all)? (keeps?|keep on) carrying me\b|\bsick of being the one everyone carries\b|\bbabysit me\b|"
       r"\b(kinder|better|easier|fairer) (to|for|on) (him|her|them|everyone|my \w+)( all)? if i (was|were|went|'?m) (gone|dead)\b|\bif i went now\b[^.?!]{0,40}\b(still get|would get|have)\b|"
       r"\bif i (wasn'?t|weren'?t|was not) around\b[^.?!]{0,40}\b(wouldn'?t have to|could|would(n'?t)? be)\b|\b(play|do|manage) (better|fine) without me\b|"
       r"\b(sad|upset|cry) for (like )?a (week|day|bit|while) and then (relieved|fine|over it|move on)\b|\b(they|everyone|we)('?d| would)( all)? be better off\s*([.!]|$)|"
       r"\bcosting (the nhs|everyone|them|the \w+) a fortune\b|\bsave everyone the (trouble|fuss|bother)\b(?! of)|\bdoing (us|them|everyone) a favour by (dying|going|not being)\b",
       negatable=False),
    _r("suicide", "elevated", "sees no reason to live",
       r"\bwhat am i (even )?(living|here|alive|still here) for\b|\bwhat'?s the point of (me|waking up|getting up)( now| anymore| any more)?\s*([?.!]|$|honestly|\w+ there)|"
       r"\b(was|were) (my|the) (only )?reason (for living|i'?ve stayed|i stayed|i kept going|to live)\b|\bonly (thing|reason) (keeping me going|i'?ve stayed)\b[^.?!]{0,60}\b(now|gone|banned|left|died|lost)\b|"
       r"\bwhy (am i|should i|i should) (even )?(still here|stay alive|keep living|be alive)\b|\bno point to me\b|\b(don'?t|dont|do not) see (any|a|the) (reason|point) to be (here|alive)\b|"
       r"\beveryone i loved is (dead|gone)\b|\bwithout (her|him|them|the \w+)\b[^.?!]{0,20}\b(don'?t|dont) see (why|the point|any reason)\b",
       negatable=False, defused_by=LEAVING),
    _r("suicide", "elevated", "is saying goodbye",
       r"\b(goodbye|good-bye|suicide) (letters|notes|messages|videos?)\b|\b(hear|say|tell)\w* (it|them|him|her)\b[^.?!]{0,15}\bone last time\b|"
       r"\bsorry\b.{0,60}\b(he|she|they)('?ll| will) understand (one day|when (he'?s|she'?s|they'?re) older|someday|some day|eventually)\b|"
       r"\bif i (don'?t|dont|never) (log in|log on|ring|call|show up|come online|message|text|reply)\b.{0,60}\b(just know|don'?t worry|dont worry|better (that|this) way|you were|the best)\b|"
       r"\b(not|don'?t) (to )?expect me back\b|\b(won'?t|wont|will not) be (around|here)( anymore| any more)?\s*([.!]|$)|"
       r"\b(not planning|don'?t plan|dont plan|not going) on being (here|around)\b|\bsorry for everything\b[^.?!]{0,30}\blove\b|"
       r"\b(rang|rung|called|phoned) (round )?(all )?(the family|everyone|mum|my \w+)\b[^.?!]{0,30}\b(say|tell)\w* (i|that i) lov\w*\b[^.?!]{0,60}\b(last time|right time|first time in)\b|"
       r"\b(video|post|message)\b[^.?!]{0,30}\bexplaining why\b|\bwanted to say that properly,? just in case\b|"
       r"\b(letters?|notes?)\b.{0,40}\b(somebody|someone|whoever)('?ll| will)? finds?\b|\bfor whoever finds\b|\bwon'?t need you after\b",
       negatable=False, defused_by=LEAVING),
    _r("suicide", "elevated", "gives things away or puts affairs in order",
       r"\b(gave|given|giving|handing|handed|signed|taken|took)\b.{0,80}\b(i'?ve no (need|use)|i have no (need|use)|no (need|use) (of|for) (him|her|it|them|a \w+) now|"
       r"doesn'?t matter anymore|doesnt matter anymore|(may|might) as well have (them|it) now|rather than later|more use (out )?of (it|them) than me\b[^.?!]{0,20}\bsoon|"
       r"for good\b.{0,60}\bnobody to|nobody to \w+ (them|it|her|him) after|won'?t be here to)|"
       r"\bgiving (his|her|their|my) (guns|rifles|firearms|medals|tools|jewell?ery|things|stuff|clothes) away\b|\bgiving my (clothes|guns|medals|jewell?ery) (away )?to\b|"
       r"\b(cancel(l?ed)?|stopped) the (papers|paper|milk)\b[^.?!]{0,60}\b(won'?t be|nobody|no one|anyone)\b|\bthere won'?t be anyone here\b|"
       r"\b(deeds|will|bank book|funeral plan|passwords)\b.{0,80}\b(envelope|on the table|in the (top )?drawer|finds? them|where (everything|it) is)\b|"
       r"\b(sorted|done|changed|updated) (the|my|his|her) will\b.{0,100}\b(paid|bills?|in advance|where everything is|by friday|that'?s everything|won'?t say why)\b|"
       r"\bpaid (his|her|my) (bills|tab|rent) (a year )?in advance\b|\bleft instructions (for|about) (the )?(funeral|dog|cat|kids)\b|\bnothing left hanging\b|"
       r"\b(cleared|deleted) (my|all my) (search history|drafts|messages|photos)\b[^.?!]{0,40}\b(no one|nobody|so)\b|\bso (my parents|no one|nobody) (don'?t|doesn'?t|has to|have to)? ?(find|see)\b|"
       r"\bpaid back everyone\b|\bwho to call about\b[^.?!]{0,30}\bafter\b|\b(dog|cat) is (hers|his|yours|theirs) now\b|\bremind (my \w+|her|him) that the (dog|cat)\b",
       negatable=False, defused_by=LEAVING),
    _r("suicide", "elevated", "is suddenly calm after deciding",
       r"\b(made|make) my peace with it\b|\bat peace with it( now)?\b|\b(figured|worked) it (all )?out\b[^.?!]{0,5}.{0,40}\bworry about me\b|\bworry about me\b.{0,40}\b(all sorted|figured it out|very soon|fine soon)\b|"
       r"\bi know (it'?s|its) (ending|over|going to end) soon\b|\bwon'?t have to deal with (any of )?(it|this|anything)\b[^.?!]{0,20}\b(much longer|soon|anymore)\b|"
       r"\b(because|since|now that) i (finally )?(decided|know what i'?m doing|figured it out)\b(?! (to|on|what|which|that|whether|if|between|against))|"
       r"\bi know exactly what i'?m doing\b|\b(all|everything)('?s| is) (going to be|gonna be) fine very soon\b",
       negatable=False, defused_by=LEAVING),
    _r("suicide", "elevated", "asks about a way to die",
       r"\b(quickest|easiest|best|least messy) way\b[^.?!]{0,30}\bto go\b(?! (to|by|and|home|back|there|into|out))|"
       r"\b(at once|all (my|of|the)|\.22|\.303|calibre|gauge)\b[^.?!]{0,40}\bwould (that|it|this|a \S+) be enough\b|\bwould a \.\d+ be enough\b|"
       r"\b(insulin|morphine|pills|tablets|patches|antidepressants|\.22)\b[^.?!]{0,30}\bwould (do it|be enough|work)\b|\bhow many\b[^.?!]{0,40}\bwould (actually )?be dangerous\b|"
       r"\b(stop|stopping|stopped) (your|my|his|her) (heart|blood pressure) (pills|tablets|meds)\b[^.?!]{0,30}\b(happens?|quick|die|go)\b|"
       r"\bhow long does it take if (you|i) (just )?stop (eating|drinking|taking)\b|\bhow long does it take with the exhaust\b|\bexhaust\b[^.?!]{0,30}\b(shut up tight|closed up|sealed)\b|"
       r"\b(how (high|tall)|high enough)\b[^.?!]{0,40}\b(car park|multi-?storey|bridge|cliff|tower block|flats)\b|\b(car park|multi-?storey|bridge|cliff)\b[^.?!]{0,30}\bhigh enough\b|"
       r"\bwatching videos (about|of) how people do it\b|\bwhich (pills|tablets)\b[^.?!]{0,50}\b(work fastest|would work)\b[^.?!]{0,30}\btonight\b",
       negatable=False, defused_by=re.compile(r"\b(dog|cat|puppy|horse|mare|vet|child|toddler|baby|bungee|abseil\w*|climb\w*)\b", re.I)),
    _r("suicide", "imminent", "has the means at hand",
       r"\b(run|ran|running|hooked|taped|fed)\b[^.?!]{0,15}\b(the |a )?(hose|pipe|tube)\b[^.?!]{0,30}\b(exhaust|into the (cab|car|window))\b|"
       rf"\b{_WEAPON}\b[^.?!]{{0,40}}\b(across my (knees|lap)|on my (knees|lap)|in my mouth)\b|\bfound the (cartridges|bullets|ammo|shells)\b|\bgun safe code\b|"
       r"\b(rope|noose)\b.{0,60}\b(know exactly where the beam|measured the beam|the beam is|over the beam|from the beam)\b|\bmeasured the beam\b|"
       r"\b(morphine|insulin|patches|sleeping (tablets|pills)|paracetamol|pills|tablets)\b.{0,80}\b(keep taking it out|looking at (it|them)|how much would do it|in front of me|on the (table|bench)|nobody knows about|here on the)\b|"
       r"\b(kept|keeping) back (my |her |his )?(\w+ )?(insulin|tablets|pills|morphine|meds|patches)\b|\bkeeping them in a jar\b|\bstopped handing (the|my) (pills|tablets|meds) back\b|"
       r"\b(putting|put|been putting) (them|her tablets|his tablets|my tablets|her pills|my pills|his pills) by\b|\b(box|boxes|bottle) of (the )?\w*'?s? ?(sleeping )?(tablets|pills|paracetamol)\b[^.?!]{0,40}\b(bottle of|whisky|rum|vodka|wine)\b|"
       r"\bpicture of (pills|tablets|a rope|a gun|his wrists?|her wrists?)\b|\b(keys|key to the (gun )?cabinet)\b[^.?!]{0,40}\.?[^.?!]{0,40}\bthink about (that|it) a lot\b|"
       r"\bguns? (are|is) still\b.{0,80}\bthink about (that|it)\b|\bknow where my parents keep (their|the) (medication|pills|tablets|gun)\b",
       negatable=False, defused_by=STORY_ROUTINE_OR_RECOVERED),
    _r("suicide", "imminent", "has a plan or a time",
       r"\bthat'?s when (i'?ll|i will|i'?m (going to|gonna)) (do it|go)\b|\b(i'?ve )?picked the day\b(?! (for|to|of|we|when))|\bi'?ve decided that'?s when\b|\b(i'?ve|i have) got it planned( out)?\b|"
       r"\b(going to|gonna|i'?ll|i will)\b[^.?!]{0,60}\b(and (just )?(not|never) come back|that'?s the end of it|and just keep going|and that'?s me done)\b(?! (till|until|for|before|'?til))|"
       r"\b(walk|walking|wade|swim) (out )?(into|in) the (sea|river|lake|water|ocean)\b[^.?!]{0,30}\b(tonight|when it'?s dark)\b|"
       r"\b(take|taking|swallow|swallowing) (them|these|those|the lot|the whole lot) (all )?(tonight|at once|in one go)\b(?! (to|out|for|with|round|shopping|swimming|camping|bowling))|\bi'?m (just )?waiting till (she|he|they) (goes|go|leaves?)\b[^.?!]{0,20}\bthat'?s it\b|"
       r"\bdrive (the|my) (\w+ )?into (a|the) (pylon|tree|wall|river|truck)\b|\b(friday|saturday|sunday|monday|tuesday|wednesday|thursday|tonight|tomorrow)'?s as good a day as any\b|"
       r"\bbeen planning it since\b|\bonly thing left is to (choose|pick) when\b|\bnobody will stop me this time\b|\bparked (up )?(at|on) the (top floor|lookout|cliff|bridge)\b.{0,60}\b(note|keys|last)\b",
       negatable=False, defused_by=LEAVING_OR_STAGE),
    _r("suicide", "elevated", "has tried before and the wish is back",
       r"\b(tried (it|before|twice|once|to (end|kill|take|gas)|with (pills|the|a))|when i tried|attempt\w*|overdos\w*|took an overdose|pumped my stomach|cut my wrists|in my mouth|gas myself|did it once|the branch broke|scars from)\b"
       r".{0,120}\b(wish(ed)? (she|he|they|\w+) (hadn'?t|had not|didn'?t)|sorry it didn'?t work|should have let me|(better|proper) job of it|trying again|thoughts came back|back feeling like that|"
       r"feeling like that again|(is|'?s) still there|so is the feeling|still think about)\b|\btried to (take (her|his) own life|kill (herself|himself))\b.{0,80}\bagain\b",
       negatable=False),
    _r("suicide", "elevated", "speaks of someone else wanting to die",
       r"\b(wants?|wanting|going) to (unalive|top|off) (himself|herself|themselves)\b|\b(throw|throwing) (himself|herself) (off|in front|under)\b|"
       r"\b(shotgun|gun|rifle|rope|pills)\b.{0,60}\bbe done with it\b|\bready to go and join (his|her) (wife|husband)\b|\bgo and join (his|her) (late )?(wife|husband)\b|"
       r"\b(say|saying|says)\b[^.?!]{0,20}\b(he'?s|she'?s) going to take the boat out and not come back\b",
       negatable=False, defused_by=PAST_HELPING_OR_FICTION),
    _r("suicide", "imminent", "someone else is in danger now",
       r"\b(saying|said|says) (sorry|goodbye) and (goodbye|sorry)\b|\btexted (me|us) goodbye\b|\b(location|find my \w+)\b[^.?!]{0,30}\b(cliffs?|bridge|tracks|river|reservoir|quarry)\b|"
       r"\bon the (phone|line) (to me )?from the (bridge|cliff|roof|ledge)\b(?= and|,|\.|$| he| she| saying)|\b(he|she) says (he'?s|she'?s) going over\b",
       negatable=False, defused_by=OTHERS_EXPLAINED),
    # written on tune_j, tune_k, tune_l (session 6)
    _r("suicide", "elevated", "asks about a way to die",
       r"\bdoes (the |a |an )?(car|ute|diesel|petrol)\b[^.?!]{0,50}\b(garage|exhaust|hose)\b[^.?!]{0,30}\bwork\b|\bdoes (the |a )?(exhaust|hose)\b[^.?!]{0,50}\bwork\b|"
       r"\b(what|how much) (height|drop|fall)\b[^.?!]{0,50}\b(to be sure|survivable|fatal|for a person|definitely)\b|"
       r"\b(tox(icology)? (screen|report)|post-?mortem)\b[^.?!]{0,40}\b(pick up|detect|show up|find)\b", negatable=False, defused_by=PAST_HELPING_OR_FICTION),
    _r("suicide", "elevated", "does not expect to be alive",
       r"\bwon'?t be (around|here) to (argue|deal with|care|worry|find out|pay|explain|face|sort|clean up)\b|"
       r"\bnot (planning|going|expecting|intending) (on|to) (see|seeing|make it to|making it to|be around for|being around for) "
       r"(\d+|the day after|next (year|week|month|christmas|birthday|spring|summer)|christmas|my (next )?birthday|the (new year|spring|summer|winter)|another (year|winter|birthday|christmas))\b|"
       r"\b(clock(ing)? off|go(ing)? 10-7) (permanently|for good|forever)\b|\b(take|taking|took) (the|my) (boat|tinny|dinghy|kayak)\b[^.?!]{0,60}\b(not (bringing (her|it|myself) back|coming back)|forget to come (in|back|home)|won'?t be coming back)\b|"
       r"\bi'?m ending it\b(?! with)|\b(just )?a matter of when now\b|\bit'?s easy when you know it'?s (nearly|almost) over\b|\bthere aren'?t many (shifts |days )?left\b[^.?!]{0,20}\b(anyway|good|fine)\b",
       negatable=False, defused_by=LEAVING_OR_PAST),
    _r("suicide", "elevated", "wishes not to be alive",
       r"\bwouldn'?t (bother )?(to )?swerv(e|ing)\b|\bwouldn'?t mind if (the|a) (tractor|quad|car|truck|ute|bike|tree)\b[^.?!]{0,30}\b(rolled on|hit|fell on|crushed|got) me\b|"
       r"\bif i hit a tree,? i hit a tree\b|\bhalf hop(e|ing)\b[^.?!]{0,40}\b(finds? something|something bad|bad news)\b|"
       r"\b(since|now) i('?ve)? (made up my mind|decided)\b[^.?!]{0,40}\b(relie\w*|calm|peace|good sleep|lighter)\b|\b(relie\w*|calm|at peace|lighter)\b[^.?!]{0,40}\bsince i (made up my mind|decided)\b",
       negatable=False, defused_by=LEAVING_OR_PAST),
    _r("suicide", "elevated", "feels a burden to others",
       r"\b(i'?m|i am) (just )?(the|an|a) (\w+ ){1,2}(dragging|pulling) (them|everyone|the lot of them|my family|the family|us all|the whole lot)( of them)? (down|under)\b|"
       r"\b(i'?m|i am) (just )?(dragging|pulling) (them|everyone|my family|the family|the lot of them|us all) (down|under)\b", negatable=False),
    _r("suicide", "elevated", "has tried before and the wish is back",
       r"\b(tried|attempt\w*|overdos\w*|survived|went off|drove into|jumped)\b.{0,120}\b((still )?(kinda |a bit )?(mad|angry|gutted|disappointed) (that )?it (didn'?t|did not) work|"
       r"should(n'?t)?( have|'?ve) finished (it|the job)|not sure i'?m glad|bad luck,? not good|(it'?s|the (pull|urge|thoughts?|feeling)('?s| is| are)) (all )?back|"
       r"feel(ing)? (exactly )?(how|like) i did (then|before)|still (want|wanna) (out|to die|to go)|(same |the )(pull|urge|feeling) (again|is back|'?s back))\b|\bi still think i should(n'?t)?( have|'?ve) finished it\b",
       negatable=False),
    _r("suicide", "elevated", "puts affairs in order",
       r"\b(life (policy|insurance|cover)|policy)\b[^.?!]{0,40}\b(two[- ]year|suicide) (clause|exclusion)\b|\bpast the (two[- ]year|suicide) clause\b|"
       r"\b(squar\w*|pa(y|id|ying) off|settl\w*|clear\w*)\b[^.?!]{0,40}\b(debts?|tabs?|bills?)\b.{0,60}\bleave (it|things|everything) (clean|tidy|sorted|square)\b",
       negatable=False),
    _r("suicide", "imminent", "has the means at hand",
       r"\b(morphine|fentanyl|midaz\w*|ketamine|pentobarb\w*|lethabarb|green dream|sux|vials?|ampoules?)\b[^.?!]{0,40}\b(home|wastage|in (my|a) (bag|car|locker|glovebox|lunchbox))\b|"
       r"\b(pocket\w*|nick\w*|steal\w*|stole|swip\w*|squirrel\w*)\b[^.?!]{0,15}\b(morphine|fentanyl|midaz\w*|ketamine|opioids?|oxy\w*|pentobarb\w*|vials?|ampoules?)\b|"
       r"\b(sav(ing|ed)|stockpil\w*|hoard\w*|collect(ing|ed)|stash\w*)\b[^.?!]{0,20}\b(my |the |all my )?(antidepressants|anti-depressants|sleepers|sleeping (pills|tablets)|benzos|diazepam|valium|opioids?|oxy\w*|morphine|codeine)\b|"
       r"\b(shotgun|gun|rifle|pistol)\b[^.?!]{0,40}\bnot for (the )?(foxes|rabbits|roos|deer|pests|vermin|hunting|the range|work|the farm)\b|"
       r"\b(paraquat|drench|cyanide|strychnine|the drum|chemicals?)\b.{0,80}\b(go|going|keep|kept|just|sit|sat|sitting)( out( there)?( to| and)?)? (look|looking|stare|staring) at (it|them)\b",
       negatable=False, defused_by=STORY_OR_ROUTINE),
)
MORE_SELF_HARM: tuple[Rule, ...] = (
    _r("self_harm", "imminent", HARMING_NOW,
       r"\b(bleeding|blood) more than (it )?(normally|usual(ly)?|last time|before)\b|\bmore blood than (usual|normal|normally|last time|before)\b|"
       r"\b(knife|blade|razor|scissors)\b[^.?!]{0,20}\b(digging|dug|pressing) into my\b|\bbanging my head (on|against)\b[^.?!]{0,30}\bcan'?t stop\b|"
       r"\b(got|taken|took) (the|a|my) (razor|blade|stanley knife|knife|scissors) out\b[^.?!]{0,40}\bfeel\b|\bjust (burned|burnt|cut) my \w+\b[^.?!]{0,30}\bon purpose\b",
       negatable=False),
    _r("self_harm", "elevated", "harms themselves",
       rf"\b(on|my) {_SELF_PART}\b[^.?!]{{0,20}}\b(where|so) (nobody|no one|no-one) (sees|can see|will see|notices|looks)\b|\bnobody knows about my (thighs|arms|legs|wrists|scars|cuts)\b|"
       rf"\b(did|done|started) (it|the thing|that) again\b.{{0,60}}\b{_SELF_PART}\b|\b(scratch|punch|hit|bang)\w*\b[^.?!]{{0,30}}\b(till|until) (i|my \w+) (bleed|split|bruise)\w*\b|"
       r"\b(hit|hitting|bang|banging|smash|smashing) my head (against|on) the (wall|floor|door|steering wheel)\b[^.?!]{0,30}\b(when|till|until|every time)\b|"
       rf"\b(burn(ed|t)?|cut|scratch(ed)?|hit|punch(ed)?|slam(med)?) my {_SELF_PART}\b[^.?!]{{0,40}}\bon purpose\b|"
       r"\bon purpose\b.{0,60}\bfeel (something|anything)\b|\bfeel (something|anything)\b.{0,60}\bon purpose\b",
       negatable=False, defused_by=re.compile(r"\b(tattoo|birthmark|mole|rash|piercing|eczema|gym|squats|workout|tan|stretch marks)\b", re.I)),
    _r("self_harm", "elevated", "someone else is harming themselves",
       r"\b(been |is |'?s |keeps? )(cutting|burning|hurting|harming) (himself|herself|themselves)\b|"
       r"\b(girlfriend|boyfriend|friend|sister|brother|daughter|son|she|he) cuts\b(?! (hair|the|his|her|my|a|up|out|off|in|through|it|wood|grass|class|corners|back))|"
       r"\bhitting (his|her) own (legs|arms|head)\b",
       negatable=False, defused_by=PAST_HELPING_OR_FICTION),
    # written on tune_j, tune_k, tune_l (session 6)
    _r("self_harm", "imminent", HARMING_NOW,
       r"\b(currently|rn|right now|atm)\b[^.?!]{0,10}\bcutting\b(?! (my|his|her|the|a|some|up|out|back|down|off|it)\b)|\bcutting (rn|right now|atm)\b|"
       r"\b(lighter|flame|cigarette|blade|knife|razor)\b[^.?!]{0,20}\b(against|on|to|into) my (arm|wrist|leg|thigh|skin|hand|stomach)\b[^.?!]{0,30}\b(now|as i (type|write|talk)|right now)\b",
       negatable=False, defused_by=STORY),
    _r("self_harm", "elevated", "harms themselves",
       r"\b(put|putting|hold|holding|press\w*|keep putting) my (bare )?(hand|arm|palm|fingers?)\b[^.?!]{0,20}\b(on|against) the (hot )?(exhaust|stove|hob|iron|oven|kettle|forge)\b|"
       r"\b(scratch|scrub|scrape|claw)\w* (myself|my (skin|arms?|legs?|face)) (raw|bloody|till it bleeds|until it bleeds|till i bleed|until i bleed)\b|"
       r"\bsh is the only\b|\bsharpener blade\b|\bblades? (out of|from) (my|the|a) sharpener\b|\bjust to feel (it|something|anything)\b[^.?!]{0,40}\b(hot|burn|exhaust|stove|blade|cut)\w*\b|"
       r"\b(hot|burn|exhaust|stove|blade|cut)\w*\b[^.?!]{0,80}\bjust to feel (it|something|anything)\b",
       negatable=False, defused_by=re.compile(r"\b(accident\w*|by mistake|oops|eczema|dermatitis|rash|tattoo|chef|cooking|welding)\b", re.I)),
)
MORE_HARM_TO_OTHERS: tuple[Rule, ...] = (
    _r("harm_to_others", "imminent", "is about to hurt someone",
       rf"\b{_WEAPON}\b.{{0,100}}\b(sort (him|her|them) out|waiting for (him|her|them)|(his|her|their|her new \w+'?s?|the \w+'?s) (house|place|gate|work|car|new place)|outside the (school|gym|house)|"
       r"what it feels like|regret|feel what i feel|(he'?s|she'?s) just come home|one way or another)\b|"
       rf"\b(sort (him|her|them) out|waiting for (him|her|them)|parked across from|outside the (school|gym)|heading over|go(ing)? round there|driving to (his|her))\b.{{0,100}}\b{_WEAPON}\b|"
       r"\b(he'?s|she'?s) tied up in (the|my) (shed|garage|boot|basement|cellar|barn)\b|\bpay (him|her|them) a (little )?visit\b[^.?!]{0,20}\bwith (the|a|my)\b",
       negatable=False, defused_by=STORY),
    _r("harm_to_others", "elevated", THOUGHTS_OF_HARM,
       r"\b(thoughts?|thinking|thought|think|urge|picture|picturing|fantasi\w+|imagine|imagining|keep seeing)\b[^.?!]{0,40}\b(push(ing)? (him|her|them|my \w+) (down|off|under|in front)|"
       r"(his|her|their|the \w+'?s) head through|burn(ing)? (his|her|their) (house|place|car) down|take out (the|that|a) (bloke|guy|man|woman|kid)|giving (him|her|mum|dad) all (his|her) (pills|tablets|insulin))\b|"
       r"\b(i'?ll|i will|i'?m (going to|gonna)) (kill|hurt|shoot|stab) (him|her|them)\b[^.?!]{0,40}\b(i mean (that|it)|not (joking|kidding)|that'?s a promise|dead serious)\b|"
       r"\bmake sure (he|she|they) (never|won'?t) (walks?|see|breathes?) again\b|\bsomeone'?s (going to|gonna) get hurt\b[^.?!]{0,40}\bi'?m the one\b|"
       r"\b(don'?t|do not) know what i'?(ll|d) do to (him|her|them)\b|\bbefore i do something to (him|her|them)\b|\b(scared|afraid|frightened|terrified) of what i'?(ll|d)? (might )?do\b|"
       r"\bnext time i (won'?t|will not) (let go|stop)\b|\bshook (her|him|them) (hard|so hard|really hard)\b|\bi shook (her|him)\b|\b(i )?(lock|locked) (dad|mum|mom|him|her|them|my \w+) in (his|her|their|the) room\b|"
       r"\bgiv\w* (him|her|mum|dad) (all (his|her) (pills|tablets|insulin|morphine)|the lot)\b[^.?!]{0,40}\b(at once|over|together|mine)\b|\bthen take mine\b|"
       r"\b(we should|we'?ll|we could|we will) go together\b(?! (to|on|in|for|and|next|this|with|as))|\b(shoot|kill) (her|him|them|us) and then (himself|herself|myself|me)\b|"
       r"\b(i'?ll|i will|i'?m gonna|i'?m going to|i swear i'?ll) find (out )?where (he|she|they) (lives?|stays?)\b|\b(i'?ve (started|been)|i keep|i started) following (him|her|them) home\b|\blist of (people|everyone|names)\b[^.?!]{0,30}\b(wronged|hurt|did)\b|"
       r"\b(stood|standing) over (him|her|them)\b.{0,60}\b(pillow|knife|hurt|easy)\b|\bnever wanted to (hurt|kill) (someone|anyone|anybody|\w+) (so much|more)\b|"
       r"\b(he|she|they)('?s| is| are|'?re)? (going to|gonna|'?ll|will) regret what (he|she|they) did\b|\b(want|make) (him|her|them) (to )?(know|feel) what it feels like to be (scared|hurt|afraid|frightened)\b",
       negatable=False, defused_by=STORY),
    # written on tune_j, tune_k, tune_l (session 6)
    _r("harm_to_others", "imminent", "is about to hurt someone",
       r"\b(gun|knife|rifle|pistol|shotgun)\b.{0,60}\b(bring|bringing|take|taking) it to (school|class|work|college)\b|"
       r"\b(bring|bringing|take|taking) (a|the|my|his|her)( dad'?s| mum'?s| brother'?s)? (gun|knife|rifle|pistol|shotgun) to (school|class|work|college)\b|"
       r"\b(going|go|heading|drive|driving) (to|round to|over to) (his|her|their) (house|place|flat)\b[^.?!]{0,30}\b(beat|hurt|kill|stab|smash)\b|"
       r"\b(shotgun|gun|rifle|pistol)\b.{0,60}\bwaiting for (the|those|that) \w+( \w+)?\b|\bwaiting for (the|those|that) \w+( \w+)? with (the|a|my) (shotgun|gun|rifle|pistol)\b",
       negatable=False, defused_by=re.compile(r"\b(fox|foxes|rabbits?|roos?|deer|ducks?|pigeons?|vermin|rats?|hunt\w*|range|cook\w*|food tech|chef|film|movie|game|book)\b", re.I)),
    _r("harm_to_others", "elevated", THOUGHTS_OF_HARM,
       r"\bwhat i'?d do to (him|her|them|the \w+|my \w+) if i (got|had|caught)\b", negatable=False, defused_by=STORY),
)
MORE_ABUSE: tuple[Rule, ...] = (
    _r("abuse", "imminent", "is in danger from someone now",
       r"\b(banging|kicking|hammering|pounding) on (my|the|our) (\w+ )?door\b|\bnot supposed to know where i am\b|\bfound the (bag|suitcase|money) i (packed|hid|had hidden)\b|"
       r"\b(he'?s|she'?s|he has|she has) (got|taken|took|grabbed) (the kids and )?(the|a|his|her) (gun|shotgun|rifle|knife|pistol)\b|"
       r"\bby (her|his|my) throat\b|"
       r"\b(smashing|breaking) (things|everything|the place)\b[^.?!]{0,30}\bhelp\b|\bblood on (her|his|my) face\b|\b(locked|locks) the (front )?door and (he|she) won'?t let me\b|"
       r"\bchair (against|under) (it|the door)\b|\bshoving (him|her|me) (about|around)\b",
       negatable=False, defused_by=STORY),
    _r("abuse", "elevated", "is hurt or controlled by someone",
       r"\b(won'?t|doesn'?t|will not) let me (out|go out)\b|\b(taken|took|takes|keeps) my (purse|wallet|door key|keys)\b|\bi'?m not to go out\b|"
       r"\bnot allowed to (see|go to) (a|the|my) (doctor|gp)\b|\banswers for me\b|\bnot allowed to eat\b|\btouch(es|ed|ing)? me in ways\b|\btouch(es|ed)? me\b[^.?!]{0,30}\buncomfortable\b|"
       r"\b(grabbed|grabs|twisted|squeezed) my (arm|wrist|hand)\b[^.?!]{0,40}\b(hard|bruise\w*|purple|black|marks?)\b|\b(is|gets|was|'?s) (rough|nasty) with me\b|"
       r"\b(don'?t|doesn'?t|won'?t) (feed|wash|change) me\b|\bleave me (wet|soiled|dirty|in my own)\b|\bsign(ed)? over (the|her|his|my) (house|home|bungalow|savings|pension)\b|"
       r"\btaken the phone (out of|from) my room\b|\b(husband|wife|partner|boyfriend|girlfriend|bloke|dad|father|stepdad|son|brother)('?s)? (choked|strangled|punched|kicked|slapped|shoved) (her|him|my \w+)\b|"
       r"\b(had|pointed|held|put) (it|the gun|a gun|the pistol|the rifle|the knife|a knife) (on|at) me\b|\b(order|dvo|avo|injunction)\b.{0,80}\b(guns?|firearms?|rifles?)\b|\b(guns?|firearms?)\b.{0,80}\b(order|dvo|avo|injunction)\b",
       negatable=False, defused_by=PAST_HELPING_OR_STORY),
    # written on tune_j, tune_k, tune_l (session 6)
    _r("abuse", "elevated", "is hurt or controlled by someone",
       r"\b(roughs?|roughed|roughing) me up\b|\bgot me with the (kettle|plate|pan|mug|bottle|glass|remote|iron)\b|"
       r"\b(throws?|threw|chucks?|chucked) (things|stuff|plates|bottles|glasses|mugs|the kettle|a glass|a bottle|a plate) at me\b|"
       r"\b(pins?|pinned|pinning) me down\b|\b(keeps?|kept|been) touching me\b",
       negatable=False, defused_by=re.compile(r"\b(toddler|baby|two-year-old|cat|dog|kitten|puppy|wrestl\w*|judo|jiu|bjj|sparring|tickl\w*|game|film|movie|book)\b", re.I)),
)
MORE_MEDICAL: tuple[Rule, ...] = (
    _r("medical_emergency", "imminent", MEDICAL,
       r"\b(pain|tight\w*|pressure|squeez\w*|crushing|heavy|heaviness)\b.{0,80}\b(down|into|in) my (left )?(arm|jaw)\b|\b(going|spreading|moving|gone) (down|into|up into) my (left )?(arm|jaw)\b|"
       r"\b(tightness|tight pain|crushing pain|squeezing|pressure)\b[^.?!]{0,20}\b(across|in) (my|the) chest\b|\bcrushing pain\b|"
       r"\b(face|mouth)\b[^.?!]{0,30}\b(droop\w*|gone (funny|droopy|numb)|numb|lopsided)\b|\b(can'?t|cannot|won'?t) get (his|her|their) words out\b|\bwords won'?t come\b|"
       r"\bspeech is (all )?slurred\b|\barm'?s? (gone|has gone) (dead|heavy|funny|weak)\b(?! (from|because|after))|\bmouth won'?t work\b|"
       r"\b(hit|banged|bumped) (his|her|my) head\b.{0,80}\b(throwing up|vomit\w*|being sick|sleepy|drowsy|confused|won'?t wake)\b|"
       r"\b(on the floor)\b[^.?!]{0,40}\bcan'?t get up\b|\bcan'?t get up\b[^.?!]{0,30}\b(floor|so cold)\b|\bsee (her|him) (through the window )?(lying )?on the floor\b|"
       r"\b(doesn'?t know who|talking nonsense|not making sense)\b.{0,60}\b(burning up|fever|suddenly|sweat\w*|won'?t take the sugar)\b|\bhad a hypo\b|"
       r"\bcan'?t get (any )?air in\b|\b(tablets|pills|meds|insulin|dose)\b[^.?!]{0,20}\b(twice|double)\b[^.?!]{0,40}\b(dizzy|funny|faint|sick|shaky)\b|"
       r"\bcoffee grounds\b|\b(sick|vomit\w*|throwing up|coughing up)\b[^.?!]{0,15}\bblood\b|\b(off the (grog|drink|booze)|stopped drinking)\b.{0,60}\b(shaking|seeing things|fits?)\b|\bseeing things on the walls\b",
       negatable=False, defused_by=PAST_HELPING_OR_STORY),
    # written on tune_j, tune_k, tune_l (session 6)
    _r("medical_emergency", "imminent", MEDICAL,
       r"\b(fainted|passed out|collapsed)\b[^.?!]{0,40}\b(can'?t get up|can'?t move|won'?t wake)\b|"
       r"\b(mixed|mixing)\b[^.?!]{0,30}\b(bleach|chlorine|ammonia|chemicals)\b.{0,60}\b(can'?t (get a |catch my )?breath|chest|cough\w*|dizzy)\b|"
       r"\b(snake|adder)\b[^.?!]{0,10}\b(got|bit|bitten)\b|\bworst headache of my life\b|\bthunderclap\b",
       negatable=False, defused_by=PAST_HELPING_OR_HYPERBOLE),
)

# Written on tune_m (session 7): a midwife's and health visitor's night line. Emergencies in lay words (after a
# birth, late in pregnancy, in a newborn or a small child, in someone cared for at home), harm to a baby or to the
# person cared for, and an exhausted parent's goodbyes. Each family has a hard negative beside it in the tests.
_N = r"(\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
_BABY_AGE = rf"(\b{_N} (days?|weeks?) old\b|\b(he|she|baby|the baby)('?s| is) {_N} (days?|weeks?)\b)"
_FEVER = (r"(\b3[89][.,]\d\b|\b(38|39|40)( ?\u00b0| degrees| ?c\b)|\btemp(erature)?\b[^.?!]{0,15}\b(3[89]|40)\b|"
          r"\bthermometer\w*('?s)?\b[^.?!]{0,15}\b(3[89]|40)\b|\bhot to (the )?touch\b|\bburning up\b)")
PARENTS_AND_CARERS: tuple[Rule, ...] = (
    _r("medical_emergency", "imminent", MEDICAL,
       r"\bclots?\b[^.?!]{0,40}\b(size of|as big as|big as)\b|"
       rf"{_BABY_AGE}.{{0,80}}{_FEVER}|{_FEVER}.{{0,60}}{_BABY_AGE}|"
       r"(?<!if )\b(he|she|baby|the baby|my (son|daughter|baby|boy|girl))('?s| is| has| went| goes)( gone| all| just| really| very)* (floppy|limp)\b|\blike a rag ?doll when i\b|\b(arms|legs|head) (just )?flop\b|"
       r"\brash\b.{0,80}\b(not|isn'?t|aren'?t|doesn'?t|don'?t|won'?t|didn'?t|never) (fading|fade|go(ing)? away|disappear\w*)\b|\b(not|isn'?t|aren'?t|doesn'?t|don'?t|won'?t) (fading|fade)\b[^.?!]{0,40}\b(glass|press\w*)\b|"
       r"\bcord\b[^.?!]{0,40}\b(hanging|coming out|can see it)\b|\bsomething hanging (down|out)\b[^.?!]{0,40}\bcord\b|"
       r"^(?=.*\b(pregnant|\d\d weeks|weeks gone|my bump|due date)\b)(?=.*\b(headache|head'?s (banging|pounding|splitting))\b).*\b(flashing lights|zig ?zags?|sparkl\w*|spots (in front|before)|blurr\w*|under my ribs|rings won'?t (come|go) (off|on))\b|"
       r"\b(not|haven'?t|hasn'?t|no)\b[^.?!]{0,20}\b(felt|feel|feeling)\b[^.?!]{0,15}\b(her|him|the baby|baby|it) (move|moving|kick\w*)\b[^.?!]{0,30}\b(since|all day|today|for hours|this morning|last night|yesterday)\b|"
       r"\bclutch\w* (his|her|my) chest\b|\b(band|vice) (round|around|across|tightening)\b[^.?!]{0,30}\bchest\b|\bchest\b[^.?!]{0,30}\blike a (band|vice)\b|"
       r"\b(fell|fallen|rolled|dropped|tumbled)\b[^.?!]{0,40}\b(off|down|onto|from)\b.{0,100}\b(sick(ed)? up|vomit\w*|throwing up|being sick|drowsy|keeps? (dropping off|falling asleep|nodding off)|won'?t wake)\b|"
       r"\b(sick|vomit\w*|bringing up|brought up|brings up)\b.{0,80}\b(bright|grass|dark|bottle) green\b|"
       r"\b(swallow\w*|chewing|in (his|her) mouth)\b.{0,60}\bbatter(y|ies)\b|\bbatter(y|ies)\b.{0,60}\bswallow\w*|"
       r"\bsoft spot\b[^.?!]{0,30}\b(sunk|sunken|dipped|gone in|sinking)\b|\b(only )?one wet nappy\b|\bno wet nappies\b|"
       rf"{_FEVER}.{{0,80}}\b(talking nonsense|not making sense|confused|delirious|won'?t wake|floppy)\b|"
       r"\bchoking\b.{0,60}\b(not making (a|any) (sound|noise)|can'?t (cough|breathe|cry)|going (red|blue|purple))\b|"
       r"\b(got into|eaten|ate|swallowed|chewed|drunk|drank|sucking on)\b[^.?!]{0,20}\b((the|some|a) )?((dishwasher|washing|laundry) (tablets?|pods?|capsules?|liquid)|liquitabs?|detergent|bleach|e-?liquid|weed ?killer|slug pellets)\b|"
       r"\b(whistl\w*|high[- ]pitched|squeaky) (noise|sound|breathing)\b[^.?!]{0,40}\b(sat still|resting|at rest|even when)\b|\b(tummy|ribs|chest|neck)('?s)?\b[^.?!]{0,15}\b(sucking|sucks|pulling|dipping|dips) in\b|"
       r"\ba dip under (his|her) ribs\b|\bgrunt(ing|s)?\b[^.?!]{0,40}\b(every|each) (breath|time (he|she) breathes)\b|"
       r"\b(drowsy|breathing|patch(es)?|tablets|pills|lips|floppy|grey|blue)\b.{0,60}\b(hard to wake|(can'?t|cannot) rouse (him|her))\b|"
       r"\b(hard to wake|(can'?t|cannot) rouse (him|her))\b.{0,60}\b(drowsy|breathing|patch(es)?|tablets|pills|lips|floppy|grey|blue)\b|\bbreathing'?s (really |very |gone )?slow\b|"
       r"\b(went|gone|going|turned) (a )?(greyish|grey|blue|purple)( colour)? (round|around) (his|her|the) (mouth|lips)\b|\b(she|he) (went|turned|'s gone) (all )?grey\b(?! (at|in|early|young|overnight|before|after|with))|"
       r"\bheart'?s? (is )?(fluttering|racing|pounding|going like mad)\b.{0,60}\b(can'?t catch (her|his|my) breath|faint\w*|collapsed|sit on the floor|talking nonsense)\b",
       negatable=False, defused_by=PAST_HELPING_OR_STORY),
    _r("harm_to_others", "imminent", "is about to hurt someone",
       r"\b(i|i'?m|i am) (held|put|pressed|holding|pressing)\b[^.?!]{0,15}\b(a |the |my )?(cushion|pillow|hand|blanket)\b[^.?!]{0,10}\b(on|over) (her|his|the baby'?s) (face|mouth)\b",
       negatable=False, defused_by=RECOVERED_OR_FICTION),
    _r("harm_to_others", "elevated", "has hurt or may hurt someone in their care",
       r"\bi (pinched|shook|squeezed|slapped|smacked|shoved)\b[^.?!]{0,30}\b(hard|too hard|mark|bruise)\b|"
       r"\b(giving|given|gave|give)\b[^.?!]{0,15}\b(extra|more|double)\b[^.?!]{0,40}\bso (she|he|they)('ll| will)? (sleeps?|settles?|stays? quiet)\b|"
       r"\bdon'?t trust (what i'?ll do|what i might do|myself) (with|around|near|alone with) (the baby|him|her|them|my (son|daughter|baby))\b(?!['\u2019]s)|"
       r"\bscared to be (left )?(on my own|alone) with (the baby|him|her)\b.{0,60}\b(don'?t trust|what i'?ll do|what i might do)\b|"
       r"\b(wanted|want|wanting) to put (my hand|a pillow|a cushion|the pillow|the cushion|a blanket) (over|on) (her|his|the baby'?s) (face|mouth)\b",
       negatable=False, defused_by=RECOVERED_OR_FICTION),
    _r("abuse", "elevated", "describes abuse", r"\b(he|she|they|my \w+)( \w+)? (had|grabbed|got|has|'s got) me by the (throat|neck)\b", negatable=False,
       defused_by=STORY),
    _r("suicide", "imminent", "has taken an overdose",
       r"\bi'?ve taken them\b[^?!]{0,40}\b(most|all|the whole|half) (of )?(the )?(box|packet|bottle|lot|strip)\b|"
       r"\b(most|all|half) of the (box|packet|bottle|strip)\b[^.?!]{0,30}\b(ago|minutes|an hour)\b|"
       r"\b(blister packs?|tablets|pills)\b[^.?!]{0,30}\b(popped out|all out|emptied|tipped out)\b[^.?!]{0,30}\b(into|in) a (bowl|cup|pile|heap)\b|"
       r"\b(she|he|they)('ll| will) find us both\b|\bfind us both\b", negatable=False, defused_by=STORY),
    _r("suicide", "elevated", "is saying goodbye",
       r"\bwhoever (ends up with|has|gets|looks after|takes|raises) (him|her|them|the baby|the kids)\b(?! (tonight|this weekend|on|at|for the))|"
       r"\btoo (little|young|small) to remember me\b|"
       r"\b(if|when)\b[^.?!]{0,60}\b(van|car|bus|lorry|truck|train)\b[^.?!]{0,40}\b(wouldn'?t be (the worst|so bad|a bad thing)|wouldn'?t mind|i'?d be (fine|okay|ok) with)",
       negatable=False, defused_by=LEAVING_OR_PAST),
    _r("self_harm", "elevated", "harms themselves", r"\bbit my own (hand|arm|wrist|finger)s?\b", negatable=False,
       defused_by=PAST_OR_HELPING),
)

# Written on tune_n, tune_o, tune_p, tune_q (session 8): an ambulance call handler's and out-of-hours GP line, stoic
# men, the street and recovery, and plain or literal speech (half as a recogniser writes it). Emergencies understated
# in lay words, plans said as a place and a time, threats made to the caller, and the caller's own wounds.
_NOT_IN_BETWEEN = r"(?:(?!\bnot\b|n'?t\b|\bnever\b)[^.?!])"  # no denial between the wish and what is wished for
_LEISURE = re.compile(r"\b(swim\w*|sunset|sunrise|walk(ing)? the dog|picnic|climb\w*|photo\w*|museum|train ?spott\w*|club|fireworks|"
                      r"bbq|barbecue|party|date|fishing|geocach\w*|with (my|the) (mates|friends|kids|family|dog|girlfriend|boyfriend))\b", re.I)
_ACCIDENT = re.compile(r"\b(accident\w*|by mistake|fell|fall|slipped|tripped|football|rugby|skiing|bike|trampoline|match|cooking|chef|kitchen|chess|darts|pool|cards|"
                       r"oven|shaving|gardening|brambles|work|tattoo)\b", re.I)
_HURT_BODY = r"(fingers?|arm|nose|jaw|ribs?|leg|wrist|hand|cheekbone|eye socket|collarbone)"
SESSION_8: tuple[Rule, ...] = (
    _r("medical_emergency", "imminent", MEDICAL,
       r"\b(blood|cut|wound|gash|leg|arm|hand|head)('?s| is)? (still )?(pumping|spurting|gushing|pouring)( out| blood)?\b|\bit'?s (still )?(pumping|spurting)( out| blood)?\b(?! (iron|milk|music|in here|tonight)\b)|"
       r"\b(bleeding|bled|blood('?s| has)? (coming|soaked|soaking)) (right )?through (the|a|my|his|her) (\w+ )?(towel|tea towel|rag|bandage|dressing|t-?shirt|jumper|shirt|nappy|pad)\b|"
       r"\b(he'?s|she'?s|he is|she is|they'?re|is) (fitting|seizing|convulsing|having a (fit|seizure))\b(?! (the|a|an|in|into|out|new|her|his|my|their|it|them|carpets?|kitchens?|units?|for)\b)[^?!]{0,60}\b(won'?t stop|not stopp\w*|(five|six|seven|eight|ten|\d+) (minutes|mins)|foam\w*|blue)\b|"
       r"\b(fit|seizure)('?s| has been| is)? (been )?(going|lasting|still going)\b[^.?!]{0,30}\b(five|six|seven|eight|ten|\d+) (minutes|mins)\b|"
       r"\bfitting\b[^.?!]{0,30}\bfoam\w*\b|"
       r"\b(face|mouth)('?s| has| is)? (gone |all )?(dropped|slipped|drooping|sagging|fallen)( down)? on one side\b|\bone side of (his|her|my|their) (face|mouth)\b[^.?!]{0,20}\b(dropped|drooping|sagging|fallen|slipped)\b|"
       r"\b(talking|speaking) (gobbledygook|gibberish|double dutch|nonsense|rubbish)\b[^.?!]{0,40}\b(face|arm|suddenly|all of a sudden|out of nowhere)\b|"
       r"\bstopped shivering\b.{0,40}\b(sleepy|drowsy|confused|can'?t feel|not making sense|won'?t wake)\b|\b(sleepy|drowsy|confused|can'?t feel)\b.{0,60}\bstopped shivering\b|\b(freezing|ice|stone) cold\b[^.?!]{0,40}\b(not making (any )?sense|confused|won'?t wake|so sleepy|drowsy|can'?t wake)\b|"
       r"\b(sugars?|blood sugars?|levels?|bm)('?s| is| are| has| have)? (gone |dropped |crashed |fallen )*(through the floor|really low|dangerously low|crashed|on the floor)\b.{0,60}\b(shak\w*|sweat\w*|confused|can'?t find|no (sweets|jelly|glucose|juice|dextro)|passing out|not making sense)\b|"
       r"\blike (someone|somebody|an elephant|a weight|a brick)('?s| is)? (sat|sitting|standing|pressing) on my chest\b|"
       r"^(?=.*\b(sweat\w*|chest|jaw|clammy|breath)\b).*\blike (someone|somebody|an elephant|a weight|a brick)('?s| is)? (sat|sitting|standing|pressing) on me\b|"
       r"\bbringing up\b[^.?!]{0,15}\bblood\b|"
       r"\blips\b[^.?!]{0,20}\b(gone|going|turned|are|look|looking)\b[^.?!]{0,10}\b(blue|purple|grey|a (funny|weird|strange) colou?r)\b|"
       r"\b(drank|drunk|swallowed|ate|had a (swig|drink|sip) of)\b[^.?!]{0,30}\bfrom under the sink\b|"
       r"\b(fumes|carbon monoxide|breathed in)\b.{0,80}\b(muddled|confused|not making sense|can'?t think straight|passing out|drowsy|keeps? (nodding|dropping) off)\b|"
       r"\b((i'?ve|i have|he'?s|she'?s|he has|she has)( just)? been|(i|he|she)( just)? got) (stabbed|glassed|shot)\b(?! (down|of|at|in the back|through with|for|by (a|the) camera|with|on)\b)",
       negatable=False, defused_by=_any(PAST_HELPING_OR_STORY, re.compile(r"\b(slush\w*|lolly|ice pop|sweets|lipstick|blackcurrant|ribena|berr(y|ies)|swim\w*|pool|sea|paint|film|game|flu shot|jab)\b", re.I))),
    _r("suicide", "imminent", "has taken an overdose",
       r"\balready (had|taken|took|swallowed|necked) (them|it|the lot)\b(?! (back|to|out|in|round|off|home|with|for))[^?!]{0,80}\b(all of them|the (whole )?(box|packet|bottle|lot)|(two|both) (boxes|packets))\b",
       negatable=False, defused_by=STORY),
    _r("suicide", "imminent", "has a plan or a time",
       r"(?<!sick )(?<!thank you )(?<!thank-you )(?<!fit )(?<!school )\b(the|my) (last )?note('?s| is) (written|done|finished|on the (\w+ )?(table|side|bed|pillow))\b|"
       r"\b(go|going|goin|heading|head|drive|driving|walk|walking|i will go|i'?ll go)\b[^.?!]{0,20}\b(the )?(train line|railway (line|bridge|track)|tracks|level crossing|viaduct|quarry|cliffs?|cliff top)\b[^.?!]{0,40}\b(tonight|after|when|once|later|nobody|no one|i will go)\b|"
       r"\bmy plan is (for )?(\d+|ten|eleven|twelve|midnight)( o'?clock)? (tonight|tomorrow)\b|"
       r"^(?=.*\b(gear|pills|tablets|meds|smack|heroin|spice|stash|bags?)\b).*\b(doing|do|neck|necking|bang|banging|using|use|having|take|taking) the (whole )?lot\b[^.?!]{0,10}\b(tonight|now|in one go)\b|"
       r"\b(saved|saving|kept|keeping|stashed|hidden|hid|hoarded) (them|the tablets|my tablets|the pills|my pills)\b[^.?!]{0,30}\b(blister packs?|dosette|pill ?box|prescriptions?|sock drawer)\b",
       negatable=False, defused_by=_any(LEAVING, _LEISURE, STORY, re.compile(r"\b(work|shift|job|site|digger|lorry)\b", re.I))),
    _r("suicide", "elevated", "wishes not to be alive",
       r"\b(don'?t|do not|dont) (really )?care (if|whether) i live or die\b|"
       rf"\b(hop(e|ing)|wish(ing)?|pray(ing)?)\b{_NOT_IN_BETWEEN}{{0,40}}\b(ticker|heart)\b{_NOT_IN_BETWEEN}{{0,20}}\b(packs? (it )?in|packs? up|gives? (up|out)|stops?)\b|"
       rf"\bhop(e|ing)\b{_NOT_IN_BETWEEN}{{0,50}}\b(skids?|crash(es)?|comes? off the road|goes off the road|hits? (me|a tree))\b|"
       r"\b(cross\w*) the road\b[^.?!]{0,30}\b(don'?t|dont|stopped|not) (bother(ing)? )?(to )?(look|looking|check)\w*\b(?! at)|"
       r"\b(cancer|tumou?r|lump|terminal|diagnos\w*)\b.{0,80}\bpart of me (was|is|felt) (relieved|glad|pleased|happy)\b(?![^.?!]{0,30}\b(benign|clear|nothing|fine|negative|not cancer|wasn'?t cancer|good news))|"
       r"\b(i'?m|i am|me|gonna|going to|thinking (of|about)|might)\b[^.?!]{0,25}\b(the long sleep|long walk off (the end of )?(a|the) (short )?pier)\b|"
       r"\b(pull(ing)? up stumps|hang(ing)? up my boots|call(ing)? it a day|throw(ing)? in the towel|clock(ing)? off)\b.{0,40}\b(don'?t|do not|not) mean (the|from|at|in|my) \w+|"
       r"\b(switch|turn)(ing)? myself off\b|"
       r"\bjoin (our|my) (late )?(mum|mam|mom|dad|wife|husband|son|daughter|brother|sister|kid|boy|girl|nan|gran|grandad|grandma)\b(?=\s*([.!]|$|again|up there|in heaven|wherever|he went|she went))|"
       r"\bbe with (our|my) (late|dead) \w+( again)?\s*([.!]|$)|"
       r"\bwhat'?s the point (in|of) (me )?(carrying on|going on|staying alive|being here|living|existing|keeping going)\b(?! (about|with|at|in|to|like|on|here|there|if|when|for)\b)|"
       r"\b(can'?t|cannot|dont|don'?t) see what i'?m (living|here|still here|staying|sticking around) for\b|"
       r"\b(living|life|being alive)('?s| is) (just )?not worth it\b(?! (without|for|if))",
       negatable=False, defused_by=_any(LEAVING_OR_PAST, STORY)),
    _r("suicide", "elevated", "gives things away or puts affairs in order",
       r"\b(new home|rehom\w*)\b.{0,80}\bbefore\W*(\.\.\.|\u2026|well\b|you know\b)|"
       r"\b(gave|given|giving)\b.{0,60}\b(i'?m not (gonna|going to) be (needing|using|around)\b(?! for a (while|bit|few))|not (gonna|going to) need)|"
       r"\b(you can have|have|take) my\b.{0,60}\b(i'?m not (gonna|going to) be|i won'?t be) (walking|going|needing \w+) (anywhere|anymore|any more)\b(?! for)|"
       r"\b(giv\w*|gave|drop\w*|hand\w*|pass\w*)\b.{0,80}\bso (nobody|no one|no-one|they don'?t) (twigs?|notices?|clocks?|cottons? on|suspects?|catches on)\b|"
       r"\b(my|all my) (favourite |best )?(things|stuff|belongings|bits)\b[^.?!]{0,30}\bwith (names|people'?s names|their names) on\b|"
       r"\b(wrote|written|writing|left) (letters|notes|cards)\b.{0,80}\b(all square|squared (up|away)|paid (it |them )?(off|back)|settled up)\b|"
       r"\b(all square|squared (up|away)|paid (it |them )?(off|back)|settled up)\b.{0,80}\b(wrote|written|writing|left) (letters|notes|cards)\b|"
       r"\b(insurance|policy)\b.{0,80}\b((not|isn'?t|wasn'?t|weren'?t) an accident|on purpose|by my own hand|self[- ]inflicted)\b|"
       r"\b(after|when|once) i'?m (not around|not here|no longer (here|around)) to (ask|tell|show|explain|sort)\b|"
       r"\bgoodbye (cards?|letters?|speech|video|messages?|notes?)\b[^.?!]{0,20}\b(for|to) (everyone|everybody|my (family|mum|mom|dad|kids|children|wife|husband|partner|parents|sister|brother)|each of)\b|"
       r"\bmy goodbye (speech|video|letter)s?\b|\bsay (good)?bye to you properly\b",
       negatable=False, defused_by=LEAVING_OR_PAST),
    _r("suicide", "elevated", "asks about a way to die",
       r"\b(most|how much|how many|what amount of|what dose of)\b[^.?!]{0,40}\b(before (it'?s|its|it is|it gets|you('?d)? (die|be dead))|would be (fatal|lethal|deadly)|to be (fatal|lethal)|fatal|lethal)\b|"
       r"\b(strongest|most dangerous|what would happen|would (it|that|they) kill|enough)\b.{0,60}\b(took|take|swallowed) (them )?(all )?(at once|in one go)\b|"
       r"\b(bleach|antifreeze|weedkiller|poison|paracetamol|pills|tablets)\b.{0,60}\b(does it|would it|will it|how long (does|would) it take to) (kill|finish) (you|me|a person|someone)\b|"
       r"\b(trains?|tracks?|bridge|rope|pills|tablets|jump\w*|drown\w*|hang\w*)\b.{0,120}\b(i'?m|i am) asking for (me|myself)\b",
       negatable=False, defused_by=re.compile(r"\b(dog|cat|puppy|horse|vet|child|toddler|baby|kids?|by (accident|mistake)|accidental\w*|germs|weeds|rats|mice|slugs)\b", re.I)),
    _r("suicide", "elevated", "feels a burden to others",
       r"\b(dead weight|a burden|a drain|the problem)\b,? (that'?s|is) (all |what )i am\b|\bme out of the picture\b|"
       r"\b(i'?m|i am) (just |only )?(a|the) problem\b.{0,60}\b(goes away|is gone|disappears|not here)\b",
       negatable=False),
    _r("suicide", "elevated", "has tried before and the wish is back",
       r"^(?=.*\b(cord|rope|tablets|pills|overdose|tried|attempt|branch|hospital|icu|stomach pumped)\b).*\b(i'?d|i would|i'?ll|i will) (do it|get it) (better|right|properly) next time\b|"
       r"\b(didn'?t|did not) work\b.{0,30}\bwish (it|they) (had|did)\b|"
       r"\b(after the (tablets|pills|overdose)|in (icu|intensive care)|had my stomach pumped)\b.{0,100}\b((it'?s )?all coming back|that same feeling|feeling it again)\b",
       negatable=False),
    _r("harm_to_others", "imminent", "is about to hurt someone",
       r"\b(burn|set fire to|torch)\b.{0,60}\bwith (him|her|them|my \w+|the (kids|baby|family|lot of them)|everyone) (still )?in (it|there|the \w+)\b|"
       r"\bput (his|her|their|all (his|her|their)|the) (tablets|pills|meds|medication|sleeping \w+)\b[^.?!]{0,20}\bin (his|her|their|the) (tea|drink|food|coffee|dinner|juice)\b.{0,30}\b(all of them|the (whole )?lot|all (his|her) (tablets|pills))\b|"
       r"\b(i'?ve|i have) got the (petrol|lighter fluid|matches)\b",
       negatable=False, defused_by=STORY),
    _r("harm_to_others", "elevated", THOUGHTS_OF_HARM,
       r"\b(i'?m|i am|i'?ll|i will|gonna|going to|want to|wanna)\b[^.?!]{0,15}\b(run (him|her|them) (over|down)(?! (to|the|for|at|in)\b)|set fire to (the|his|her|their) (house|flat|car|room|hostel|shop|place|office)|"
       r"(glass|stab|shank|bottle) (him|her|them|that \w+))\b|"
       r"\b(thoughts?|thinking|think|picture|picturing|imagine|imagining|keep seeing)\b[^.?!]{0,30}\brun(ning)? ([\w']+ ){1,4}(over|off the road)\b|"
       r"\bvoices?\b[^.?!]{0,30}\b(tell(ing)?|say(ing)?|said|want)\b.{0,60}\b(get (him|her|them) first|kill|hurt|stab|attack|punish)\b|"
       r"\bwant to kill (my [\w ]{2,12}|him|her|them)\b.{0,40}\b(i mean|not like a saying|not (a )?joke|literally|for real|not joking|dead serious)\b|"
       r"\b(he|she|they)('ll| will)? (won'?t|wont|will not) be (walking|breathing|standing)( straight| right)? (by|after|for|again|when i'?m done)\b",
       negatable=False, defused_by=_any(STORY, re.compile(r"\b(ankle|knee|hip|operation|surgery|injur\w*|broke|broken|sprain\w*|cast|plaster|physio|stroke|wheelchair|paralys\w*|game|film)\b", re.I))),
    _r("abuse", "elevated", "is hurt or threatened by someone",
       r"\b(kill|hurt) me\b[^.?!]{0,30}[.,]?\s*(and )?(i believe (him|her|them)|(he|she|they) mean[st]? it|(he|she|they)'?(ll| will) do it)\b|"
       rf"\b(he|she|they|someone|somebody|[\w']+'s \w+|(his|her|their) \w+|(the|some) (lads|blokes|guys|men))\b[^.?!]{{0,20}}\b(broke|smashed|snapped|stamped on) my {_HURT_BODY}\b|\bit'?s my (knees|legs|kneecaps|other \w+) next\b|"
       r"\b(kicking|knocking|slapping|pushing|shoving|beating) me (about|around|up)\b|"
       r"\b(someone|somebody|they|he|she|some (lads|kids|blokes))\b[^.?!]{0,30}\bset (fire|light) to my\b|"
       r"\bmakes? me (go out and )?(graft|sell|deal|carry|sleep with|shoplift|nick)\b[^.?!]{0,40}\b(debt|pay (it |him |her )?off|owe)\b|\bmakes? me (sleep with|deal for|shoplift for|nick for)\b|"
       r"\b(say|said|says|threatened)\b[^.?!]{0,20}\b(they'?ll|they will|he'?ll|he will|she'?ll|gonna|going to) ((stab|shoot|batter|glass) (my|me)|(kill|hurt) my)\b[^.?!]{0,40}\bif i (don'?t|do not|can'?t)\b|"
       r"\b(black eye|bruises?|split lip)\b[^.?!]{0,60}\.\s*it was (my|her|his) (husband|wife|partner|boyfriend|girlfriend|dad|mum|son)\b",
       negatable=False, defused_by=_any(PAST_HELPING_OR_STORY, _ACCIDENT, re.compile(r"\b(baby|bump|pregnan\w*|toddler|wrestl\w*|play\w*)\b", re.I))),
    _r("self_harm", "elevated", "harms themselves",
       r"\b(scars?|cuts?|burns?|wounds?|marks?|injur\w*)\b[^.?!]{0,30}\bself[- ]?inflicted\b|"
       r"\b(cuts?|burns?|wounds?|scratches|gash|marks)\b.{0,100}\b(i (did|do) (it|them|this|these) (to )?myself|i (did|do) (it|them) on purpose|i (always )?do (it|them|that) when)\b|"
       r"\b(bang|banging|hit|hitting|smash\w*) my head off the wall\b[^.?!]{0,40}\b(till|until|when|every|in my room)\b|"
       r"\b(blade|razor|knife|sharpener)\b.{0,80}\b(it is|it'?s|they'?re|they are) for my (legs|arms|thighs|wrists|skin|stomach)\b",
       negatable=False, defused_by=_any(RECOVERED_OR_FICTION, _ACCIDENT)),
    _r("self_harm", "imminent", HARMING_NOW,
       r"\b(went|gone|cut) (a bit |way |much )?(too deep|deeper than (i )?(meant|wanted|usual|normal|i meant))\b(?! (in|into|with|on))",
       negatable=False, defused_by=RECOVERED_OR_FICTION),
)

RULES: tuple[Rule, ...] = (SUICIDE + MORE_SUICIDE + SELF_HARM + MORE_SELF_HARM + HARM_TO_OTHERS + MORE_HARM_TO_OTHERS + ABUSE + MORE_ABUSE
                          + MEDICAL_EMERGENCY + MORE_MEDICAL + PARENTS_AND_CARERS + SESSION_8)


# Idioms that hold a crisis phrase and mean something else ("then it hit me", "hit me up"): taken out before matching.
IDIOMS = re.compile(
    r"(?<!if )\b(it|that|this|reality|the (news|penny|realisation|realization|grief|tiredness|exhaustion|jet lag))( \w+)? hit me\b|"
    r"\bhit me (up|back)\b|(^|[.!?]\s+)hit me hard\b|\b(nearly|almost|practically) (passed out|fainted)\b|"
    r"\bso (tired|cold|drunk|hungover|happy|excited|bored|numb|full)\b[^.?!]{0,10}\bcan'?t feel my (face|legs|feet|hands|toes)\b|"
    r"\bmy (mum|mom|mam|mother|nan|gran|boss|teacher)('?s| is|'?ll| will)? (going to |gonna )?kill me\b|"
    r"\bif\b[^.?!]{0,80},\s*(ring|call|phone) (111|999|911|112|the gp|the doctor|an ambulance)\b[^.?!]*[.!]\s*(got it|okay|ok|will do|right|understood)\b|\bbeats? me (at|in|to|every|hands down|easily)\b|\b(wanted|wants|want|wished|wishes) to die at home\b|\bkick(s|ed|ing)? me under the table\b|\bdie (my|his|her|their|your) (hair|roots|fringe|beard)\b|"
    r"\b(nearly|almost|practically|near enough) (had|have|having|gave me|give me) a (heart attack|stroke|coronary|fit|seizure)\b|"
    r"\b(it|that|this|what) beats me\b|\bbeats me (why|how|what|where)\b|\bpassed out\b[^?!]{0,25}\b(army|navy|raf|air force|basic training|academy|parade|police college)\b|"
    r"\b(he|she|you|they)('?ll| will|'?s going to|'?s gonna| is going to) kill (himself|herself|yourself|themselves) (one of these days|on that|doing that)\b", re.I)


_DROPPED_WHEN_PERFORMED = (STORY, STORY_OR_ROUTINE, STORY_OR_TASK, STORY_ROUTINE_OR_TASK, PAST_HELPING_OR_STORY, STORY_ROUTINE_OR_RECOVERED, LEAVING_OR_STAGE, PAST_HELPING_STORY_OR_WOMB)


def match(text: str) -> Concern:
    """The gravest pattern in one turn; several signs of hopelessness in one turn make it elevated."""
    text = IDIOMS.sub("...", " ".join(text.splitlines()))  # one line: the anchored lookaheads read all of it
    best: tuple[int, Rule, str] | None = None
    concerns = 0
    for rule in RULES:
        for m in rule.pattern.finditer(text):
            if (rule.negatable and _negated(text, m.start())) or _disavowed(text, m.start(), m.end()):
                continue
            level = rule.level
            if rule.defused_by is not None and rank(level) > rank("concern") and _defuses(rule.defused_by, text):
                if rule.defused_by in _DROPPED_WHEN_PERFORMED and PERFORMED.search(text):
                    continue  # a story on a screen or a page: nothing to keep an ear on
                level = "concern"
            else:
                concerns += level == "concern"  # a defused match is explained, not one more sign of hopelessness
            if best is None or rank(level) > best[0]:
                best = (rank(level), rule, m.group(0))
    if best is None:
        return Concern()
    found, rule, matched = best
    level = "elevated" if found == rank("concern") and concerns > 1 else LEVELS[found]
    if level == "elevated" and matched.lower().startswith("suicid") and denies(text):
        level = "concern"  # the word named beside a denial ("Memorial for Steve. Suicide. I'm not in that place myself")
    return Concern(rule.category, level, rule.reason, matched, source="rules")


def denies(text: str) -> bool:
    """The turn says outright that the caller is safe ("I'm not suicidal", "I'd never hurt him")."""
    return bool(DENIAL.search(text))


def _negated(text: str, start: int, *, words: int = 3, negation: re.Pattern = _NEG) -> bool:
    before = text[:start].split()[-words:]
    return bool(negation.search(" ".join(before)))


# Said and taken back at once, whatever the rule: "not thinking of hurting anyone", "never thought about topping
# myself", "kms (i will not)". ("Can't stop thinking of hurting him" is not: the negation must be a bare one.)
_DISAVOWED_BEFORE = re.compile(r"(^|[^'\w])(not|never|no longer)\s+((really|even|once|ever)\s+)?((having|had|got)\s+(any\s+)?)?"
                               r"((thinking|thought|thoughts|think|planning|planned|wanting|urges?)\s+(of|about|to)\s+)?$", re.I)
_TAKEN_BACK_AFTER = re.compile(r"^\W{0,3}(\(?i (will|would) not\b|\(?i won'?t\b|not literally\b)", re.I)
_DONT = re.compile(r"(^|[^'\w])(don'?t|do not|dont)\s+$", re.I)
_KNOWING = re.compile(r"(know|think|plan)\b", re.I)  # "I don't know how I'll do it" is overwhelm, not a plan


def _disavowed(text: str, start: int, end: int) -> bool:
    before = text[max(0, start - 40):start]
    return bool(_DISAVOWED_BEFORE.search(before) or (_DONT.search(before) and _KNOWING.match(text, start))
                or _TAKEN_BACK_AFTER.search(text[end:end + 20]))


def _defuses(context: re.Pattern, text: str) -> bool:
    """Context defuses a match where it is said, not denied ("I'm not retiring. Just won't need it.")."""
    return any(not _negated(text, m.start(), words=2, negation=_NOT) for m in context.finditer(text))
