"""Writing a natural-language caption for what a scene shows.

A caption is built from the scene's mentions: things become noun phrases ("two brown dogs",
"a red car"), settings become prepositional phrases ("on the beach", "at night"), and a
template orders them ("a photo of ... on ... at ...", "... with ...", "at sunset, ...",
Flickr-style tag lists). Realism and noise: synonyms and hypernyms ("puppy", "pet", "animal"),
word-order variation, omitted objects (each mention is kept with probability 0.7), distractor
words ("beautiful", "summer", "nikon") and unlabelled objects ("a fence"), and now and then a
wrong word (a concept that is not in the picture).
"""

from __future__ import annotations

import numpy as np

from bench.datasets.scenes.render import Mention
from bench.datasets.scenes.stats import CONCEPTS, FREQUENCIES

#: Nouns of each drawn kind (singular; the first is the most common).
NOUNS: dict[str, tuple[str, ...]] = {
    "woman": ("woman", "girl", "lady", "woman"), "man": ("man", "guy", "boy", "man"),
    "baby": ("baby", "infant", "toddler", "baby"), "person": ("person",),
    "dog": ("dog", "puppy", "dog", "doggy"), "bird": ("bird", "bird", "sparrow"),
    "parrot": ("parrot", "bird"), "cat": ("cat", "kitten", "cat"), "horse": ("horse", "pony"),
    "cow": ("cow", "cow", "calf"), "sheep": ("sheep", "lamb"),
    "car": ("car", "car", "automobile", "sedan"), "bus": ("bus",),
    "train": ("train", "train", "locomotive"), "boat": ("boat", "sailboat", "ship"),
    "plane": ("plane", "airplane", "aircraft"), "bicycle": ("bicycle", "bike"),
    "pizza": ("pizza",), "fruit": ("fruit bowl", "plate of fruit"), "cake": ("cake", "dessert"),
    "salad": ("salad",), "bread": ("bread", "loaf"),
    "rose": ("rose",), "tulip": ("tulip",), "daisy": ("daisy",), "sunflower": ("sunflower",),
    "flower": ("flower", "blossom", "flower"),
    "tree": ("tree", "tree", "oak"), "pine": ("pine tree", "fir tree", "pine"),
    "palm": ("palm tree", "palm"),
    "house": ("house", "house", "cottage", "home"), "tower": ("tower", "skyscraper"),
    "church": ("church", "chapel"), "building": ("building", "building", "office block"),
    "bridge": ("bridge",), "columns": ("column", "pillar"), "arch": ("arch", "archway"),
    "hall": ("hall",), "portrait": ("portrait", "close-up face", "headshot", "selfie"),
}
#: Hypernyms a caption may use instead of the kind's noun.
GENERIC: dict[str, tuple[str, ...]] = {
    "animals": ("animal", "animal", "creature"), "dog": ("pet", "animal"), "bird": ("animal",),
    "female": ("person",), "male": ("person",), "baby": ("child", "kid"),
    "car": ("vehicle",), "transport": ("vehicle",), "food": ("food", "meal", "dish"),
    "flower": ("flower", "plant"), "tree": ("tree", "plant"),
    "structures": ("building", "structure"),
}
PLURAL = {"man": "men", "woman": "women", "person": "people", "baby": "babies", "sheep": "sheep",
          "bus": "buses", "puppy": "puppies", "pony": "ponies", "child": "children",
          "lady": "ladies", "calf": "calves", "loaf": "loaves", "dish": "dishes",
          "church": "churches", "daisy": "daisies", "doggy": "doggies", "kitten": "kittens",
          "sparrow": "sparrows", "aircraft": "aircraft", "bread": "bread", "fruit bowl":
          "fruit bowls", "plate of fruit": "plates of fruit", "salad": "salads", "kid": "kids",
          "archway": "archways", "palm": "palms"}
