"""Clubs named after their town, in results lines and standings.

News guidelines in the CoNLL tradition label a sports club as an organization even when it is named by its town
("NBA results : Chicago 107 New York 102": two ORG) and a national team by its country as a place ("Norway 2
Sweden 1": LOC). Every source reads such a town as a place: the pretrained pipeline (GPE), the student (which
starts from it) and the gazetteer. On the hand-written English news test (60 sentences, 200 reviewed) these were
18 of the 76 errors of the combined proposals: nine clubs, each a wrong LOC and a missed ORG.

When the guideline's organization label takes clubs or teams (its definition, includes or examples say "club" or
"team"), a span of one of its place labels where a team stands in a results line (`team_position`: its score, then
the other team and its score or another number of a standings row; or after the other team's score) becomes an
organization, unless it names a country (`countries`: Babel's English territory names and the usual short forms).
A town in a weather or rainfall table ("Lisbon 24 sunny ; Madrid 27") is not in a team's place. The project's
complete documents can turn the rule off (`team_rule`: the person labeled such names as places, e.g. national teams
of invented countries), or on where the guideline says nothing of clubs (the person labeled them as organizations).
English (Latin) text only; deterministic.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from studio.ops.ner.automap import kind_of, label_of_kind
from studio.schema import Guideline, Span, language_code

# a score: one to three digits, not part of a time, a decimal, a date or a larger number ("1:19.44", "4,841")
_SCORE = r"\d{1,3}(?![\d:.,/]?\d)(?!\s*(?:%|percent|per cent|pct|points|pts)\b)"
_NAME = r"[A-Z][\w.'&-]*(?:\s+[A-Z][\w.'&-]*)*"
_PAIR = re.compile(r"\b[A-Z][\w.'&-]*\s+" + _SCORE)
# a team's place: its score, then another number (a standings row: "Utah 38 12 .760") or the other team and its
# score ("Chicago 107 New York 102"); or after the other team and its score. A town followed by one number and a
# word or a semicolon is a weather or rainfall table ("Lisbon 24 sunny ; Madrid 27", "Chennai 112 ; Puducherry 86").
_HOME = re.compile(r"\s+" + _SCORE + r"\s+(?:\d|" + _NAME + r"\s+" + _SCORE + ")")
_AWAY_BEFORE = re.compile(r"\b" + _NAME + r"\s+" + _SCORE + r"\s+$")
_SCORE_AFTER = re.compile(r"\s+" + _SCORE)
_CLUB_WORDS = re.compile(r"\b(?:clubs?|teams?)\b", re.IGNORECASE)
_NATIONAL = re.compile(r"\bnational\b|\bcountr(?:y|ies)\b", re.IGNORECASE)
# names in a team's place the person labeled as organizations that turn the rule on where the guideline is silent
MIN_LEARNED = 3
# short and older forms of country names that Babel's territory names do not hold
_COUNTRY_ALIASES = (
    "U.S.", "US", "USA", "U.S.A.", "America", "Britain", "Great Britain", "England", "Scotland", "Wales",
    "Northern Ireland", "Holland", "Korea", "Czech Republic", "Russia", "Ivory Coast", "UAE", "U.K.", "UK",
    "Congo", "Yugoslavia", "Soviet Union", "Macedonia", "Burma", "Swaziland", "Zaire", "West Germany",
    "East Germany", "Czechoslovakia",
)  # fmt: skip


@lru_cache(maxsize=1)
def countries() -> frozenset[str]:
    """English names of countries and territories (Babel's CLDR data, installed with Studio) and their short forms."""
    from babel import Locale

    names: set[str] = set(_COUNTRY_ALIASES)
    for code, name in Locale("en").territories.items():
        if code.isdigit():  # regions of the world ("Europe", "World"), not countries
            continue
        names.add(name)
        names.add(re.split(r" \(| - | SAR ", name)[0])  # "Myanmar (Burma)", "Congo - Kinshasa", "Hong Kong SAR China"
    return frozenset(names)


def results_line(text: str) -> bool:
    """Two or more capitalized names each followed by a score ("Chicago 107 New York 102", "Utah 38 12 .760 -
    Houston 34 17")."""
    return len(_PAIR.findall(text)) >= 2


@dataclass(frozen=True)
class TeamRule:
    org: str
    places: frozenset[str]

    def relabel(self, text: str, spans: list[Span]) -> list[Span]:
        """`spans` with each club named by its town (a place span where a team stands: `team_position`) made an
        organization, countries and the rest as they are."""
        if not any(sp.label in self.places for sp in spans) or not results_line(text):
            return spans
        return [self._one(text, sp) for sp in spans]

    def relabel_span(self, text: str, sp: Span) -> Span:
        """One span, as `relabel` makes it."""
        return self._one(text, sp) if sp.label in self.places and results_line(text) else sp

    def relabel_votes(
        self, text: str, votes: dict[str, list[tuple[Span, float]]]
    ) -> dict[str, list[tuple[Span, float]]]:
        """Each source's votes relabeled as `relabel` does; a source voting the same span twice keeps its higher vote."""
        if not results_line(text):
            return votes
        out: dict[str, list[tuple[Span, float]]] = {}
        for name, vs in votes.items():
            best: dict[tuple[int, int, str], tuple[Span, float]] = {}
            for sp, p in vs:
                new = self._one(text, sp)
                key = (new.start, new.end, new.label)
                if key not in best or p > best[key][1]:
                    best[key] = (new, p)
            out[name] = list(best.values())
        return out

    def _one(self, text: str, sp: Span) -> Span:
        """`sp` relabeled; `text` is known to be a results line."""
        if sp.label not in self.places or not _club_place(text, sp.start, sp.end):
            return sp
        return sp.model_copy(update={"label": self.org})


def team_position(text: str, start: int, end: int) -> bool:
    """The name at text[start:end] stands where a team does in a results line or a standings row."""
    return results_line(text) and _in_team_place(text, start, end)


def _in_team_place(text: str, start: int, end: int) -> bool:
    """`team_position` in a text known to be a results line."""
    if _HOME.match(text, end):
        return True
    return bool(_SCORE_AFTER.match(text, end) and _AWAY_BEFORE.search(text[max(0, start - 80) : start]))


def _club_place(text: str, start: int, end: int) -> bool:
    """In a results line, the name at text[start:end] stands in a team's place and is not a country: a club."""
    return _in_team_place(text, start, end) and text[start:end] not in countries()


def contradicted(docs: Sequence[tuple[str, list[Span]]], rule: TeamRule) -> tuple[int, int]:
    """On a project's complete documents (text, the person's spans): (names in a team's place that are not
    countries and that the person labeled as places: what the rule would have got wrong; those labeled as the
    organization: what it is for)."""
    wrong = right = 0
    for text, spans in docs:
        if not results_line(text):
            continue
        for sp in spans:
            if (sp.label in rule.places or sp.label == rule.org) and _club_place(text, sp.start, sp.end):
                wrong += sp.label in rule.places
                right += sp.label == rule.org
    return wrong, right


def team_rule(guideline: Guideline, done: Sequence[tuple[str, list[Span]]] = ()) -> TeamRule | None:
    """The rule for an English guideline with an organization and a place label, when its organizations take clubs
    or teams or, where it says nothing of them, the complete documents `done` (text, the person's spans) hold three
    or more names in a team's place labeled as organizations (`MIN_LEARNED`); and unless those documents hold two or
    more such names labeled as places, over a quarter of those labeled either way (national teams of countries Babel
    does not know, e.g. invented ones). Else None."""
    if language_code(guideline.language) != "en":
        return None
    org = label_of_kind(guideline, ("ORG",))
    places = frozenset(lab.name for lab in guideline.labels if lab.name != org and kind_of(lab.name, ("GPE", "LOC")))
    if org is None or not places:
        return None
    lab = next(lab for lab in guideline.labels if lab.name == org)
    said = [lab.definition, *lab.include, *lab.positive_examples]
    rule = TeamRule(org=org, places=places)
    wrong, right = contradicted(done, rule)
    if wrong >= 2 and wrong * 4 > wrong + right:
        return None
    if any(_CLUB_WORDS.search(x) and not _NATIONAL.search(x) for x in said) or right >= MIN_LEARNED:
        return rule
    return None
