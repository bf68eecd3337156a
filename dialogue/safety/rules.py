"""The lexical member of the screen: patterns for what people say in crisis, with negation ("I would
never hurt myself") and idioms ("this commute is killing me") left alone. Deterministic, < 1 ms, and
auditable by a deployment; the scorer (`scorer.py`) hears what the patterns were never written for."""
from __future__ import annotations

import re
from dataclasses import dataclass

from .risk import LEVELS, Concern, rank

_NEG = re.compile(r"\b(not|never|no|don'?t|didn'?t|wouldn'?t|won'?t|isn'?t|ain'?t|nor)\b|n't\b", re.I)


# What makes an alarming phrase innocent when the same turn says it: it is over, or it is about helping
# someone else (a match is then a concern to keep an ear on, not a crisis); a goodbye or a giveaway for a
# move, a new job or an exam.
PAST_OR_HELPING = re.compile(
    r"\b(\w+ years ago|years back|used to|back (in|then|when)|when i was (a teen(ager)?|younger|a kid|in)|in year \w+|"
    r"i haven'?t (for|since)|doing (well|great|fine|good) (now|these days)|glad i stuck around|i'?m (happy|proud|thirty|fine) now|"
    r"warning signs|prevention|support (her|him|them)|one of my (kids|students|clients|patients)|volunteer|peer support|"
    r"how (do|can|should) i (help|support|talk)|and i said no|never once|died (of|from))\b", re.I)