#: Settings (prepositional phrases) by concept and drawn kind.
SETTINGS: dict[str, tuple[str, ...]] = {
    "room": ("in a room", "indoors", "inside", "at home", "in the room"),
    "kitchen": ("in the kitchen", "in a kitchen", "indoors"),
    "living room": ("in the living room", "in a living room", "inside the house"),
    "sea": ("by the sea", "at the sea", "on the coast", "by the ocean"),
    "ocean": ("by the ocean", "at the ocean", "on the sea shore"),
    "beach": ("on the beach", "at the beach", "by the sea"),
    "lake": ("by the lake", "at a lake", "on the lakeside"), "pond": ("by a pond", "at the pond"),
    "river": ("by the river", "along the river", "on the riverbank"),
    "stream": ("by a stream", "along a creek"),
    "pool": ("by the pool", "at the swimming pool"), "water": ("by the water", "in the water"),
    "waves": ("by the waves", "near the water"),
    "grass": ("on the grass", "on a lawn"), "meadow": ("in a meadow", "on a green meadow"),
    "garden": ("in the garden", "in a garden"), "field": ("in a field", "on a grassy field"),
    "bushes": ("among bushes", "near green bushes"), "plants": ("among plants", "with plants"),
    "greenery": ("among greenery", "with lush greenery"),
    "plant": ("with a potted plant", "with a plant"), "houseplant": ("with a houseplant",),
    "sunset": ("at sunset", "during sunset", "at sundown", "at golden hour"),
    "dusk": ("at dusk", "at sunset"),
    "night": ("at night", "at night", "at nighttime", "in the evening"),
    "dark": ("in the dark", "at night"),
    "sky": ("under the sky", "against the sky", "under a clear sky"),
    "blue sky": ("under a blue sky", "with blue sky", "against a blue sky"),
    "clouds": ("under cloudy skies", "with clouds", "under white clouds", "with clouds in the sky"),
    "columns": ("between columns", "in a hall with pillars"),
    "arch": ("under an arch", "by an archway"), "hall": ("in a hall", "in a large hall"),
}
SCENE_NOUNS: dict[str, tuple[str, ...]] = {
    "sea": ("the sea", "the ocean", "a seascape"), "beach": ("a beach", "the beach"),
    "ocean": ("the ocean",), "lake": ("a lake", "the lake"), "pond": ("a pond",),
    "river": ("a river", "the river"), "stream": ("a stream",), "pool": ("a pool",),
    "water": ("water",), "waves": ("waves",), "grass": ("grass", "a lawn"),
    "meadow": ("a meadow",), "garden": ("a garden",), "field": ("a field",),
    "sunset": ("a sunset", "sunset", "the sunset"), "dusk": ("dusk",),
    "night": ("night", "the night"), "sky": ("the sky", "sky"),
    "blue sky": ("blue sky", "a blue sky"), "clouds": ("clouds", "cloudy sky", "white clouds"),
    "room": ("a room", "an interior"), "kitchen": ("a kitchen",),
    "living room": ("a living room",), "bushes": ("bushes",), "plants": ("plants",),
    "greenery": ("greenery",), "plant": ("a potted plant",), "houseplant": ("a houseplant",),
}
VERBS: dict[str, tuple[str, ...]] = {
    "female": ("standing", "walking", "smiling", "posing"),
    "male": ("standing", "walking", "posing", "waiting"), "baby": ("sleeping", "playing"),
    "people": ("walking", "gathering", "standing"), "dog": ("running", "playing", "sitting"),
    "animals": ("grazing", "standing", "resting"), "car": ("parked", "driving"),
    "transport": ("passing", "moving"),
}
FILLERS = ("beautiful", "summer", "holiday", "old", "vacation", "nice", "explore", "2008",
           "nikon", "canon", "happy", "weekend", "view", "travel", "my", "lovely", "fun")
PREFIXES = ("a photo of", "a picture of", "an image of", "photo of", "a snapshot of",
            "a blurry photo of", "a close-up of", "view of")
DISTRACTOR_NOUNS = {"lamp post": "lamp post", "umbrella": "umbrella", "mountains": "mountains",
                    "road": "road", "window": "window", "moon": "moon", "table": "table"}
