"""Rule engine throughput against the naive baseline, measured in the same run.

    python benchmarks/rules.py [--sizes 10,100,1000,10000] [--docs 2000] [--naive-docs 20] [--repeat 3]
                               [--non-ascii]

Generates entities with aliases and rules (keywords, entities, some near, sentence, none, at_least and regex
rules) and a news-like corpus of ~2.7 KB documents, then prints, for each rule count: load+compile time, the
compiled engine's memory, docs/s for the engine and for the naive baseline (one compiled word-boundary regex
per term, per rule, evaluated over every rule: what feed readers do), their ratio, and whether all found
exactly the same (document, rule) hits: the baseline on the documents it ran over, the two scanners on all.

Each rule count runs with the portable scanner (pyahocorasick), then with Hyperscan where it is installed
(pip install '.[fast]'). Engine docs/s is the best of --repeat passes over the corpus, as timeit reports.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import subprocess
import sys
import tempfile
import time
import tracemalloc
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml  # noqa: E402

from benchmarks.support.naive import Naive  # noqa: E402
from benchmarks.support.reference import Reference  # noqa: E402
from watcher.items.model import Item  # noqa: E402
from watcher.rules.engine import Engine  # noqa: E402
from watcher.rules.load import load_rules  # noqa: E402
from watcher.rules.scan import fast_available  # noqa: E402

SYLLABLES = "ka lo mi ra ben tor vel sha dun gri pol nez ar is om ul fen cor vak zim hal ped rus tan".split()
FILLER = """the a of to in and said on for with that was by as at from officials government report
new week year people after talks minister country statement told would could also over more than
state security meeting border trade plan agreement region forces spokesman president military economic support
according deal foreign city capital press agency local national sources""".split()


def _word(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(n))


def make_world(n_rules: int, seed: int = 1) -> tuple[dict[str, Any], list[str], list[str]]:
    """(rule file document, entity aliases, keywords) for n_rules rules."""
    # Fixed pools, whatever the rule count: the corpus mentions them all, each rule a few.
    rng = random.Random(seed)
    n_entities = 2000
    entities: dict[str, list[str]] = {}
    for i in range(n_entities):
        base = _word(rng, 3).capitalize()
        aliases = [
            base,
            f"{base} {rng.choice(['Republic', 'Group', 'Union', 'Front'])}",
            _word(rng, 2).upper(),
        ]
        entities[f"e{i}"] = aliases[: rng.randint(2, 3)]
    keywords = sorted({_word(rng, 2) + rng.choice(["", "s", "ing"]) for _ in range(3000)})
    rules: list[dict[str, Any]] = []
    for i in range(n_rules):
        ent = f"e{rng.randrange(n_entities)}"
        kws = rng.sample(keywords, 3)
        rules.append({"id": f"r{i}", "title": f"Rule {i}", "match": rule_match(i, ent, kws, within=6)})
    aliases = [a for als in entities.values() for a in als]
    used = {m["entity"] for r in rules for m in _walk(r["match"]) if "entity" in m}
    return {"entities": {k: v for k, v in entities.items() if k in used}, "rules": rules}, aliases, keywords


def rule_match(i: int, ent: str, kws: list[str], *, within: int) -> dict[str, Any]:
    """The i-th rule's condition: mostly an entity with any of three words, and of every other kind a few."""
    kind = i % 20
    if kind < 11:
        return {"all": [{"entity": ent}, {"any": kws}]}
    if kind < 13:
        return {"all": [{"entity": ent}, {"any": kws[:2]}], "none": [kws[2]]}
    if kind < 15:
        return {"near": [{"entity": ent}, {"any": kws}], "within": within}
    if kind < 17:
        return {"sentence": [{"entity": ent}, {"any": kws}]}
    if kind < 19:
        return {"at_least": 2, "of": [{"entity": ent}, *kws]}
    return {"all": [{"entity": ent}, {"regex": rf"\b{kws[0]}-\d+\b"}]}