LEAVING = re.compile(
    r"\b(last day|retir\w*|moving|move (to|into)|new (job|phone|number|flat|house)|cake|party|airport|flight|flying|holiday|"
    r"trip|contract|exams?|chemo|semester|term|graduat\w*|emigrat\w*|abroad|on this number)\b", re.I)


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
RULES: tuple[Rule, ...] = (
    # suicide
    _r("suicide", "imminent", "states intent or a plan to end their life",
       r"\b(going to|gonna|will|plan(ning)? to|ready to|decided to|about to) (kill myself|end (it all|my life|it tonight)|take my (own )?life)"),
    _r("suicide", "imminent", "has the means ready or is saying goodbye",
       # "good[- ]?bye?": recognisers also write "good by", "good-bye"
       r"\b((wrote|written|writing) (a|my) (suicide|good[- ]?bye?) (note|letter)|(pills|rope|gun) (is|are) ready|this is (my|the) (last|final) (good[- ]?bye?|night|message)|"
       r"said good[- ]?bye? to everyone|won'?t be (here|around|alive) (tomorrow|by morning|much longer)|tonight'?s the night)", negatable=False, defused_by=LEAVING),
    _r("suicide", "elevated", "speaks of wanting to die or kill themselves",
       r"\b(kill(ing)? myself|suicid(e|al)|want(ed)? to die|wanna die|wish(ed)? i (was|were) dead|"
       r"end(ing)? my (own )?life|take my (own )?life|better off dead|tried to (kill myself|end it))", defused_by=PAST_OR_HELPING),
    _r("suicide", "elevated", "expresses not wanting to live",
       r"\b(don'?t|do not) want to (live|be alive|be here|exist|wake up)( anymore| any more)?\b|"
       r"\bno (reason|point) (to|in) (live|living|going on)|\b(everyone|they|my family|the world)('?d| would) be better off without me|"
       r"\bcan'?t go on( anymore| any more)?\s*($|[.!,])|\bwant to (sleep|go to sleep) and never wake up|"
       r"\bwant(ing)? to disappear (forever|for good)|\bgiving away (all )?my (things|stuff|belongings)|"
       r"\b(don'?t|do not|can'?t|cannot) see (the|any) (point|reason) (of|in|to) (going on|living|being alive|carrying on|keep going|life)|"
       r"\bno (reason|point) (to|in) (keep going|carry(ing)? on|be(ing)? (here|alive))|"
       r"\b(thinking (about|of)|thought about) (ending it|ending it all|not being here)|\bend it all\b|"
       r"\b(i'?d|i would) rather (not be here|be dead|not exist)|\bjust want (it all|it|everything|this|all of this) to (be over|end)\b", negatable=False, defused_by=LEAVING),
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
       r"relapsed? (on|into) (cutting|self[- ]harm))", defused_by=PAST_OR_HELPING),
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
       r"\bforced me to|\bi'?m being (abused|hurt|hit|beaten)", negatable=False, defused_by=PAST_OR_HELPING),
    # --- indirect signals, written on the development set's tuning part (the held-out parts never read) ---
    _r("suicide", "imminent", "has the means at hand",
       r"\b(sav(ing|ed)|stockpil\w*|hoard\w*|collect(ing|ed)|count(ing|ed)( out)?|sort(ed|ing) out|lined up) (up )?(all )?(my |her |his |the |of my )?"
       r"(sleeping |pain ?killer |heart )?(pills|tablets|meds|medication|painkillers|paracetamol|insulin)|"
       r"\b(pills|tablets|gun|pistol|rifle|shotgun|revolver|rope)\b[^.?!]{0,30}\b(in front of me|on the table|in my lap)|"
       r"\b(it'?s|is) loaded\b|\bengine running\b|\b(different|three|two) (shops|stores|pharmacies)\b|so nobody would (ask|stop me|notice)|"
       r"\b(got|took|have) the (shotgun|gun|rifle|pistol) out\b|\bkeep going out there and looking at it|"
       r"\b(standing|sitting|stood|sat|i'?m) (on|at) (the )?(edge|ledge|bridge|roof|cliff|tracks|platform)\b|"
       r"\b(up|went|going) (to|on) the roof of\b", negatable=False),
    _r("suicide", "imminent", "has a plan or a time",
       r"\b(tonight|tomorrow|this (week(end)?|sunday|saturday|friday)|on (sunday|saturday|friday|my birthday)|after (the|my|everyone)\b[^.?!]{0,30})[^.?!]{0,30}"
       r"\b(i'?m (going to|gonna) do it|i'?ll do it|that'?s when|it'?s (over|done)|i'?m done)\b|"
       r"\b(going to|gonna) do it\b[^.?!]{0,30}\b(tonight|tomorrow|sunday|friday|saturday|once|after|when)\b|"
       r"\b(picked|chosen|decided on) (the|a) (spot|place)\b|"
       r"\b(i'?ve|i have) (planned|worked) (it|everything) (all )?out\b|\b(worked out|know|planned) (exactly )?how i'?(ll|d|m going to) do it\b|"
       r"\bi know how i'?ll do it\b|\btonight'?s? (is )?the night\b|\bi'?ve decided\W+(it'?s )?tonight\b|\bsunday'?s the last day\b", negatable=False),
    _r("suicide", "elevated", "asks about a way to die",
       r"\bhow (many|much)\b[^.?!]{0,50}\b(would it take|to (be )?(fatal|lethal|kill|die|not wake up)|is (fatal|lethal|too many))|"
       r"\b(be|is|was) (fatal|lethal)\b|\benough to kill\b|\bto not wake up\b|\b(most )?painless way\b|\bquick(est|er) way to (die|go)\b|"
       r"\b(tallest|highest) (bridge|building|roof|car park|parking garage|cliff)\b|\bhow (high|tall)\b[^.?!]{0,40}\b(fatal|die|bridge|building|garage|roof)\b|"
       r"\bhow long does it take (to drown|to die|for (someone|somebody|a person) to die)|\bcarbon monoxide\b|"
       r"\bwhich would be quicker\b|\bwould that do it\b|\bdoes it hurt to (die|drown|overdose)", negatable=False),
    _r("suicide", "elevated", "wishes not to be alive",
       r"\b(wish|wishing|hope|hoping|pray|praying)\b[^.?!]{0,40}\b(not|never|wouldn'?t|don'?t|didn'?t) (wake up|see the morning|make it)|"
       r"\btakes? me in my sleep\b|\b(go to )?sleep (and )?(not|never) wake up\b|\bsleep forever\b|\b(stop|ceas(e|ing)) existing\b|"
       r"\bwish i'?d never been born\b|\b(want(ed)?|wanting|wish) to be dead\b|\bwant(ed)? to disappear\b[^.?!]{0,20}\b(permanently|forever|for good)|"
       r"\b(car|bus|truck|train|lorry)\b[^.?!]{0,30}\bhit (me|it)\b[^.?!]{0,40}\b(mind|okay|ok|fine|easier)|\b(mind|okay|fine)\b[^.?!]{0,30}\bif (a|the) (car|bus|truck|train) hit|"
       r"\bsomething (bad )?(would |will |to )?happens? to me\b|\bwouldn'?t (be sad|mind) if i (didn'?t|don'?t) make it|"
       r"\b(un-?aliv(e|ing)|unalive) myself|\bk ?m ?s\b|\bsewerslide\b|\bctb\b|\btop(ping)? myself\b|\boff myself\b|\byeet(ing)? myself\b|"
       r"\b(want|wanna|going|gonna|thinking about|thought about|think about) (to )?end(ing)? it\b(?! with)|\bend it all\b|"
       r"\bcheck(ed)? out for good\b|\bsigning off for good\b|\bonly (one )?way out\b|\bgo (and )?(be with|join) (him|her)\b|"
       r"\bready to go (home|now)\b|\bgo home to (god|the lord|jesus)\b|\btired of waiting\b|\bthe long walk into the sea\b|"
       r"\bnot (going to|gonna) be around (much|for) long(er)?\b|\bwon'?t be (around|here) (much|for) long(er)?\b|"
       r"\b(it|this|everything|it all)('?ll| will) (all )?(be over|stop|end|be sorted) soon\b|\bit'?s all going to (stop|end) soon\b|"
       r"\bwon'?t be long now\b|\bwon'?t matter after\b", negatable=False, defused_by=LEAVING),
    _r("suicide", "elevated", "feels a burden to others",
       r"\b(better off|easier|happier|fine|relieved|breathe easier|have (a|their|her|his) life( back)?|do better|manage fine|be better)\b[^.?!]{0,40}"
       r"\b(without me|if i (was|were|wasn'?t|weren'?t)( gone| here| around| in (it|the picture))?|if i'?m gone|when i'?m gone|if it (was|were|weren'?t)n?'?t? for me|than with me)|"
       r"\b(i'?m|i am)( just| literally| such| nothing but| only| a)* (a )?(burden|dead weight|drain on|weight (on|round|around)|cost to)\b|"
       r"\b(stop|quit) being a (problem|burden)\b|\bwon'?t be a (problem|burden)\b|\btaking myself out of the equation\b|"
       r"\bnobody (has|needs|will have) to worry about me\b[^.?!]{0,15}\b(again|anymore|ever)|\bsoon i won'?t be\b", negatable=False),
    _r("suicide", "elevated", "sees no reason to live",
       r"\b(no|any|one|single|a) (reason|point)\b[^.?!]{0,30}\b(keep going|to live|living|being (here|alive)|stay(ing)?|sticking around|get(ting)? up|carry(ing)? on|going on|me being here)|"
       r"\bnothing (left )?(for me|to live for|to get up for)\b|\b(don'?t|do not) have (anything|anyone|a future|any future|nothing) (to live for|to get up for)|"
       r"\bwhat am i (staying|living|still here) for\b|\bwhy i should (stay|keep going|live|be here)\b|\bpoint (of|in) (being alive|living)\b|"
       r"\bonly reason i was still\b", negatable=False),
    _r("suicide", "elevated", "is saying goodbye",
       r"\bnone of (it|this)('?s| is| was) (their|your|his|her|anyone'?s) fault\b|\bi'?m sorry for everything\b|"
       r"\bwhere (they|she|he)'?(ll| will) find (them|it|me)\b|\bfind me easier\b|\bso they know (how i felt|i loved)|\bto remember me by\b|"
       r"\bif i don'?t (talk|speak) to you again\b|\b(this is|this'?ll be|this will be|probably) (the|my) last time\b|"
       r"\bwon'?t be (calling|talking to you|ringing) again\b|\bthank(s| you) for (everything|being kind to me)\b.{0,60}\b(take care|bye|goodbye)|"
       r"\b(before the end|after i'?m gone|when i'?m gone|for after i'?m gone)\b|\bsee (u|you) on the other side\b|\bi love (u|you),? bye\b|"
       r"\b(read|open) (it )?after\b|\bwanted that done before\b|\bjust wanted to hear a voice\b", negatable=False, defused_by=LEAVING),
    _r("suicide", "elevated", "gives things away or puts affairs in order",
       r"\bwon'?t (be )?need(ing)? (it|them|him|her|any of (it|them)|anything)\b[^.?!]{0,20}\b(where|after|anymore|any more|now)|"
       r"\bwhere i'?m going\b|\bsomeone who'?ll be around\b|\bdon'?t (really )?need anything anymore\b|\bno use to me now\b|"
       r"\bwho gets what\b|\b(affairs|everything) in order\b|\b(tying|tie) up (the )?loose ends\b|\b(will'?s|will is) (done|updated|sorted|written)\b|"
       r"\bpasswords?\b[^.?!]{0,30}\b(envelope|written down|for my|on the desk)|\bfuneral('?s| is)? (paid|planned|sorted)\b|"
       r"\b(easy|easier) for (them|everyone|her|him) (after|afterwards)\b|\bnobody has to (struggle|scramble|be stuck)|"
       r"\binsurance\b[^.?!]{0,60}\b(self[- ]inflicted|suicide)\b|\bsquared away\b|\ball labell?ed\b|\bpaid (the rent|it) up to\b|"
       r"\bgiving (away )?(all )?(my|her|his) (stuff|things|belongings)( away)?\b", negatable=False, defused_by=LEAVING),
    _r("suicide", "elevated", "has tried before and the wish is back",
       r"\b(do it properly|get it right( this time)?|wish(ed)? it had worked|annoyed it didn'?t work|finish(ing)? (it|the job)|next time i'?d)\b|"
       r"\b(feeling is coming back|starting to feel like it did|been thinking about going back)\b", negatable=False),
    _r("suicide", "elevated", "is suddenly calm after deciding",
       r"\b(peaceful|at peace|calm|relief|relieved|light|weight (is|has) (gone|lifted)|not (scared|upset|worried|fighting))\b.{0,60}"
       r"\b(know (how|what)|decided|decision|made my mind up|going to do)\b|\b(know (how it|what i'?m going to)|decided|decision)\b.{0,60}"
       r"\b(peaceful|at peace|relief|relieved|feels? light|weight is gone)\b", negatable=False, defused_by=LEAVING),
    _r("suicide", "imminent", "has the means and a time",
       r"\b(rope|gun|pills|tablets|blade|pistol|rifle)\b[^.?!]{0,60}\b(in a (few )?minutes|in an hour|going out there)\b|"
       r"\b(i'?ve got|i have|got|i'?ve) (the |my |all my |all the )?(pills|tablets|rope|gun|pistol|rifle|blade)\b[^.?!]{0,15}\bready\b",
       negatable=False),
    _r("suicide", "imminent", "wants to end their life soon",
       r"\b(kill myself|end (it|it all|my life)|take my (own )?life)\b[^.?!]{0,20}\b(tonight|today|tomorrow|this weekend)\b"),
    _r("suicide", "concern", "sounds settled on something",
       r"\b(made|reached) (my|the|a) decision\b|\bmy mind'?s made up\b|\bmade my mind up\b|\b(made|making) (my )?peace\b|\bat peace\b|"
       r"\bi know (what i'?m (going to do|doing)|how (it|this) ends)\b|\b(stopped|not|stop) fighting (it|this)\b|\brunning out of road\b|"
       r"\bdon'?t worry about me\b", negatable=False),
    _r("self_harm", "imminent", "is harming themselves now",
       r"\b(blade|razor|knife|glass|lighter)\b[^.?!]{0,40}\b(right now|over my wrist|in my hand|on right now)|\b(right now|while we'?re talking)\b[^.?!]{0,40}\b(blade|razor|knife|cut|pressing)|"
       r"\b(i'?m|i am|i'?ve) (already )?(doing it|started)\b[^.?!]{0,20}$|\bdoing it right now\b|\b(cuts?|cutting) (is |are )?deeper\b|\bon purpose\b[^.?!]{0,20}\bblister|"
       r"\bin the bath with a (razor|blade|knife)\b", negatable=False),
    _r("self_harm", "elevated", "harms themselves",
       r"\b(cutting|burning|scratching|hitting|punching|starving|hurting|harming)( myself| my (arms?|legs?|thighs?|wrists?|head))\b|"
       r"\b(cut|burn|scratch|hit|punch|starve|hurt)(ing|ed|s)? (myself|my arms?|my thighs?|my legs)\b[^.?!]{0,30}\b(with|till|until|again|when|so|to feel|on purpose|bleed)|"
       r"\b(started|start|doing) (cutting|the thing) again\b|\bcutting again\b|\brelapsed\b|\b(punch|punching) (the |a )?(brick )?walls?\b[^.?!]{0,40}\b(bleed|split|till|until)|"
       r"\bdig(ging)? my nails\b|\btill (it|they) bleeds?\b|\buntil (it|they) bleeds?\b|\b(stopped|stop|not) eating\b[^.?!]{0,20}\bon purpose\b|\bstarving myself\b|"
       r"\bpull my hair out\b|\bopen them up again\b|\brazor blades\b|\bwear long sleeves\b|\bburn(ed|t)? myself\b|\bhit myself\b|\bhurt myself\b[^.?!]{0,20}\bfeel", defused_by=PAST_OR_HELPING),
    _r("harm_to_others", "imminent", "is about to hurt someone",
       r"\b(got|have|brought|put|with) (a|the|my|his|dad'?s|my dad'?s) (old )?(bat|knife|hammer|gun|revolver|rifle|air rifle|shotgun)\b[^.?!]{0,40}\b(for when|with me|outside|he'?s home|by the door|out)|"
       r"\boutside (his|her|their) (place|apartment|house|flat)\b|\bwon'?t walk away from it\b|\bgoing round there tonight\b|\b(bringing|bring) (something|a gun|a knife|a weapon) (in|into|to)\b|"
       r"\bi know (where (he|she) (lives|parks)|what time he leaves)\b|\btook (dad'?s|his|the) (shotgun|gun|rifle) out\b[^.?!]{0,30}\bdrove", negatable=False),
    _r("harm_to_others", "elevated", "has thoughts of hurting someone",
       r"\b(thoughts?|thinking|think|urge|picture|picturing|fantasi\w+|imagine|scared|afraid)\b[^.?!]{0,40}\b(hurt|hurting|kill|killing|stab|stabbing|shoot|shooting|shake|shaking|strangle|wrong dose)\b(?!\s+(myself|me)\b)|"
       r"\b(make|making) (them|him|her|everyone|everybody|them all)( all)? (pay|sorry)\b|\bput (him|her) in the ground\b|\bscared of what i('?ll| might| will)? do\b|"
       r"\bi could (honestly )?hurt someone\b|\bvoices\b[^.?!]{0,40}\b(hurt|kill)\b|\bi'?ll stab\b|\burge to shake\b|\bshook (her|him) so hard\b", negatable=False),
    _r("abuse", "imminent", "is in danger from someone now",
       r"\b(hands|hand) (round|around) my (neck|throat)\b|\b(he|she)('?ll| will) be back\b|\b(said|says|saying|screaming|shouting|swore|threaten\w*)\b[^.?!]{0,30}\b(going to|gonna) kill me\b|\bi'?m dead when\b|\b(on (his|her) way|coming up the stairs)\b|"
       r"\b(banging|kicking|breaking) (on |down )?the door\b|\bbroke the door\b|\b(hiding|hid|locked myself) in (the|my|a) (wardrobe|closet|bathroom|bedroom|car)\b|"
       r"\b(he'?s|she'?s|he has|she has) got (a|the) (gun|knife)\b|\bgot the gun out\b|\bgetting his belt\b|\bfollowing me\b|\bshow me what happens\b|"
       r"\bhe'?s (downstairs|still in there)\b[^.?!]{0,40}\b(smashing|screaming|drunk)|\b(hit|hits) me with a\b[^.?!]{0,40}\bbleeding\b", negatable=False),
    _r("abuse", "elevated", "is hurt or controlled by someone",
       r"\b(hits|hit|shoves|shoved|grabs|grabbed|chokes|choked|slaps|slapped|kicks|kicked|beats|punches|punched|pushed|pushes|throws things at|locks|locked) me\b|"
       r"\bbruises\b|\b(he|she)('?ll| will| would| gets| said he'?d| said she'?d) (hurt me|rough|do what he did)|\b(takes|took|takes all) my (pension|money|phone)\b|"
       r"\bnobody will believe me\b|\bour (little )?secret\b|\btold me not to tell\b|\b(does|did) (stuff|things) to me\b|\bcomes into my room at night\b|"
       r"\b(goes|went|checks) (through )?my phone\b|\b(doesn'?t|won'?t) (like|let) me (see|seeing|leave|go)\b|\bscared to go home\b|\bfrightened in my own\b", negatable=False, defused_by=PAST_OR_HELPING),
    _r("medical_emergency", "imminent", "describes a medical emergency",
       r"\bcan'?t feel my (legs|arms|face)\b|\b(arm|side)('?s| has| is)? (gone )?(numb|droopy)\b|\bchest('?s| is)? (really )?(tight|crushing)\b|\bholding (her|his) chest\b|"
       r"\b(won'?t|not|isn'?t|can'?t) (wake|waking) (up|her|him)\b|\blips (look |are |going )?blue\b|\ballergic reaction\b|\bthroat('?s| is)? (going )?(all )?(tight|closing)\b|"
       r"\bcan'?t get my words out\b|\bsugar('?s| is) (crashing|low)\b|\bcollapsed\b|\bunconscious\b|\bbreathing (really )?slow(ly)?\b|\bpumping out\b|\bblood everywhere\b|"
       r"\bworst (headache|one) i'?ve ever\b|\bstiff neck\b[^.?!]{0,60}\brash\b|\bgone (all )?grey\b|\b(took|taken|had) (too much|a lot of (pills|tablets)|a load of pills|a bunch of (my )?pills|everything in my cabinet|like \d+|\d+ of the)\b|"
       r"\bnot answering me\b|\b(bleeding|pain)\b[^.?!]{0,40}\bpregnant\b|\bpregnant\b[^.?!]{0,60}\bbleeding\b|\bfell\b[^.?!]{0,40}\bcan'?t (feel|move)", negatable=False),
    # medical emergency
    _r("medical_emergency", "imminent", "describes a medical emergency",
       r"\b(chest pain|(can'?t|cannot|can not) breathe|trouble breathing|struggling to breathe|not breathing|"
       r"overdos(e|ed|ing)|took (too many|a (bunch|handful) of|all (of )?(my|the)) (pills|tablets|meds)|"
       r"(having|had) a (heart attack|stroke|seizure)|face is drooping|numb on one side|bleeding (badly|a lot|heavily|everywhere)|"
       r"won'?t stop bleeding|passed out|(is|went|was) unconscious|swallowed (bleach|poison|antifreeze)|throat is (closing|swelling)|"
       r"call (an ambulance|911|999|112)|need an ambulance)", negatable=False, defused_by=PAST_OR_HELPING),
)


def match(text: str) -> Concern:
    """The gravest pattern in one turn; several signs of hopelessness in one turn make it elevated."""
    best: tuple[int, Rule, str] | None = None
    concerns = 0
    for rule in RULES:
        for m in rule.pattern.finditer(text):
            if rule.negatable and _negated(text, m.start()):
                continue
            level = rule.level
            if rule.defused_by is not None and rank(level) > rank("concern") and rule.defused_by.search(text):
                level = "concern"
            concerns += level == "concern"
            if best is None or rank(level) > best[0]:
                best = (rank(level), rule, m.group(0))
    if best is None:
        return Concern()
    found, rule, matched = best
    level = "elevated" if found == rank("concern") and concerns > 1 else LEVELS[found]
    return Concern(rule.category, level, rule.reason, matched, source="rules")


def _negated(text: str, start: int) -> bool:
    before = text[:start].split()[-3:]
    return bool(_NEG.search(" ".join(before)))