_FREQ = np.asarray(FREQUENCIES) / np.sum(FREQUENCIES)
#: A stand-in mention per concept, for wrong words.
WRONG: dict[str, Mention] = {
    "animals": Mention("animals", "horse"), "baby": Mention("baby", "baby"),
    "bird": Mention("bird", "bird"), "car": Mention("car", "car"),
    "clouds": Mention("clouds", "clouds"), "dog": Mention("dog", "dog"),
    "female": Mention("female", "woman"), "flower": Mention("flower", "flower", 3),
    "food": Mention("food", "pizza"), "indoor": Mention("indoor", "room"),
    "lake": Mention("lake", "lake"), "male": Mention("male", "man"),
    "night": Mention("night", "night"), "people": Mention("people", "people", 4),
    "plant_life": Mention("plant_life", "garden"), "portrait": Mention("portrait", "portrait"),
    "river": Mention("river", "river"), "sea": Mention("sea", "sea"),
    "sky": Mention("sky", "blue sky"), "structures": Mention("structures", "house"),
    "sunset": Mention("sunset", "sunset"), "transport": Mention("transport", "bus"),
    "tree": Mention("tree", "tree"), "water": Mention("water", "water"),
}


_COUNT: dict[int, tuple[str, ...]] = {
    1: ("one",), 2: ("two", "two", "a pair of", ""), 3: ("three", "a few", "some", ""),
    4: ("four", "several", "many", "a group of"), 5: ("many", "several", "lots of"),
}


def _pick(rng: np.random.Generator, seq):
    return seq[int(rng.integers(len(seq)))]


def plural(noun: str) -> str:
    if noun in PLURAL:
        return PLURAL[noun]
    head, _, last = noun.rpartition(" ")
    if last in PLURAL:
        return f"{head} {PLURAL[last]}".strip()
    if noun.endswith(("s", "sh", "ch", "x")):
        return noun + "es"
    return noun + "s"


def article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def noun_phrase(m: Mention, rng: np.random.Generator) -> str:
    """E.g. "two brown dogs", "a red car", "some people", "a crowd"."""
    if m.kind in ("people", "crowd", "group"):
        return _pick(rng, ("people", "a crowd", "a group of people", "some people",
                           f"{_COUNT[min(m.count, 5)][0]} people", "persons"))
    if m.concept is None:
        noun = DISTRACTOR_NOUNS.get(m.kind, m.kind)
    elif m.concept in GENERIC and rng.random() < 0.2:
        noun = _pick(rng, GENERIC[m.concept])
    elif m.kind in SCENE_NOUNS:
        return _pick(rng, SCENE_NOUNS[m.kind])
    else:
        noun = _pick(rng, NOUNS.get(m.kind, (m.kind,)))
    adj = f"{m.color} " if m.color and rng.random() < 0.5 else ""
    if m.kind == "mountains":
        return "mountains"
    if m.count <= 1:
        if rng.random() < 0.08:
            return f"one {adj}{noun}"
        return f"{article(adj or noun)} {adj}{noun}"
    number = _pick(rng, _COUNT[min(m.count, 5)])
    return f"{number} {adj}{plural(noun)}".strip()


def setting_phrase(m: Mention, rng: np.random.Generator) -> str | None:
    """A prepositional phrase for a setting mention, or None when it is a thing."""
    options = SETTINGS.get(m.kind)
    if options is None:
        if m.concept == "structures" and m.kind in NOUNS:
            noun = _pick(rng, NOUNS[m.kind])
            prep = _pick(rng, ("in front of", "near", "next to", "by"))
            if m.count > 1 and m.kind in ("house", "building", "tower"):
                return f"{prep} {plural(noun)}" if rng.random() < 0.5 else "in the city"
            return f"{prep} {article(noun)} {noun}"
        if m.concept == "tree" and rng.random() < 0.4:
            noun = _pick(rng, NOUNS.get(m.kind, ("tree",)))
            return f"under {article(noun)} {noun}" if m.count == 1 else f"among {plural(noun)}"
        return None
    return _pick(rng, options)