def _walk(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        return [node, *(x for v in node.values() for x in _walk(v))]
    if isinstance(node, list):
        return [x for v in node for x in _walk(v)]
    return []


def make_corpus(n_docs: int, aliases: list[str], keywords: list[str], seed: int = 2) -> list[Item]:
    # Like a news story, each document is about a few things: it mentions 6 entities and 10 topic words,
    # several times each, among common words.
    rng = random.Random(seed)
    docs = []
    for d in range(n_docs):
        names = rng.sample(aliases, 6)
        topics = rng.sample(keywords, 10)
        sentences = []
        size = 0
        while size < 2700:
            words = [rng.choice(FILLER) for _ in range(rng.randint(8, 20))]
            for _ in range(rng.randint(0, 2)):
                words.insert(rng.randrange(len(words)), rng.choice(names))
            for _ in range(rng.randint(0, 2)):
                kw = rng.choice(topics)
                words.insert(rng.randrange(len(words)), f"{kw}-{rng.randint(1, 99)}" if rng.random() < 0.1 else kw)
            sentence = " ".join(words)
            sentence = sentence[0].upper() + sentence[1:] + "."
            sentences.append(sentence)
            size += len(sentence) + 1
        title = " ".join(rng.choice(FILLER + names + topics) for _ in range(8)).capitalize()
        docs.append(Item(source="bench", guid=str(d), title=title, content=" ".join(sentences)))
    return docs


# the many-hit workload ------------------------------------------------------------------------------

THEMES = 100


def make_themed_world(n_rules: int, seed: int = 5) -> tuple[dict[str, Any], list[list[str]], list[list[str]]]:
    """Rules in themes, as a monitoring team writes them (a hundred topics, each with its people, places and
    words): (rule file document, aliases per theme, keywords per theme). At 10,000 rules: ~3,800 aliases and
    ~4,900 keywords in all."""
    rng = random.Random(seed)
    entities: dict[str, list[str]] = {}
    theme_entities: list[list[str]] = []
    theme_keywords: list[list[str]] = []
    for t in range(THEMES):
        names = []
        for j in range(15):
            base = _word(rng, 3).capitalize()
            aliases = [base, f"{base} {rng.choice(['Republic', 'Group', 'Union', 'Front'])}", _word(rng, 2).upper()]
            entities[f"t{t}e{j}"] = aliases[: rng.randint(2, 3)]
            names.append(f"t{t}e{j}")
        theme_entities.append(names)
        theme_keywords.append(sorted({_word(rng, 2) + rng.choice(["", "s", "ing"]) for _ in range(49)}))
    rules: list[dict[str, Any]] = []
    for i in range(n_rules):
        t = i % THEMES
        ent = rng.choice(theme_entities[t])
        kws = rng.sample(theme_keywords[t], 3)
        rules.append({"id": f"r{i}", "title": f"Rule {i}", "match": rule_match(i, ent, kws, within=12)})
    used = {m["entity"] for r in rules for m in _walk(r["match"]) if "entity" in m}
    aliases = [[a for name in names for a in entities[name]] for names in theme_entities]
    return {"entities": {k: v for k, v in entities.items() if k in used}, "rules": rules}, aliases, theme_keywords


def make_themed_corpus(
    n_docs: int, aliases: list[list[str]], keywords: list[list[str]], mentions: int, seed: int = 6
) -> list[Item]:
    """~2.7 KB documents, each about one theme: `mentions` of its names and words (more mentions, more hits)."""
    rng = random.Random(seed)
    docs = []
    for d in range(n_docs):
        t = rng.randrange(len(aliases))
        names = rng.sample(aliases[t], min(len(aliases[t]), mentions))
        topics = rng.sample(keywords[t], min(len(keywords[t]), mentions * 2))
        pool = [*names, *topics]
        rng.shuffle(pool)
        sentences, size = [], 0
        while size < 2700:
            words = [rng.choice(FILLER) for _ in range(rng.randint(8, 20))]
            for _ in range(rng.randint(1, 3)):
                if pool:
                    words.insert(rng.randrange(len(words)), pool.pop())
                else:
                    words.insert(rng.randrange(len(words)), rng.choice(topics + names))
            sentence = " ".join(words)
            sentences.append(sentence[0].upper() + sentence[1:] + ".")
            size += len(sentences[-1]) + 1
        title = " ".join(rng.choice(FILLER + names + topics) for _ in range(8)).capitalize()
        docs.append(Item(source="bench", guid=str(d), title=title, content=" ".join(sentences)))
    return docs


def non_ascii(doc: Item) -> Item:
    """News typography: an em-dash, a quotation in curly quotes, a curly apostrophe."""
    parts = doc.content.split(". ")
    if len(parts) > 3:
        parts[2] = f"\u201c{parts[2]}\u201d"
        parts[1] = parts[1].replace(" ", "\u2019s ", 1)
    return replace(doc, content=". ".join(parts).replace(". ", " \u2014 ", 1))


# the gazetteer's cost ---------------------------------------------------------------------------------


def gazetteer_cost(
    world: dict[str, Any], corpus: list[Item], keywords: list[str], repeat: int, scanners: list[tuple[str, bool]]
) -> None:
    """The same rules with and without one more rule per country (entity: country:XX, every country used):
    load and compile time (the gazetteer built from cold) and throughput on the same English documents."""
    import pycountry

    rng = random.Random(3)
    extra = [
        {
            "id": f"c-{c.alpha_2.lower()}",
            "match": {"all": [{"entity": f"country:{c.alpha_2}"}, {"any": rng.sample(keywords, 3)}]},
        }
        for c in pycountry.countries
    ]
    with_countries = {"entities": world["entities"], "rules": [*world["rules"], *extra]}
    print("\nThe built-in gazetteer on English documents (load s: the first includes building the gazetteer;")
    print("docs/s: the best of --repeat passes, the two engines' passes taking turns):")
    print(f"{'scanner':>9} {'country rules':>14} {'rules':>6} {'load s':>7} {'docs/s':>8} {'vs without':>10}")
    for name, use_fast in scanners:
        built = []
        for label, doc in (("without", world), ("every country", with_countries)):
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "rules.yaml"
                path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
                t0 = time.perf_counter()
                ruleset = load_rules(path)
                engine = Engine(ruleset, fast=use_fast)
                built.append((label, engine, len(ruleset.rules), time.perf_counter() - t0))
            assert not ruleset.problems, ruleset.problems[:3]
        rates = [0.0] * len(built)
        for _ in range(max(repeat, 3)):
            for i, (_, engine, _, _) in enumerate(built):
                t0 = time.perf_counter()
                for item in corpus:
                    engine.match(item)
                rates[i] = max(rates[i], len(corpus) / (time.perf_counter() - t0))
        for (label, _, n, load_s), rate in zip(built, rates, strict=True):
            print(f"{name:>9} {label:>14} {n:>6} {load_s:>7.2f} {rate:>8.0f} {rate / rates[0]:>9.2f}x")


# the run ----------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10,100,1000,10000")
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--naive-docs", type=int, default=20, help="documents the (slow) baseline runs over")
    parser.add_argument("--repeat", type=int, default=3, help="passes over the corpus; the fastest is reported")
    parser.add_argument(
        "--non-ascii",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="news typography in each document (an em-dash, curly quotes): text that is not all ASCII",
    )
    parser.add_argument(
        "--hits-per-doc",
        type=float,
        default=0,
        help="the many-hit workload: rules in themes, documents mentioning enough of a theme for about this "
        "many hits each (0: the few-hit workload, ~0.3 hits per document)",
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, to show the benchmark still runs (CI)")
    args = parser.parse_args()
    if args.smoke:
        args.sizes, args.docs, args.naive_docs, args.repeat = "10,100", 50, 5, 1
    fast = fast_available()
    scanners = [("portable", False), ("hyperscan", True)] if fast else [("portable", False)]
    if not fast:
        print("Hyperscan is not installed (pip install '.[fast]'): the portable scanner only.")
    print(
        f"{'rules':>6} {'scanner':>9} {'load s':>7} {'MB':>6} {'engine docs/s':>14} {'naive docs/s':>13} "
        f"{'ratio':>8}  agree"
    )
    sizes = [int(s) for s in args.sizes.split(",")]
    for size in sizes:
        if args.hits_per_doc:
            world, theme_aliases, theme_keywords = make_themed_world(size)
            corpus = calibrated_corpus(world, theme_aliases, theme_keywords, args.docs, args.hits_per_doc)
            keywords = [k for ks in theme_keywords for k in ks]
        else:
            world, aliases, keywords = make_world(size)
            corpus = make_corpus(args.docs, aliases, keywords)
        if args.non_ascii:
            corpus = [non_ascii(doc) for doc in corpus]
        naive_rate = 0.0
        slow: list[list[str]] = []
        for name, use_fast in scanners:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "rules.yaml"
                path.write_text(yaml.safe_dump(world, sort_keys=False))
                t0 = time.perf_counter()
                ruleset = load_rules(path)
                engine = Engine(ruleset, fast=use_fast)
                load_s = time.perf_counter() - t0
                # Memory in a second load: tracemalloc slows allocation too much to time the first one with it.
                del engine
                tracemalloc.start()
                engine = Engine(load_rules(path), fast=use_fast)
                gc.collect()  # what the engine keeps, not the loader's garbage that waits for a collection
                python_mb = tracemalloc.get_traced_memory()[0] / 1e6
                tracemalloc.stop()
            assert not ruleset.problems, ruleset.problems[:3]
            mb = python_mb + engine.native_bytes() / 1e6  # the scanners live in C
            engine_rate = 0.0
            for _ in range(args.repeat):  # the best of a few passes, as timeit does: the least disturbed
                t0 = time.perf_counter()
                # Evidence included, as an alert needs it (a Match works it out when first asked for).
                found = [[m.rule.id for m in engine.match(doc) if m.evidence is not None] for doc in corpus]
                engine_rate = max(engine_rate, len(corpus) / (time.perf_counter() - t0))
            sample = corpus[: args.naive_docs]
            if not slow:
                naive = Naive(ruleset)
                t0 = time.perf_counter()
                slow = [naive.match(doc) for doc in sample]
                naive_rate = len(sample) / (time.perf_counter() - t0)
                reference = found
            # Both scanners over the whole corpus, and the baseline over its sample: exactly the same hits.
            agree = found[: len(sample)] == slow and found == reference
            if not agree:
                raise SystemExit(f"{name} at {size} rules disagrees with the baseline: a matching bug")
            hits = sum(map(len, found))
            print(
                f"{size:>6} {name:>9} {load_s:>7.2f} {mb:>6.1f} {engine_rate:>14.0f} {naive_rate:>13.1f} "
                f"{engine_rate / naive_rate:>7.0f}x  {'yes' if agree else 'NO'} "
                f"({hits} hits in {len(corpus)} docs)"
            )
    end_to_end(world, corpus, args.repeat)
    if not args.hits_per_doc:
        gazetteer_cost(world, corpus, keywords, args.repeat, scanners)


def calibrated_corpus(
    world: dict[str, Any], aliases: list[list[str]], keywords: list[list[str]], n_docs: int, target: float
) -> list[Item]:
    """The themed corpus whose mentions per document come closest to `target` hits per document."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rules.yaml"
        path.write_text(yaml.safe_dump(world, sort_keys=False))
        reference = Reference(load_rules(path))
    best: tuple[float, int] = (float("inf"), 1)
    for mentions in range(1, 16):
        sample = make_themed_corpus(40, aliases, keywords, mentions)
        hits = sum(len(reference.match(doc)) for doc in sample) / len(sample)
        best = min(best, (abs(hits - target), mentions))
    return make_themed_corpus(n_docs, aliases, keywords, best[1])


def end_to_end(world: dict[str, Any], corpus: list[Item], repeat: int) -> None:
    """`watcher match --json DIR` over the corpus as files (its start-up, rules compiled, timed on an empty
    directory and taken off), against the reference engine reading and matching the same files in-process."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "rules.yaml").write_text(yaml.safe_dump(world, sort_keys=False))
        docs, empty = root / "docs", root / "empty"
        docs.mkdir()
        empty.mkdir()
        for i, doc in enumerate(corpus):
            (docs / f"{i:05d}.txt").write_text(f"{doc.title}\n\n{doc.content}\n", encoding="utf-8")
        files = sorted(docs.iterdir())
        reference = Reference(load_rules(root / "rules.yaml"))
        ref_rate, expected = 0.0, set()
        for _ in range(repeat):
            t0 = time.perf_counter()
            for f in files:
                title, _, content = f.read_bytes().decode("utf-8").partition("\n\n")
                for rule in reference.match(Item(source="bench", title=title, content=content)):
                    expected.add((f.name, rule))
            ref_rate = max(ref_rate, len(files) / (time.perf_counter() - t0))

        def run(directory: Path) -> tuple[float, str]:
            t0 = time.perf_counter()
            out = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "watcher",
                    "match",
                    "--rules",
                    str(root / "rules.yaml"),
                    "--json",
                    str(directory),
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            return time.perf_counter() - t0, out.stdout

        startup = min(run(empty)[0] for _ in range(2))
        best, output = float("inf"), ""
        for _ in range(repeat):
            seconds, output = run(docs)
            best = min(best, seconds)
        found = {(Path(r["path"]).name, r["rule"]) for r in map(json.loads, output.splitlines())}
        engine_rate = len(files) / max(best - startup, 1e-6)
    print(
        f"\nEnd to end, `watcher match --json` over {len(files)} files ({len(found) / len(files):.1f} hits per "
        f"document; start-up of {startup:.2f}s taken off), against the reference engine (single-pass "
        "Aho-Corasick, rarest-term index, no evidence) reading the same files:"
    )
    print(f"  watcher match --json: {engine_rate:8.0f} docs/s")
    print(f"  reference engine:     {ref_rate:8.0f} docs/s")
    print(f"  ratio: {engine_rate / ref_rate:.2f}x (target: 2x); same hits: {'yes' if found == expected else 'NO'}")
    if found != expected:
        print(f"  differences: {len(found - expected)} only in watcher, {len(expected - found)} only in the reference")


if __name__ == "__main__":
    main()
