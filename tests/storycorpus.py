"""A generated corpus for story matching: news-like articles, their copies, and look-alikes that are not.

Shared by tests/test_stories.py (which asserts the targets) and benchmarks/stories.py (which prints them).
Articles on one topic share their vocabulary and many phrases, as real coverage of one event does; what
makes two of them one story is their text, never their topic.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

PLACES = ["Seoul", "Kyiv", "Moscow", "Pyongyang", "Washington", "Tokyo", "Beijing", "Brussels", "Vladivostok"]
PEOPLE = [
    "the defence minister",
    "a senior intelligence official",
    "the foreign ministry spokesperson",
    "an analyst at a Seoul think tank",
    "the national security adviser",
    "a Ukrainian military intelligence officer",
    "a European diplomat",
    "the head of the parliamentary committee",
]
THINGS = [
    "artillery shells",
    "ballistic missiles",
    "rocket launchers",
    "troops",
    "engineers",
    "drones",
    "fuel shipments",
    "air defence systems",
    "cargo ships",
    "rail convoys",
]
VERBS = ["said", "told reporters", "wrote in a report", "warned", "confirmed", "added", "noted", "claimed"]
TEMPLATES = [
    "{Person} {verb} that about {n} {thing} had been moved from {place} in the past {k} weeks.",
    "Satellite images taken on {day} show {n} {thing} near a depot outside {place}.",
    "The shipment, the {ord} of its kind this year, left the port at night, {person} {verb}.",
    "Officials in {place} had not commented on the {ord} report by {day}; it could not be verified.",
    "{Person} {verb} that the transfers break several United Nations resolutions.",
    "In exchange, {place} is believed to supply technology and food, according to {person}.",
    "Analysts expect the {thing} to reach the front within {k} weeks of leaving {place}.",
    "A convoy of {n} trucks was seen crossing the border on {day}, {person} {verb}.",
    "The {ord} delivery is larger than all earlier ones combined, {person} {verb}.",
    "Markets in {place} barely moved on the news, with the main index up {k} percent.",
    "{Person} {verb} that the talks in {place} would continue on {day}.",
    "The agreement signed in {place} on {day} commits both sides to help each other if attacked.",
    "Foreign ministers meeting in {place} called the deployment a grave escalation.",
    "{Person} {verb} that {n} soldiers had been wounded since the start of the month.",
    "Radar data suggest that {n} {thing} were tested over the sea on {day}.",
    "Sanctions imposed in {place} on {day} target {n} companies and {k} ships.",
    "The report, published on {day}, relies on {n} interviews and shipping records.",
    "Some of the {thing} were found to be decades old and unreliable, {person} {verb}.",
    "Aid groups in {place} warned that food prices had risen {k} times since spring.",
    "The train carried {n} containers, each loaded with {thing}, {person} {verb}.",
    "A second route through {place} is being used to avoid inspections, {person} {verb}.",
    "Lawmakers in {place} asked for a closed briefing on the {thing} on {day}.",
    "The government in {place} summoned the ambassador over the {ord} transfer.",
    "Experts counted {n} launch sites within {k} hours of {place}.",
    "Insurance rates for ships calling at {place} have doubled, {person} {verb}.",
    "{Person} {verb} that production of {thing} had risen {k} times this year.",
]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
ORDINALS = ["second", "third", "fourth", "fifth", "sixth", "seventh", "largest", "latest"]
FOOTER = [
    "You are receiving this newsletter because you subscribed to the Morning Security Brief.",
    "The Morning Security Brief is written by our correspondents in Seoul, Kyiv and Washington every weekday.",
    "Forward it to a colleague who might like it, or read past issues on our website at any time.",
    "To change how often you hear from us, visit the preferences page linked in your account settings.",
    "We read every reply, and we correct our mistakes in the next issue when we make them.",
    "Our reporting is independent and funded by readers, never by the governments we cover in these pages.",
    "Unsubscribe at any time with one click, and your address will be removed from our list within a day.",
    "Copyright the Morning Security Brief, all rights reserved; quoting with a link back is always welcome.",
]


def _sentence(rng: random.Random, template: str) -> str:
    person = rng.choice(PEOPLE)
    return template.format(
        Person=person[0].upper() + person[1:],
        person=person,
        verb=rng.choice(VERBS),
        n=rng.randint(2, 40) * rng.choice([1, 10, 100]),
        k=rng.randint(2, 9),
        thing=rng.choice(THINGS),
        place=rng.choice(PLACES),
        day=rng.choice(DAYS),
        ord=rng.choice(ORDINALS),
    )


def article(rng: random.Random, paragraphs: int | None = None) -> list[list[str]]:
    """An article: paragraphs of sentences, each sentence a template filled with its own facts."""
    templates = rng.sample(TEMPLATES, len(TEMPLATES))
    out: list[list[str]] = []
    for _ in range(paragraphs or rng.randint(6, 9)):
        size = rng.randint(2, 3)
        out.append([_sentence(rng, templates.pop() if templates else rng.choice(TEMPLATES)) for _ in range(size)])
    return out


def text(paragraphs: list[list[str]]) -> str:
    return "\n\n".join(" ".join(p) for p in paragraphs)


def light_edit(rng: random.Random, paragraphs: list[list[str]]) -> str:
    """Another outlet's copy: a dateline or byline, one sentence dropped, a word or two changed."""
    copy = [list(p) for p in paragraphs]
    kind = rng.randrange(4)
    if kind == 0:
        copy[0][0] = f"{rng.choice(PLACES).upper()} (Wire) - {copy[0][0]}"
    elif kind == 1:
        copy.insert(0, [f"By {rng.choice(['Jane Park', 'Oleh Kovalenko', 'Sam Reed'])}, staff correspondent"])
    elif kind == 2:
        p = rng.randrange(len(copy))
        if len(copy[p]) > 1:
            copy[p].pop(rng.randrange(len(copy[p])))
    else:
        copy[-1].append("This story has been updated with comments from officials.")
    p = rng.randrange(len(copy))
    s = rng.randrange(len(copy[p]))
    copy[p][s] = copy[p][s].replace(" said", " stated", 1).replace(" the ", " a ", 1)
    return text(copy)