def write_caption(mentions: list[Mention], labels: np.ndarray, rng: np.random.Generator,
                  p_keep: float = 0.7, p_wrong: float = 0.12) -> str:
    """One caption for a scene (see the module docstring)."""
    labelled = [m for m in mentions if m.concept is not None]
    kept = [m for m in labelled if rng.random() < p_keep]
    if not kept and labelled:
        kept = [_pick(rng, labelled)]
    extras = [m for m in mentions if m.concept is None and rng.random() < 0.35]
    if rng.random() < p_wrong:
        absent = np.flatnonzero(labels == 0)
        if len(absent):
            w = _FREQ[absent] / _FREQ[absent].sum()
            kept.append(WRONG[CONCEPTS[int(rng.choice(absent, p=w))]])
    order = rng.permutation(len(kept))
    kept = [kept[i] for i in order]
    things, settings = [], []
    portrait = next((m for m in kept if m.concept == "portrait"), None)
    sitter = next((m for m in kept if m.concept in ("female", "male", "baby")), None)
    if portrait is not None and sitter is not None:  # "a portrait of a woman"
        kept.remove(portrait)
        kept.remove(sitter)
        who = noun_phrase(sitter, rng)
        head = _pick(rng, ("a portrait of", "a close-up of", "portrait of", "a headshot of"))
        things.append((sitter, f"{head} {who}"))
    for m in kept:
        pp = setting_phrase(m, rng)
        if pp is None:
            np_ = noun_phrase(m, rng)
            if m.concept in VERBS and rng.random() < 0.3:
                np_ = f"{np_} {_pick(rng, VERBS[m.concept])}"
            things.append((m, np_))
        else:
            settings.append((m, pp))
    things += [(m, noun_phrase(m, rng)) for m in extras]
    style = rng.random()
    if style < 0.2:  # Flickr-style tags
        words = [t for _, t in things] + [_scene_word(m, rng) for m, _ in settings]
        words += [str(w) for w in rng.choice(FILLERS, int(rng.integers(0, 4)), replace=False)]
        words = [_strip_article(w) for w in words]
        rng.shuffle(words)
        sep = _pick(rng, (" ", ", "))
        return sep.join(words)
    thing_text = _join([t for _, t in things], rng)
    set_text = " ".join(p for _, p in settings)
    if not thing_text:
        scene = [_scene_word(m, rng) for m, _ in settings]
        text = _join(scene, rng) if style < 0.6 else f"{_pick(rng, PREFIXES)} {_join(scene, rng)}"
        if rng.random() < 0.3:
            text = f"{_pick(rng, FILLERS)} {text}"
        return text
    if style < 0.45:
        text = f"{_pick(rng, PREFIXES)} {thing_text} {set_text}"
    elif style < 0.7 or not settings:
        text = f"{thing_text} {set_text}"
    elif style < 0.85:
        text = f"{set_text}, {thing_text}"
    else:
        first, rest = settings[0], settings[1:]
        text = (f"{_scene_word(first[0], rng)} with {thing_text} "
                f"{' '.join(p for _, p in rest)}")
    text = " ".join(text.split())
    u = rng.random()
    if u < 0.2 and text.startswith(("a ", "an ")):  # "a lovely room with ..."
        adj = _pick(rng, ("beautiful", "lovely", "old", "nice", "summer", "small"))
        text = f"{article(adj)} {adj} {text.split(' ', 1)[1]}"
    elif u < 0.35:
        text = f"{text}, {_pick(rng, FILLERS)}"
    return text


def _scene_word(m: Mention, rng: np.random.Generator) -> str:
    if m.kind in SCENE_NOUNS:
        return _pick(rng, SCENE_NOUNS[m.kind])
    return noun_phrase(m, rng)


def _strip_article(text: str) -> str:
    for a in ("a ", "an ", "the ", "one "):
        if text.startswith(a):
            return text[len(a):]
    return text


def _join(parts: list[str], rng: np.random.Generator) -> str:
    parts = [p for p in parts if p]
    if len(parts) <= 1:
        return "".join(parts)
    sep = _pick(rng, (" and ", " with ", ", ")) if len(parts) == 2 else ", "
    if len(parts) == 2:
        return sep.join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]
