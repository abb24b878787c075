"""What the planner may not understand, and when not understanding a word must mean "I cannot answer that".

A question's words are placed by the planner (metrics, dimensions, values, dates, column phrases). What is left
over used to cost the same whatever it was, so "approval rate of **competitor** lenders" lost as much confidence as
"approval rate **please**" -- one wrong answer and one needless refusal. Here the leftovers are sorted by what they
are, using only the team's catalog and general English (parts of speech from ``lemminflect``'s bundled lexicon):

* a word the team's catalog knows (table, column, metric, dimension or sample-value words, also misspelt: rapidfuzz
  ratio >= 85) is harmless: it restates what was placed ("of applicants");
* a general analytic word ("ratio", "trend", "change") or a word with no noun reading ("made", "received") is
  cheap: it is how people talk, not *what* they ask about;
* anything else -- a noun or an unknown token the catalog does not know ("fraud", "commission", "NPS") -- is an
  **unknown term**: the question is about something this team's data does not hold, so it costs enough to decline on
  its own, and the refusal names the term.

Two kinds of question are out of scope whatever they name: forecasts (the warehouse records what happened) and
text that tries to instruct the system (prompt injection).
"""

from __future__ import annotations

import re
from functools import lru_cache

from rapidfuzz import fuzz, process

from copilot.semantic.view import TeamSemantics


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# General analytic vocabulary: how a question is asked, never what it is about.
GENERIC = _words(
    """ratio ratios trend trends change changes growth difference differences increase decrease distribution summary
    stats statistics metric metrics kpi kpis report figure level levels average averages mean median sum totals
    percentage percentages percent share proportion fraction mix volume volumes amount amounts breakdown basis
    comparison side view table row rows record records entry entries detail details info information list lists
    order sorted top bottom rank ranking day days week weeks month months quarter quarters year years date dates
    today yesterday daily weekly monthly quarterly yearly period window history time times lot lots kind kinds type
    types category categories way ways thing things one ones bit sort case cases term terms overview snapshot
    please pls kindly thanks thank hi hello hey ok okay
    any some each both many few several other others another such same own more most less least once twice up down
    out off else ever also very too quite really just still even already yet again either neither none whole via
    per than then there here now currently right left much lot something anything everything nothing someone
    among amongst within across between towards toward beyond
    make makes made making give gives gave given get gets got getting bring brings brought send sends sent do does
    did done take takes took taken see seen earn earns earning earned come comes came go goes went
    pair pairs combination combinations combo combos pairing
    performance performing perform performs portfolio platform work works worked working
    break breaks drill slice cut zoom dig doing going happen happens happened happening trending looking
    hit hits hitting particular specific certain respective various individual
    """
)
"""General analytic words and English closed-class words (determiners, quantifiers, particles): how a question is
asked, never what it is about. ``lemminflect`` gives many of them a noun reading ("any", "more", "up")."""
FUNCTION_WORDS = _words(
    """about above against amid along around behind below beneath beside but during inside into onto round till
    underneath until unto upon while whereas whilst although though because unless whether nor whatever whichever
    whoever whom they them their theirs he she his her him ours yours itself themselves ourselves myself yourself
    will shall must may might can could should would etc eg ie viz respectively which where there these those that
    this then than when what with from either neither other others
    """
)
"""English prepositions, conjunctions, pronouns and modals. Never a subject (``lemminflect`` gives "into" and "till"
no reading at all), and never a typo target: "weather" is not a misspelt "whether" from a column description."""
GENERIC = GENERIC | FUNCTION_WORDS
STRUCTURAL = _words("no not never without none nobody neither nor once twice thrice again repeat repeated multiple"
                    " outside except excluding besides despite opposite")
"""Unplaced words that change what is counted ("no offer", "more than once"): dropping them answers another
question, so they cost as much as an unknown term's half and a second one declines."""
_NOUN_POS = ("NOUN", "PROPN")


@lru_cache(maxsize=20_000)
def _pos(word: str) -> frozenset[str]:
    """Parts of speech general English gives ``word`` (empty for acronyms, names and jargon)."""
    from lemminflect import getAllLemmas  # ~0.5 s the first time: imported on first use only

    return frozenset(getAllLemmas(word))


def _is_noun_like(word: str) -> bool:
    """A noun reading, or no English reading at all (acronyms, product names): a candidate subject of a question."""
    pos = _pos(word)
    return not pos or any(p in pos for p in _NOUN_POS)


_VOCAB: dict[str, tuple[frozenset[str], tuple[str, ...]]] = {}