def medium_edit(rng: random.Random, paragraphs: list[list[str]]) -> str:
    """A rewrite desk's version: a paragraph trimmed, one added, a sentence reworded, two paragraphs swapped."""
    copy = [list(p) for p in paragraphs]
    copy.pop(rng.randrange(1, len(copy)))
    copy.insert(rng.randrange(1, len(copy)), [_sentence(rng, rng.choice(TEMPLATES)) for _ in range(2)])
    p = rng.randrange(len(copy))
    s = rng.randrange(len(copy[p]))
    words = copy[p][s].split()
    copy[p][s] = " ".join(words[: len(words) // 2] + ["reportedly"] + words[len(words) // 2 :])
    i, j = rng.sample(range(1, len(copy)), 2)
    copy[i], copy[j] = copy[j], copy[i]
    return text(copy)


def excerpt(rng: random.Random, paragraphs: list[list[str]]) -> str:
    """A summary-only feed's text: the first three to five sentences, the last sometimes cut off with an
    ellipsis, sometimes followed by "Read more"."""
    sentences = [s for p in paragraphs for s in p][: rng.randint(3, 5)]
    ending = rng.randrange(3)
    if ending == 1:
        words = sentences[-1].split()
        sentences[-1] = " ".join(words[: len(words) // 2]) + "\u2026"
    elif ending == 2:
        sentences.append("Read more")
    return " ".join(sentences)


def newsletter(rng: random.Random) -> str:
    """One issue: a few paragraphs of its own, then the long footer every issue carries."""
    return text([*article(rng, rng.randint(2, 3)), FOOTER])


@dataclass
class Case:
    kind: str  # light, medium, excerpt (copies) or different, newsletter (not copies)
    original: str
    other: str


def cases(seed: int, per_kind: int) -> list[Case]:
    """`per_kind` pairs of each kind."""
    rng = random.Random(seed)
    out: list[Case] = []
    for _ in range(per_kind):
        base = article(rng)
        out.append(Case("light", text(base), light_edit(rng, base)))
        out.append(Case("medium", text(base), medium_edit(rng, base)))
        out.append(Case("excerpt", text(base), excerpt(rng, base)))
        out.append(Case("different", text(base), text(article(rng))))
        out.append(Case("newsletter", newsletter(rng), newsletter(rng)))
    return out


COPY_KINDS = ("light", "medium", "excerpt")
