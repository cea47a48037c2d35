"""Matching people across gazette publications, bureau data and sales reports.

The same person is written in many ways: `Van den Broeck, Jan`, `jan VAN DEN BROECK`, `Jan Vandenbroeck`,
`Jan Van Den Bröeck`. `person_key` reduces a name to one canonical form:

1. accents are removed (Unicode NFKD, combining marks dropped) and case is folded;
2. `Last, First` is turned into `First Last` (only the first comma counts);
3. apostrophes are removed (`d'Hondt` -> `dhondt`, `O'Brien` -> `obrien`), other punctuation separates words;
4. Dutch and French particles (`van`, `de`, `den`, `der`, `ver`, `vande`, `le`, `la`, `du`, `d`, `des`,
   `di`, ...) are glued to the word that follows, so that `Van den Broeck` and `Vandenbroeck` agree;
5. the words are sorted, because registers write `Peeters Jan` as often as `Jan Peeters`.

Initials are not expanded: `J. Peeters` is not `Jan Peeters`; a false match would accuse the wrong person.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["PARTICLES", "display_name", "person_key", "same_person"]

PARTICLES: frozenset[str] = frozenset(
    {
        "van",
        "vande",
        "vanden",
        "vander",
        "de",
        "den",
        "der",
        "ver",
        "ten",
        "ter",
        "le",
        "la",
        "du",
        "d",
        "des",
        "di",
        "del",
        "della",
    }
)
"""Name particles, in their folded form, that belong to the surname that follows them."""

# Apostrophes join what they separate (d'Hondt); the typographic ones are spelled as escapes on purpose.
_APOSTROPHES = re.compile("['`\u2019\u2018\u02bc]")
_NOT_WORD = re.compile(r"[^0-9a-z]+")


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return bare.casefold()


def _words(name: str) -> list[str]:
    if "," in name:
        last, first = name.split(",", 1)
        name = f"{first} {last}"
    folded = _APOSTROPHES.sub("", _fold(name))
    return [word for word in _NOT_WORD.split(folded) if word]


def person_key(name: str) -> str:
    """The canonical form of a person's name; equal keys mean the same name (see the module docstring).

    An empty key (a name of punctuation only) matches nobody.
    """
    glued: list[str] = []
    pending = ""
    for word in _words(name):
        if word in PARTICLES:
            pending += word
            continue
        glued.append(pending + word)
        pending = ""
    if pending:
        # Particles with nothing after them ("Jan Van") stay a word of their own.
        glued.append(pending)
    return " ".join(sorted(glued))


def same_person(name_a: str, birth_a: int | None, name_b: str, birth_b: int | None) -> bool:
    """True when both names have the same `person_key` and, when both birth years are known, they are equal.

    A missing birth year does not prevent a match: the gazette often omits it.
    """
    key = person_key(name_a)
    if not key or key != person_key(name_b):
        return False
    return birth_a is None or birth_b is None or birth_a == birth_b


def display_name(name: str) -> str:
    """The name as a reader expects it in a sentence: `Peeters, Jan` becomes `Jan Peeters`."""
    if "," in name:
        last, first = name.split(",", 1)
        name = f"{first.strip()} {last.strip()}"
    return " ".join(name.split())