def catalog_words(sem: TeamSemantics) -> tuple[frozenset[str], tuple[str, ...]]:
    """Every word the team's catalog uses to name its data (and the same as a list, for fuzzy matching)."""
    cached = _VOCAB.get(sem.team)
    if cached is not None:
        return cached
    phrases: list[str] = []
    for t in sem.catalog.tables.values():  # descriptions too: a word the data's documentation uses is no stranger
        phrases += [t.name, *t.synonyms, t.description]
        for c in t.columns.values():
            phrases += [c.name, *c.synonyms, c.description]
    for m in sem.named_metrics.values():
        phrases += [m.name, m.label, *m.synonyms, m.description]
    for d in sem.named_dimensions.values():
        phrases += [d.name, d.label, *d.synonyms]
    for values in sem.samples.values():
        phrases += list(values)
    for values in sem.columns.samples.values():
        phrases += list(values)
    for ref in sem.columns.columns:
        phrases += list(ref.phrases)
    for table_phrases in sem.columns.tables.values():
        phrases += list(table_phrases)
    words = {w for p in phrases for w in re.findall(r"[a-z0-9]+", p.lower()) if len(w) >= 2}
    words |= {_stem(w) for w in words}
    cached = (frozenset(words), tuple(sorted(words - FUNCTION_WORDS)))  # the tuple is what typos are matched to
    _VOCAB[sem.team] = cached
    return cached


def stem(word: str) -> str:
    """Public name of :func:`_stem` (the candidates' subject check stems both sides the same way)."""
    return _stem(word)


def _stem(word: str) -> str:
    """A crude English stem, applied to both sides ("onboarding" ~ "onboarded", "disbursals" ~ "disbursal")."""
    for suffix, repl in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + repl
    return word


def knows(word: str, sem: TeamSemantics) -> bool:
    """Whether the team's catalog knows ``word`` (exactly, as a plural/past form, or misspelt)."""
    words, ordered = catalog_words(sem)
    w = word.lower().strip("'")
    w = w[:-2] if w.endswith("'s") else w
    if {w, _stem(w)} & words:
        return True
    if len(w) < 5:
        return False
    return process.extractOne(w, ordered, scorer=fuzz.ratio, score_cutoff=85) is not None


def unknown_terms(words: list[str], sem: TeamSemantics, ignore: frozenset[str] = frozenset()) -> list[str]:
    """Leftover words that name something the team's data does not hold (see the module docstring)."""
    out: list[str] = []
    for word in words:
        w = word.lower().strip("'")
        if w in ignore or w in GENERIC or w in STRUCTURAL or w.rstrip("s") in GENERIC or len(w) < 2 or w.isdigit():
            continue
        if knows(w, sem) or not _is_noun_like(w):
            continue
        if w not in out:
            out.append(w)
    return out


_FORECAST_RE = re.compile(
    r"\b(?:forecast\w*|projections?|projected|extrapolat\w+|predict(?:ions?|s)?\b(?!\s+(?:default|probability|pd)\b)"
    r"|next\s+(?:\d+\s+)?(?:days?|weeks?|months?|quarters?|years?|fy)|tomorrow|will\s+(?:be|we|the|it|there|our)"
    r"|going\s+to\s+be|expected\s+to\s+be|in\s+the\s+future|upcoming|coming\s+(?:week|month|quarter|year))\b"
)
_INJECTION_RE = re.compile(
    r"\b(?:ignore|disregard|forget|override|bypass|skip)\s+(?:(?:all|any|the|your|my|these|those|previous|prior|"
    r"above|earlier|existing|system|safety)\s+)*(?:instructions?|rules|prompts?|guardrails?|restrictions?|"
    r"constraints?|polic(?:y|ies)|guidelines|checks|filters?|masking)\b"
    r"|\bsystem\s+prompt\b|\byou\s+are\s+(?:now|no\s+longer)\b|\bact\s+as\s+(?:an?\s+)?(?:admin|root|dba|superuser|"
    r"developer)\b|\bpretend\s+(?:to\s+be|you)\b|\bjailbreak\b|\bdeveloper\s+mode\b|\bdan\s+mode\b"
    r"|\b(?:disable|turn\s+off|switch\s+off|remove)\s+(?:the\s+|your\s+|all\s+)?(?:guardrails?|safety|masking|"
    r"filters?|restrictions?)\b|^\s*(?:system|assistant)\s*:"
)


def forecast(text: str) -> str | None:
    """The forecasting phrase of a question about the future ("forecast", "next month", "will be"), or None."""
    m = _FORECAST_RE.search(text)
    return m.group() if m else None


def injection(text: str) -> str | None:
    """The instruction-overriding phrase of a prompt-injection attempt, or None."""
    m = _INJECTION_RE.search(text)
    return m.group() if m else None
