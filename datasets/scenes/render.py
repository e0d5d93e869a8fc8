"""Drawing one scene from its labels: background cues, objects, lighting, camera noise.

Every concept has a visual rendering (several *kinds* per concept, e.g. animals: cat, horse,
cow, sheep), placed with perspective (lower = nearer = larger). The renderer returns the image
and what it drew (:class:`Mention`: concept, kind, count), from which the caption is written,
plus unlabelled *distractor* objects (rocks, fences, lamp posts, kites, ...). As with real
tag-based labels, a labelled concept is sometimes not visible (``P_HIDDEN``); the caption may
still name it.

Cues by concept: sky = blue gradient above the horizon (stars and moon at night); clouds =
white puffs; sunset = purple-orange-yellow gradient and a low sun; night = the whole scene dark
and blue, with lit windows, head lamps, stars; indoor = a wall, a floor, a window (showing sky
when there is sky) and furniture; structures = houses, towers, churches, bridges with window
grids (columns indoors); plant_life = grass texture, bushes or a potted plant; tree = crowns
on trunks (round, pine, palm); flower = petals on stems (rose, tulip, daisy, sunflower); water
= a wavy blue band or a pool; sea = a full-width band at the horizon with waves and a beach;
lake = a blue oval; river = a winding band; people = crowds of small figures; female = a
figure in a dress with long hair; male = trousers, a shirt, short hair; baby = a small
big-headed figure (or a pram); portrait = a large face; animals = cat, horse, cow, sheep;
dog = a brown four-legged animal with floppy ears; bird = flying "v"s or a perched bird; car =
a body, a cabin and two wheels; transport = bus, train, boat, plane or bicycle; food = plates
on a table (pizza, fruit, cake, salad, bread).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bench.datasets.scenes import draw
from bench.datasets.scenes.stats import CONCEPTS, INDEX

SIZE = 64


@dataclass
class Mention:
    """Something drawn that a caption can mention."""

    concept: str | None  #: None for an unlabelled distractor
    kind: str  #: the word-level kind, e.g. "horse" for the concept animals
    count: int = 1
    color: str | None = None


@dataclass
class Scene:
    image: np.ndarray  #: uint8 (SIZE, SIZE, 3)
    mentions: list[Mention] = field(default_factory=list)


# ----------------------------------------------------------------------------- palettes
COLORS: dict[str, tuple[float, float, float]] = {
    "red": (0.85, 0.12, 0.12), "blue": (0.15, 0.3, 0.85), "yellow": (0.95, 0.85, 0.15),
    "green": (0.2, 0.65, 0.25), "white": (0.95, 0.95, 0.95), "black": (0.08, 0.08, 0.08),
    "orange": (0.95, 0.55, 0.1), "pink": (0.95, 0.55, 0.7), "purple": (0.55, 0.25, 0.7),
    "gray": (0.55, 0.55, 0.58), "brown": (0.5, 0.32, 0.18),
}
SKIN = ((0.96, 0.8, 0.66), (0.87, 0.68, 0.5), (0.66, 0.46, 0.32), (0.42, 0.28, 0.18))
HAIR = ((0.1, 0.07, 0.05), (0.35, 0.2, 0.1), (0.85, 0.7, 0.35), (0.6, 0.25, 0.1))
WALLS = ((0.92, 0.87, 0.75), (0.85, 0.9, 0.82), (0.88, 0.88, 0.9), (0.95, 0.82, 0.8),
         (0.8, 0.72, 0.6))
FLOORS = ((0.55, 0.38, 0.22), (0.45, 0.45, 0.5), (0.7, 0.55, 0.4), (0.35, 0.25, 0.2))
BACKDROPS = ((0.2, 0.3, 0.16), (0.45, 0.36, 0.27), (0.5, 0.48, 0.46), (0.78, 0.72, 0.6),
             (0.62, 0.42, 0.32))
GROUNDS = {"sand": (0.86, 0.78, 0.56), "dirt": (0.55, 0.43, 0.3),
           "pavement": (0.46, 0.46, 0.48), "snow": (0.92, 0.93, 0.96)}
GRASS = ((0.3, 0.6, 0.2), (0.22, 0.5, 0.18), (0.42, 0.65, 0.25))
WATER = ((0.12, 0.35, 0.7), (0.1, 0.45, 0.65), (0.2, 0.5, 0.8))
BUILDING = ((0.6, 0.6, 0.62), (0.7, 0.33, 0.25), (0.85, 0.8, 0.68), (0.93, 0.93, 0.9),
            (0.45, 0.5, 0.58))
LIT = (1.0, 0.9, 0.45)
#: Label noise as in tag-based annotation: each labelled concept is left out of the picture with
#: this probability (at least one stays visible); the caption may still mention it.
P_HIDDEN = 0.12
#: How a caption names a concept that is not drawn.
HIDDEN_KIND = {
    "animals": "cat", "baby": "baby", "bird": "bird", "car": "car", "clouds": "clouds",
    "dog": "dog", "female": "woman", "flower": "flower", "food": "cake", "indoor": "room",
    "lake": "lake", "male": "man", "night": "night", "people": "people", "plant_life": "plants",
    "portrait": "portrait", "river": "river", "sea": "sea", "sky": "sky",
    "structures": "building", "sunset": "sunset", "transport": "bus", "tree": "tree",
    "water": "water",
}


def _pick(rng: np.random.Generator, seq):
    return seq[int(rng.integers(len(seq)))]


def _jitter(rng: np.random.Generator, color, amount: float = 0.06) -> np.ndarray:
    return np.clip(np.asarray(color, np.float32) + rng.normal(0, amount, 3), 0, 1)


def _color(rng: np.random.Generator, names: tuple[str, ...]) -> tuple[str, np.ndarray]:
    name = _pick(rng, names)
    return name, _jitter(rng, COLORS[name], 0.04)


class Renderer:
    """Draws one scene for a label row (see the module docstring)."""

    def __init__(self, labels: np.ndarray, own: np.ndarray, rng: np.random.Generator):
        self.has = {c: bool(labels[INDEX[c]]) for c in CONCEPTS}
        self.own = {c: bool(own[INDEX[c]]) for c in CONCEPTS}
        present = [c for c in CONCEPTS if self.has[c]]
        self.hidden = [c for c in present if rng.random() < P_HIDDEN][: max(len(present) - 1, 0)]
        for c in self.hidden:
            self.has[c] = self.own[c] = False
        self.rng = rng
        self.img = np.zeros((SIZE, SIZE, 3), np.float32)
        self.mentions: list[Mention] = []
        self.emissive: list = []  #: drawn after the night darkening
        self.horizon = SIZE * 0.5
        self.objects: list[tuple[float, object]] = []  #: (depth y, draw callable)

    # ------------------------------------------------------------------ helpers
    def mention(self, concept: str | None, kind: str, count: int = 1,
                color: str | None = None) -> None:
        self.mentions.append(Mention(concept, kind, count, color))

    def ground_y(self) -> float:
        """A random y on the ground (between horizon and bottom)."""
        return float(self.rng.uniform(self.horizon + 5, SIZE - 2))

    def scale(self, y: float) -> float:
        return 0.45 + 0.75 * (y - self.horizon) / max(SIZE - self.horizon, 1)

    def add(self, y: float, fn) -> None:
        self.objects.append((y, fn))

    # ------------------------------------------------------------------ top level
    def render(self) -> Scene:
        h, r = self.has, self.rng
        if h["indoor"]:
            self.indoor_background()
        else:
            self.horizon = float(r.uniform(0.38, 0.6) * SIZE)
            self.sky_background()
            self.ground()
        self.place_objects()
        self.distractors()
        for _, fn in sorted(self.objects, key=lambda t: t[0]):
            fn()
        if h["portrait"]:
            self.portrait()
        if h["sunset"]:
            self.img *= np.asarray((1.05, 0.88, 0.72), np.float32)
        if h["night"]:
            factor = (0.42, 0.42, 0.55) if h["indoor"] else (0.26, 0.28, 0.42)
            self.img *= np.asarray(factor, np.float32)
        for fn in self.emissive:
            fn()
        drawn = {m.concept for m in self.mentions}
        for c in self.hidden:
            if c not in drawn:
                self.mention(c, HIDDEN_KIND[c], 3 if c in ("people", "flower") else 1)
        return Scene(self.camera(), self.mentions)

    def camera(self) -> np.ndarray:
        r, img = self.rng, self.img
        img *= float(r.uniform(0.82, 1.15))
        img += r.normal(0, 0.035, 3).astype(np.float32)
        if r.random() < 0.3:  # slight blur
            img[1:] = 0.5 * (img[1:] + img[:-1])
            img[:, 1:] = 0.5 * (img[:, 1:] + img[:, :-1])
        img += r.standard_normal(img.shape, dtype=np.float32) * np.float32(r.uniform(0.01, 0.06))
        if r.random() < 0.5:
            img = img[:, ::-1]
        return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)

    # ------------------------------------------------------------------ backgrounds
    def sky_background(self) -> None:
        h, r, img = self.has, self.rng, self.img
        hz = int(round(self.horizon))
        if h["sunset"]:
            draw.vgradient(img, 0, hz // 2, _jitter(r, (0.42, 0.2, 0.5)),
                           _jitter(r, (0.92, 0.4, 0.25)))
            draw.vgradient(img, hz // 2, hz, _jitter(r, (0.95, 0.45, 0.2)),
                           _jitter(r, (1.0, 0.82, 0.35)))
            x = r.uniform(10, SIZE - 10)
            draw.circle(img, hz - r.uniform(0, 5), x, r.uniform(4, 7), (1.0, 0.9, 0.55))
            self.mention("sunset", _pick(r, ("sunset", "sunset", "dusk")))
        elif h["sky"] and h["night"]:
            draw.vgradient(img, 0, hz, _jitter(r, (0.03, 0.04, 0.14), 0.02),
                           _jitter(r, (0.12, 0.14, 0.3), 0.03))
            self.mention("sky", "sky")
        elif h["sky"]:
            overcast = h["clouds"] and r.random() < 0.35
            top, bottom = ((0.6, 0.64, 0.7), (0.8, 0.82, 0.86)) if overcast else \
                ((0.3, 0.55, 0.92), (0.68, 0.84, 1.0))
            draw.vgradient(img, 0, hz, _jitter(r, top, 0.04), _jitter(r, bottom, 0.04))
            if not h["clouds"]:
                self.mention("sky", "blue sky" if r.random() < 0.5 else "sky")
        elif h["night"]:
            draw.vgradient(img, 0, hz, _jitter(r, (0.05, 0.05, 0.08), 0.02),
                           _jitter(r, (0.12, 0.1, 0.12), 0.03))
        else:  # no sky in view: a wall of foliage, rock, a facade
            base = _jitter(r, _pick(r, BACKDROPS), 0.05)
            draw.vgradient(img, 0, hz, base * 0.9, base)
            draw.texture(img, r, 0, hz, 0.08, scale=2)
        if h["night"] and (h["sky"] or h["sunset"]):
            n = int(r.integers(6, 20))
            ys, xs = r.uniform(0, hz * 0.8, n), r.uniform(0, SIZE, n)
            moon = (r.uniform(4, hz * 0.5), r.uniform(8, SIZE - 8), r.uniform(2.5, 4.5))

            def stars() -> None:
                for y, x in zip(ys, xs, strict=True):
                    draw.rect(img, y, y + 1, x, x + 1, (0.95, 0.95, 0.85))
                draw.circle(img, *moon, (0.98, 0.96, 0.8))

            self.emissive.append(stars)
            self.mention(None, "moon")
        if h["clouds"]:
            self.clouds(hz)
        if h["night"]:
            self.mention("night", _pick(r, ("night", "night", "dark")))

    def clouds(self, hz: int) -> None:
        r, img = self.rng, self.img
        n = int(r.integers(2, 5))
        tone = (1.0, 0.8, 0.75) if self.has["sunset"] else (0.97, 0.97, 0.98)
        for _ in range(n):
            cy, cx = r.uniform(3, max(hz - 6, 4)), r.uniform(0, SIZE)
            w = r.uniform(6, 12)
            col = _jitter(r, tone, 0.03) * r.uniform(0.85, 1.0)
            for _ in range(int(r.integers(3, 6))):
                draw.ellipse(img, cy + r.normal(0, 1.5), cx + r.normal(0, w / 2),
                             r.uniform(2, 4.5), r.uniform(3, 6), col)
        self.mention("clouds", "clouds", n)

    def ground(self) -> None:
        h, r, img = self.has, self.rng, self.img
        hz = self.horizon
        grassy = h["plant_life"] and (self.own["plant_life"] or r.random() < 0.7)
        if grassy:
            col = _jitter(r, _pick(r, GRASS), 0.04)
        elif h["sea"]:
            col = _jitter(r, GROUNDS["sand"], 0.03)
        elif h["structures"] or h["car"]:
            col = _jitter(r, GROUNDS["pavement"], 0.04)
        else:
            col = _jitter(r, GROUNDS[_pick(r, ("sand", "dirt", "dirt", "snow"))], 0.04)
        draw.vgradient(img, int(hz), SIZE, col * 0.85, col * 1.05)
        draw.texture(img, r, int(hz), SIZE, 0.1 if grassy else 0.05, scale=1)
        if grassy:
            for _ in range(int(r.integers(15, 35))):
                y, x = r.uniform(hz + 2, SIZE), r.uniform(0, SIZE)
                draw.line(img, y, x, y - r.uniform(2, 4), x + r.normal(0, 1), 0.8,
                          col * r.uniform(0.6, 0.8))
            if self.own["plant_life"]:
                self.mention("plant_life", _pick(r, ("grass", "meadow", "garden", "field")))
        if h["water"]:
            self.water()
        if (h["car"] or h["structures"]) and not h["water"] and r.random() < 0.6:
            y = r.uniform(hz + 6, SIZE - 8)
            draw.rect(img, y, y + 7, 0, SIZE, _jitter(r, (0.3, 0.3, 0.32), 0.03))
            for x in range(2, SIZE, 10):
                draw.rect(img, y + 3, y + 4, x, x + 5, (0.9, 0.9, 0.85))
            self.mention(None, "road")

    def water(self) -> None:
        h, r, img = self.has, self.rng, self.img
        hz = self.horizon
        col = _jitter(r, _pick(r, WATER), 0.04)
        if h["sunset"]:
            col = col * 0.6 + np.asarray((0.9, 0.5, 0.3), np.float32) * 0.4
        xs = np.arange(SIZE, dtype=np.float32)
        if h["sea"]:
            bottom = r.uniform(hz + 10, SIZE - 4) if r.random() < 0.7 else SIZE
            draw.rect(img, hz, bottom, 0, SIZE, col)
            for _ in range(int(r.integers(3, 7))):
                y = r.uniform(hz + 2, bottom - 1)
                x = r.uniform(0, SIZE)
                draw.line(img, y, x, y, x + r.uniform(4, 10), 0.8, (0.85, 0.9, 0.95))
            self.mention("sea", _pick(r, ("sea", "ocean", "beach")))
        if h["lake"]:
            cy, cx = r.uniform(hz + 6, SIZE - 12), r.uniform(18, SIZE - 18)
            draw.ellipse(img, cy, cx, r.uniform(4, 9), r.uniform(12, 22), col * 0.95)
            draw.line(img, cy - 1, cx - 5, cy - 1, cx + 4, 0.7, (0.8, 0.88, 0.95))
            self.mention("lake", _pick(r, ("lake", "lake", "pond")))
        if h["river"]:
            x_far, x_near = r.uniform(20, 44), r.uniform(10, 54)
            w_far, w_near = r.uniform(2, 4), r.uniform(10, 18)
            n = 6
            ys = np.linspace(hz, SIZE, n + 1)
            for i in range(n):
                t0, t1 = i / n, (i + 1) / n
                c0 = x_far + (x_near - x_far) * t0 + 5 * np.sin(6 * t0)
                c1 = x_far + (x_near - x_far) * t1 + 5 * np.sin(6 * t1)
                w0, w1 = w_far + (w_near - w_far) * t0, w_far + (w_near - w_far) * t1
                draw.polygon(img, [(ys[i], c0 - w0), (ys[i], c0 + w0),
                                   (ys[i + 1], c1 + w1), (ys[i + 1], c1 - w1)], col)
            self.mention("river", _pick(r, ("river", "river", "stream")))
        if self.own["water"] or not (h["sea"] or h["lake"] or h["river"]):
            if r.random() < 0.4:  # a pool
                y0 = r.uniform(hz + 8, SIZE - 14)
                x0 = r.uniform(0, SIZE - 24)
                draw.rect(img, y0, y0 + r.uniform(8, 14), x0, x0 + r.uniform(18, 30),
                          _jitter(r, (0.35, 0.75, 0.9), 0.04))
                self.mention("water", "pool")
            else:  # a wavy band at the bottom
                phase, period = r.uniform(0, 6), r.uniform(2, 4)
                top = SIZE - r.uniform(10, 20) + 1.5 * np.sin(xs / period + phase)
                draw.wavy_band(img, top.astype(np.float32), SIZE, col)
                for _ in range(3):
                    y = float(r.uniform(top.max() + 1, SIZE - 1))
                    x = r.uniform(0, SIZE - 8)
                    draw.line(img, y, x, y, x + 6, 0.7, (0.75, 0.85, 0.95))
                self.mention("water", _pick(r, ("water", "water", "waves")))

    def indoor_background(self) -> None:
        h, r, img = self.has, self.rng, self.img
        floor = float(r.uniform(0.62, 0.8) * SIZE)
        self.horizon = floor - 8  # objects stand between here and the bottom
        wall = _jitter(r, _pick(r, WALLS), 0.04)
        draw.vgradient(img, 0, int(floor), wall * 0.92, wall)
        if r.random() < 0.4:  # wallpaper stripes
            for x in range(int(r.integers(0, 6)), SIZE, 6):
                draw.rect(img, 0, floor, x, x + 1.5, wall * 0.9)
        fcol = _jitter(r, _pick(r, FLOORS), 0.04)
        draw.vgradient(img, int(floor), SIZE, fcol * 0.85, fcol * 1.05)
        draw.texture(img, r, int(floor), SIZE, 0.06, scale=1)
        self.mention("indoor", _pick(r, ("room", "room", "kitchen", "living room")))
        view = h["sky"] or h["sunset"] or h["clouds"]
        if view or r.random() < 0.35:
            wy, wx = r.uniform(4, 12), r.uniform(4, SIZE - 26)
            ww, wh = r.uniform(16, 24), r.uniform(14, 20)
            draw.rect(img, wy - 1.5, wy + wh + 1.5, wx - 1.5, wx + ww + 1.5, (0.97, 0.97, 0.97))
            if h["sunset"]:
                glass = (0.98, 0.55, 0.25)
            elif h["night"]:
                glass = (0.05, 0.06, 0.18)
            elif view:
                glass = (0.45, 0.7, 0.98)
            else:
                glass = (0.8, 0.82, 0.8)
            draw.rect(img, wy, wy + wh, wx, wx + ww, _jitter(r, glass, 0.03))
            if h["clouds"]:
                draw.ellipse(img, wy + wh * 0.35, wx + ww * 0.5, 2.5, 5, (0.97, 0.97, 0.98))
            draw.rect(img, wy, wy + wh, wx + ww / 2 - 0.6, wx + ww / 2 + 0.6, (0.97, 0.97, 0.97))
            self.mention(None, "window")
        if h["structures"]:  # columns and an arch
            col = _jitter(r, (0.75, 0.74, 0.72), 0.04)
            x0 = r.uniform(2, 14)
            x1 = SIZE - r.uniform(2, 14)
            for x in (x0, x1):
                draw.rect(img, 6, floor, x, x + 5, col)
                draw.rect(img, 5, 8, x - 1, x + 6, col * 0.9)
            draw.rect(img, 4, 8, x0, x1 + 5, col)
            self.mention("structures", _pick(r, ("columns", "arch", "hall")))
        furniture = _pick(r, ("sofa", "table", "shelf", "none"))
        if furniture == "sofa":
            x0, c = r.uniform(0, SIZE - 30), _jitter(r, _pick(r, BACKDROPS), 0.05)
            draw.rect(img, floor - 10, floor + 2, x0, x0 + 28, c)
            draw.rect(img, floor - 14, floor - 8, x0 + 2, x0 + 26, c * 0.85)
        elif furniture == "shelf":
            x0 = r.uniform(0, SIZE - 14)
            draw.rect(img, floor - 30, floor, x0, x0 + 12, (0.45, 0.3, 0.18))
            for k in range(3):
                for j in range(4):
                    draw.rect(img, floor - 27 + 9 * k, floor - 21 + 9 * k, x0 + 1 + 2.6 * j,
                              x0 + 3 + 2.6 * j, _jitter(r, _pick(r, list(COLORS.values()))))
        if furniture != "none":
            self.mention(None, furniture)
        if h["night"]:
            lx, ly = r.uniform(6, SIZE - 6), r.uniform(4, 14)
            self.emissive.append(lambda: draw.circle(img, ly, lx, 3, LIT))
            self.mention(None, "lamp")

    # ------------------------------------------------------------------ objects
    def place_objects(self) -> None:
        h, o, r = self.has, self.own, self.rng
        if h["structures"] and not h["indoor"]:
            self.buildings()
        if h["tree"]:
            self.trees()
        if o["plant_life"] and h["indoor"]:
            self.potted_plant()
        elif o["plant_life"] and r.random() < 0.6:
            self.bushes()
        if h["flower"]:
            self.flowers()
        people = [c for c in ("female", "male", "baby") if h[c]]
        portrait_of = None
        if h["portrait"]:
            portrait_of = _pick(r, people) if people else "person"
            self.portrait_of = portrait_of
        for c in people:
            if c == portrait_of:
                continue
            n = 1 if c == "baby" else int(r.choice((1, 1, 1, 2, 2, 3)))
            for _ in range(n):
                self.person(c)
            self.mention(c, {"female": "woman", "male": "man", "baby": "baby"}[c], n)
        if o["people"] and (not h["portrait"] or r.random() < 0.5):
            self.crowd()
        if h["dog"]:
            n = int(r.choice((1, 1, 1, 2)))
            for _ in range(n):
                self.dog()
            self.mention("dog", "dog", n)
        if h["bird"]:
            self.birds()
        if o["animals"] or (h["animals"] and not (h["dog"] or h["bird"])):
            self.animal()
        if h["car"]:
            n = int(r.choice((1, 1, 2, 2, 3)))
            color = None
            for _ in range(n):
                color = self.car()
            self.mention("car", "car", n, color if n == 1 else None)
        if o["transport"] or (h["transport"] and not h["car"]):
            self.vehicle()
        if h["food"]:
            self.food()

    def buildings(self) -> None:
        r, img, hz = self.rng, self.img, self.horizon
        night = self.has["night"]
        n = int(r.integers(1, 4))
        kinds = []
        for _ in range(n):
            kind = _pick(r, ("house", "house", "tower", "church", "building"))
            if self.has["river"] and r.random() < 0.3:
                kind = "bridge"
            kinds.append(kind)
            col = _jitter(r, _pick(r, BUILDING), 0.04)
            x0 = r.uniform(-4, SIZE - 10)
            base = hz + r.uniform(0, 6)
            if kind == "bridge":
                y = hz + r.uniform(2, 8)
                draw.rect(img, y, y + 2.5, 0, SIZE, col)
                for x in np.arange(r.uniform(0, 8), SIZE, 14):
                    draw.rect(img, y, y + 9, x, x + 2.5, col * 0.9)
                continue
            w = {"house": r.uniform(12, 18), "tower": r.uniform(7, 11),
                 "church": r.uniform(10, 14), "building": r.uniform(12, 20)}[kind]
            hgt = {"house": r.uniform(10, 15), "tower": r.uniform(24, 36),
                   "church": r.uniform(14, 20), "building": r.uniform(16, 26)}[kind]
            top = base - hgt
            draw.rect(img, top, base, x0, x0 + w, col)
            if kind == "house":
                draw.polygon(img, [(top, x0 - 2), (top, x0 + w + 2), (top - w * 0.45, x0 + w / 2)],
                             _jitter(r, (0.55, 0.2, 0.15), 0.05))
                draw.rect(img, base - 6, base, x0 + w / 2 - 1.5, x0 + w / 2 + 1.5,
                          (0.35, 0.22, 0.12))
            if kind == "church":
                draw.polygon(img, [(top, x0 + w * 0.25), (top, x0 + w * 0.75),
                                   (top - 12, x0 + w / 2)], col * 0.85)
            wins = [(y, x) for y in np.arange(top + 2, base - 4, 4)
                    for x in np.arange(x0 + 2, x0 + w - 2, 3.5)]
            on = r.random(len(wins)) < (0.6 if night else 0.0)
            for (y, x), lit in zip(wins, on, strict=True):
                if lit:
                    self.emissive.append(
                        lambda y=y, x=x: draw.rect(img, y, y + 2, x, x + 1.6, LIT))
                else:
                    draw.rect(img, y, y + 2, x, x + 1.6, col * 0.45)
        kind = _pick(r, kinds)
        self.mention("structures", kind, n if kind in ("house", "building", "tower") else 1)

    def trees(self) -> None:
        r, img = self.rng, self.img
        palm = self.has["sea"] and r.random() < 0.6
        kind = "palm" if palm else _pick(r, ("tree", "tree", "pine"))
        n = int(r.choice((1, 1, 2, 3)))
        for _ in range(n):
            y = self.ground_y() if r.random() < 0.6 else self.horizon + r.uniform(0, 4)
            x, s = r.uniform(2, SIZE - 2), self.scale(y) * r.uniform(0.9, 1.3)

            def tree(y=y, x=x, s=s) -> None:
                trunk = _jitter(r, (0.4, 0.25, 0.12), 0.04)
                green = _jitter(r, (0.15, 0.5, 0.15), 0.05)
                if kind == "pine":
                    draw.rect(img, y - 5 * s, y, x - 1 * s, x + 1 * s, trunk)
                    for k in range(3):
                        yb = y - 4 * s - k * 6 * s
                        draw.polygon(img, [(yb, x - 8 * s + 2 * k * s), (yb, x + 8 * s - 2 * k * s),
                                           (yb - 10 * s, x)], green * 0.8)
                elif kind == "palm":
                    draw.line(img, y, x, y - 22 * s, x + 4 * s, 2 * s, trunk)
                    for dx in (-9, -5, 5, 9):
                        draw.line(img, y - 22 * s, x + 4 * s, y - 18 * s, x + 4 * s + dx * s,
                                  1.3 * s, green)
                else:
                    draw.rect(img, y - 12 * s, y, x - 1.5 * s, x + 1.5 * s, trunk)
                    for dy, dx in ((-16, 0), (-13, -5), (-13, 5), (-20, 0)):
                        shade = green * r.uniform(0.85, 1.1)
                        draw.circle(img, y + dy * s, x + dx * s, 6 * s, shade)

            self.add(y, tree)
        self.mention("tree", kind, n)

    def bushes(self) -> None:
        r, img = self.rng, self.img
        for _ in range(int(r.integers(2, 5))):
            y = self.ground_y()
            x, s = r.uniform(0, SIZE), self.scale(y)
            col = _jitter(r, (0.18, 0.45, 0.15), 0.05)
            self.add(y, lambda y=y, x=x, s=s, col=col: [
                draw.ellipse(img, y - 3 * s, x + dx * s, 4 * s, 5 * s, col * f)
                for dx, f in ((-4, 0.9), (0, 1.0), (4, 0.85))])
        self.mention("plant_life", _pick(r, ("bushes", "plants", "greenery")))

    def potted_plant(self) -> None:
        r, img = self.rng, self.img
        y, x = SIZE - r.uniform(3, 10), r.uniform(6, SIZE - 6)

        def plant() -> None:
            draw.polygon(img, [(y - 7, x - 4), (y - 7, x + 4), (y, x + 3), (y, x - 3)],
                         _jitter(r, (0.7, 0.35, 0.2), 0.05))
            for dx in (-5, -2, 0, 2, 5):
                draw.line(img, y - 7, x, y - 15 + abs(dx), x + dx, 1.6, (0.15, 0.55, 0.2))

        self.add(y, plant)
        self.mention("plant_life", _pick(r, ("plant", "houseplant")))

    def flowers(self) -> None:
        r, img = self.rng, self.img
        kind = _pick(r, ("rose", "tulip", "daisy", "sunflower", "flower"))
        petal = {"rose": "red", "tulip": _pick(r, ("pink", "purple", "red")), "daisy": "white",
                 "sunflower": "yellow", "flower": _pick(r, ("pink", "purple", "orange", "red"))}
        pname = petal[kind]
        pcol = COLORS[pname]
        center = (0.45, 0.28, 0.1) if kind == "sunflower" else (0.95, 0.8, 0.15)
        n = int(r.integers(3, 8))
        vase = self.has["indoor"] or r.random() < 0.1
        if vase:
            by, bx = SIZE - r.uniform(4, 14), r.uniform(10, SIZE - 10)
        big = self.has["flower"] and not (self.has["people"] or self.has["structures"])
        for _ in range(n):
            if vase:
                y, x = by - r.uniform(12, 18), bx + r.uniform(-6, 6)
                y0, x0 = by - 8, bx
            else:
                y0 = self.ground_y() if not big else r.uniform(SIZE * 0.6, SIZE)
                x0 = r.uniform(0, SIZE)
                y, x = y0 - r.uniform(4, 9) * self.scale(y0), x0 + r.normal(0, 1)
            s = self.scale(y0) * (1.6 if big else 1.0) * (1.3 if kind == "sunflower" else 1.0)
            col = _jitter(r, pcol, 0.05)

            def flower(y=y, x=x, y0=y0, x0=x0, s=s, col=col) -> None:
                draw.line(img, y0, x0, y, x, 0.8, (0.2, 0.55, 0.2))
                if kind == "tulip":
                    draw.polygon(img, [(y - 3 * s, x - 2 * s), (y - 3 * s, x + 2 * s),
                                       (y + 1.5 * s, x + 1.5 * s), (y + 1.5 * s, x - 1.5 * s)],
                                 col)
                    return
                for a in np.linspace(0, 2 * np.pi, 6)[:-1]:
                    draw.circle(img, y + 2 * s * np.sin(a), x + 2 * s * np.cos(a), 1.4 * s, col)
                draw.circle(img, y, x, 1.1 * s, center)

            self.add(y0, flower)
        if vase:
            self.add(by, lambda: draw.polygon(img, [(by - 9, bx - 3), (by - 9, bx + 3),
                                                    (by, bx + 4), (by, bx - 4)],
                                              _jitter(r, (0.3, 0.45, 0.8), 0.05)))
            self.mention(None, "vase")
        self.mention("flower", kind, n, pname)

    def person(self, kind: str, y: float | None = None, x: float | None = None,
               height: float | None = None) -> None:
        r, img = self.rng, self.img
        y = self.ground_y() if y is None else y
        x = r.uniform(6, SIZE - 6) if x is None else x
        s = self.scale(y)
        hgt = (height or r.uniform(24, 30) * s) * (0.5 if kind == "baby" else 1.0)
        skin = _jitter(r, _pick(r, SKIN), 0.02)
        hair = _jitter(r, _pick(r, HAIR), 0.02)
        shirt = _jitter(r, _pick(r, list(COLORS.values())), 0.05)
        pram = kind == "baby" and r.random() < 0.4
        lw = max(hgt * 0.07, 0.9)

        def figure() -> None:
            head_r = hgt * (0.2 if kind == "baby" else 0.11)
            hy = y - hgt + head_r
            neck = hy + head_r
            hip = y - hgt * 0.45
            if pram:
                draw.rect(img, y - hgt * 0.9, y - hgt * 0.3, x - hgt * 0.6, x + hgt * 0.6,
                          _jitter(r, (0.3, 0.4, 0.7), 0.05))
                draw.circle(img, y - hgt * 0.15, x - hgt * 0.4, hgt * 0.15, (0.1, 0.1, 0.1))
                draw.circle(img, y - hgt * 0.15, x + hgt * 0.4, hgt * 0.15, (0.1, 0.1, 0.1))
                draw.circle(img, y - hgt * 0.95, x, head_r, skin)
                return
            if kind == "female":
                draw.ellipse(img, hy + head_r * 0.8, x, head_r * 1.9, head_r * 1.25, hair)
            for dx in (-1, 1):
                draw.line(img, hip, x + dx * hgt * 0.05, y, x + dx * hgt * 0.13, lw,
                          skin if kind == "female" else (0.12, 0.14, 0.3))
                up = r.random() < 0.2
                draw.line(img, neck + hgt * 0.06, x, neck + (-0.1 if up else 0.3) * hgt,
                          x + dx * hgt * 0.22, lw * 0.9, skin)
            if kind == "female":
                draw.polygon(img, [(neck, x - hgt * 0.08), (neck, x + hgt * 0.08),
                                   (y - hgt * 0.22, x + hgt * 0.22),
                                   (y - hgt * 0.22, x - hgt * 0.22)], shirt)
            else:
                draw.rect(img, neck, hip + hgt * 0.04, x - hgt * 0.12, x + hgt * 0.12, shirt)
            draw.circle(img, hy, x, head_r, skin)
            if kind == "male":
                draw.ellipse(img, hy - head_r * 0.6, x, head_r * 0.5, head_r * 1.02, hair)

        self.add(y, figure)

    def crowd(self) -> None:
        r, img = self.rng, self.img
        n = int(r.integers(3, 7))
        y0 = self.ground_y()
        for _ in range(n):
            y = min(y0 + r.normal(0, 2), SIZE - 1)
            x, s = r.uniform(4, SIZE - 4), self.scale(y) * 0.75
            col = _jitter(r, _pick(r, list(COLORS.values())), 0.05)
            skin = _pick(r, SKIN)
            self.add(y, lambda y=y, x=x, s=s, col=col, skin=skin: (
                draw.rect(img, y - 16 * s, y, x - 2.2 * s, x + 2.2 * s, col),
                draw.circle(img, y - 18.5 * s, x, 2.5 * s, skin)))
        self.mention("people", _pick(r, ("people", "crowd", "people", "group")), n)

    def portrait(self) -> None:
        r, img = self.rng, self.img
        kind = getattr(self, "portrait_of", "person")
        cx, cy = SIZE / 2 + r.uniform(-8, 8), SIZE * r.uniform(0.38, 0.5)
        rad = r.uniform(11, 15) * (1.1 if kind == "baby" else 1.0)
        skin = _jitter(r, _pick(r, SKIN), 0.02)
        hair = _jitter(r, _pick(r, HAIR), 0.02)
        shirt = _jitter(r, _pick(r, list(COLORS.values())), 0.05)
        draw.ellipse(img, SIZE + 4, cx, rad * 1.4, rad * 2.0, shirt)  # shoulders
        if kind == "female":
            draw.ellipse(img, cy + rad * 0.7, cx, rad * 1.7, rad * 1.3, hair)
        draw.rect(img, cy + rad * 0.6, cy + rad * 1.5, cx - rad * 0.35, cx + rad * 0.35, skin)
        draw.ellipse(img, cy, cx, rad * 1.15, rad * 0.95, skin)
        if kind in ("male", "person"):
            draw.ellipse(img, cy - rad * 0.85, cx, rad * 0.45, rad * 0.95, hair)
        if kind == "female":
            draw.ellipse(img, cy - rad * 0.9, cx, rad * 0.4, rad * 0.9, hair)
        eye = rad * (0.16 if kind == "baby" else 0.12)
        for dx in (-1, 1):
            draw.circle(img, cy - rad * 0.1, cx + dx * rad * 0.38, eye, (0.1, 0.08, 0.08))
        draw.line(img, cy + rad * 0.5, cx - rad * 0.25, cy + rad * 0.5, cx + rad * 0.25,
                  max(rad * 0.08, 0.8), (0.7, 0.3, 0.3))
        word = {"female": "woman", "male": "man", "baby": "baby", "person": "person"}[kind]
        self.mention("portrait", "portrait")
        self.mention(kind if kind != "person" else None, word)

    def dog(self) -> None:
        r, img = self.rng, self.img
        y = self.ground_y()
        x, s = r.uniform(8, SIZE - 8), self.scale(y) * r.uniform(1.0, 1.3)
        col = _jitter(r, _pick(r, ((0.55, 0.35, 0.15), (0.8, 0.6, 0.3), (0.3, 0.2, 0.12))), 0.04)

        def dog() -> None:
            for dx in (-4, -2.5, 2.5, 4):
                draw.line(img, y - 4 * s, x + dx * s, y, x + dx * s, 1.1 * s, col * 0.9)
            draw.ellipse(img, y - 5.5 * s, x, 2.6 * s, 5.5 * s, col)
            draw.line(img, y - 6 * s, x - 5 * s, y - 10 * s, x - 7.5 * s, 1 * s, col)  # tail
            draw.circle(img, y - 8 * s, x + 5.5 * s, 2.4 * s, col)
            draw.ellipse(img, y - 7.5 * s, x + 8 * s, 1.1 * s, 1.8 * s, col * 1.05)  # snout
            draw.ellipse(img, y - 7.5 * s, x + 4.3 * s, 2 * s, 0.9 * s, col * 0.55)  # ear
            draw.circle(img, y - 7.7 * s, x + 9.6 * s, 0.6 * s, (0.05, 0.05, 0.05))

        self.add(y, dog)

    def birds(self) -> None:
        r, img = self.rng, self.img
        if not self.has["indoor"] and r.random() < 0.6:
            n = int(r.integers(1, 5))
            for _ in range(n):
                y, x = r.uniform(4, self.horizon - 4), r.uniform(4, SIZE - 4)
                w = r.uniform(2.5, 4.5)
                c = (0.08, 0.08, 0.1)
                self.add(0.0, lambda y=y, x=x, w=w, c=c: (
                    draw.line(img, y - w * 0.6, x - w, y, x, 1.0, c),
                    draw.line(img, y, x, y - w * 0.6, x + w, 1.0, c)))
            self.mention("bird", "bird", n)
            return
        y = self.ground_y() - r.uniform(0, 10)
        x, s = r.uniform(6, SIZE - 6), self.scale(y) * 1.3
        cname, col = _color(r, ("blue", "red", "yellow", "black", "white"))

        def perched() -> None:
            draw.ellipse(img, y - 3 * s, x, 2.2 * s, 3.2 * s, col)
            draw.circle(img, y - 5.5 * s, x + 2.4 * s, 1.6 * s, col)
            draw.polygon(img, [(y - 6 * s, x + 3.6 * s), (y - 5 * s, x + 3.6 * s),
                               (y - 5.5 * s, x + 5.6 * s)], (0.95, 0.6, 0.1))
            draw.line(img, y - 1 * s, x, y + 0.5, x, 0.7, (0.3, 0.2, 0.1))

        self.add(y, perched)
        self.mention("bird", _pick(r, ("bird", "parrot")) if cname != "black" else "bird",
                     1, cname)

    def animal(self) -> None:
        r, img = self.rng, self.img
        kind = _pick(r, ("cat", "horse", "cow", "sheep"))
        n = int(r.choice((1, 1, 2)))
        for _ in range(n):
            y = self.ground_y()
            x, s = r.uniform(8, SIZE - 8), self.scale(y)
            if kind == "cat":
                col = _jitter(r, _pick(r, ((0.9, 0.55, 0.2), (0.5, 0.5, 0.5), (0.1, 0.1, 0.1))))

                def body(y=y, x=x, s=s, col=col) -> None:
                    draw.ellipse(img, y - 3 * s, x, 2.5 * s, 4 * s, col)
                    draw.circle(img, y - 6 * s, x + 3.5 * s, 2.3 * s, col)
                    for dx in (2, 5):
                        draw.polygon(img, [(y - 7.5 * s, x + (dx - 1.3) * s),
                                           (y - 7.5 * s, x + (dx + 0.2) * s),
                                           (y - 10 * s, x + (dx - 0.5) * s)], col)
                    draw.line(img, y - 3 * s, x - 4 * s, y - 8 * s, x - 6 * s, 0.9 * s, col)
                    draw.circle(img, y - 6.3 * s, x + 4.5 * s, 0.5 * s, (0.2, 0.8, 0.2))
            elif kind == "horse":
                col = _jitter(r, _pick(r, ((0.45, 0.28, 0.14), (0.15, 0.1, 0.08),
                                          (0.9, 0.9, 0.88))))

                def body(y=y, x=x, s=s, col=col) -> None:
                    for dx in (-6, -4, 4, 6):
                        draw.line(img, y - 9 * s, x + dx * s, y, x + dx * s, 1.3 * s, col * 0.9)
                    draw.ellipse(img, y - 11 * s, x, 3.5 * s, 8 * s, col)
                    draw.line(img, y - 12 * s, x + 6 * s, y - 18 * s, x + 9 * s, 2.6 * s, col)
                    draw.ellipse(img, y - 18 * s, x + 11 * s, 1.5 * s, 3 * s, col)
                    draw.line(img, y - 12 * s, x - 8 * s, y - 6 * s, x - 10 * s, 1.2 * s,
                              col * 0.5)
            elif kind == "cow":
                def body(y=y, x=x, s=s) -> None:
                    white, black = (0.93, 0.93, 0.9), (0.1, 0.1, 0.1)
                    for dx in (-6, -4, 4, 6):
                        draw.line(img, y - 7 * s, x + dx * s, y, x + dx * s, 1.4 * s, white)
                    draw.ellipse(img, y - 9 * s, x, 3.8 * s, 8 * s, white)
                    draw.ellipse(img, y - 10 * s, x - 2 * s, 1.6 * s, 2.5 * s, black)
                    draw.ellipse(img, y - 8 * s, x + 3 * s, 1.4 * s, 1.8 * s, black)
                    draw.ellipse(img, y - 11 * s, x + 9.5 * s, 2.2 * s, 2 * s, white)
                    draw.line(img, y - 13 * s, x + 8.5 * s, y - 14.5 * s, x + 7.5 * s, 0.8 * s,
                              (0.85, 0.8, 0.6))
            else:
                def body(y=y, x=x, s=s) -> None:
                    for dx in (-3, 3):
                        draw.line(img, y - 4 * s, x + dx * s, y, x + dx * s, 1 * s,
                                  (0.1, 0.1, 0.1))
                    for dx, dy in ((-3, 0), (0, -1), (3, 0), (0, 1)):
                        draw.circle(img, y - 6 * s + dy * s, x + dx * s, 3.3 * s,
                                    (0.92, 0.92, 0.88))
                    draw.ellipse(img, y - 7 * s, x + 6.5 * s, 2 * s, 1.5 * s, (0.12, 0.12, 0.12))

            self.add(y, body)
        self.mention("animals", kind, n)

    def car(self) -> str:
        r, img = self.rng, self.img
        y = self.ground_y()
        x, s = r.uniform(10, SIZE - 10), self.scale(y) * 1.2
        cname, col = _color(r, ("red", "blue", "yellow", "white", "black", "gray", "green"))

        def car() -> None:
            draw.polygon(img, [(y - 6 * s, x - 4 * s), (y - 6 * s, x + 3 * s),
                               (y - 9.5 * s, x + 1.5 * s), (y - 9.5 * s, x - 2.5 * s)], col * 0.9)
            draw.rect(img, y - 6.5 * s, y - 5.5 * s, x - 3.3 * s, x + 2.3 * s, (0.6, 0.8, 0.95))
            draw.rect(img, y - 6 * s, y - 2 * s, x - 8 * s, x + 8 * s, col)
            for dx in (-5, 5):
                draw.circle(img, y - 1.8 * s, x + dx * s, 2 * s, (0.05, 0.05, 0.05))
                draw.circle(img, y - 1.8 * s, x + dx * s, 0.8 * s, (0.6, 0.6, 0.6))

        self.add(y, car)
        if self.has["night"]:
            self.emissive.append(lambda: draw.circle(img, y - 4.5 * s, x + 7.5 * s, 1.2 * s, LIT))
        return cname

    def vehicle(self) -> None:
        r, img = self.rng, self.img
        options = ["bus", "train", "bicycle"]
        if self.has["water"]:
            options += ["boat", "boat", "boat"]
        if (self.has["sky"] or self.has["sunset"]) and not self.has["indoor"]:
            options += ["plane"]
        kind = _pick(r, options)
        cname, col = _color(r, ("red", "blue", "yellow", "white", "green"))
        if kind == "plane":
            y, x, s = r.uniform(5, max(self.horizon - 8, 6)), r.uniform(12, SIZE - 12), 1.2
            self.add(0.0, lambda: (
                draw.ellipse(img, y, x, 1.6 * s, 9 * s, (0.85, 0.86, 0.9)),
                draw.polygon(img, [(y, x - 2 * s), (y, x + 2 * s), (y + 6 * s, x - 3 * s)],
                             (0.7, 0.72, 0.78)),
                draw.polygon(img, [(y - 1, x - 7 * s), (y - 1, x - 5 * s),
                                   (y - 5 * s, x - 8.5 * s)], (0.7, 0.72, 0.78))))
        elif kind == "boat":
            y = r.uniform(self.horizon + 3, SIZE - 6)
            x, s = r.uniform(10, SIZE - 10), self.scale(y) * 1.3

            def boat() -> None:
                draw.polygon(img, [(y - 3 * s, x - 8 * s), (y - 3 * s, x + 8 * s),
                                   (y, x + 5 * s), (y, x - 5 * s)], col * 0.8)
                draw.line(img, y - 3 * s, x, y - 14 * s, x, 0.8, (0.3, 0.2, 0.1))
                draw.polygon(img, [(y - 4 * s, x + 0.5), (y - 13 * s, x + 0.5),
                                   (y - 4 * s, x + 7 * s)], (0.97, 0.97, 0.95))

            self.add(y, boat)
        elif kind == "bicycle":
            y = self.ground_y()
            x, s = r.uniform(8, SIZE - 8), self.scale(y) * 1.2
            dark = (0.1, 0.1, 0.1)

            def bicycle() -> None:
                for dx in (-4, 4):
                    draw.circle(img, y - 3 * s, x + dx * s, 3 * s, dark)
                    inner = img[int(min(y, SIZE - 1)), int(min(x, SIZE - 1))].copy()
                    draw.circle(img, y - 3 * s, x + dx * s, 2.2 * s, inner)
                draw.line(img, y - 3 * s, x - 4 * s, y - 6.5 * s, x, 0.9 * s, col)
                draw.line(img, y - 6.5 * s, x, y - 3 * s, x + 4 * s, 0.9 * s, col)
                draw.line(img, y - 6.5 * s, x - 1 * s, y - 6.5 * s, x + 3 * s, 0.9 * s, col)

            self.add(y, bicycle)
        else:
            y = self.ground_y()
            x, s = r.uniform(4, SIZE - 30), self.scale(y) * 1.2
            length = 22 * s if kind == "bus" else 34 * s

            def long_vehicle() -> None:
                if kind == "train":
                    draw.rect(img, y - 1, y, 0, SIZE, (0.3, 0.25, 0.2))
                draw.rect(img, y - 9 * s, y - 1.5 * s, x, x + length, col)
                for wx in np.arange(x + 1.5 * s, x + length - 2 * s, 3.2 * s):
                    draw.rect(img, y - 8 * s, y - 5.5 * s, wx, wx + 2 * s, (0.6, 0.8, 0.95))
                if kind == "train":
                    for cx in np.arange(x + 11 * s, x + length, 11 * s):
                        draw.rect(img, y - 9 * s, y - 1.5 * s, cx - 0.4, cx + 0.4, col * 0.5)
                for wx in np.linspace(x + 3 * s, x + length - 3 * s, 3):
                    draw.circle(img, y - 1.5 * s, wx, 1.6 * s, (0.05, 0.05, 0.05))

            self.add(y, long_vehicle)
        self.mention("transport", kind, 1, cname if kind != "plane" else None)

    def food(self) -> None:
        r, img = self.rng, self.img
        kind = _pick(r, ("pizza", "fruit", "cake", "salad", "bread"))
        ty = SIZE - r.uniform(6, 14)
        tx0, tx1 = r.uniform(0, 16), SIZE - r.uniform(0, 16)
        n = int(r.integers(1, 3))
        plates = [r.uniform(tx0 + 9, tx1 - 9) for _ in range(n)]

        def table() -> None:
            draw.rect(img, ty - 1, SIZE, tx0, tx1, _jitter(r, (0.5, 0.32, 0.18), 0.05))
            draw.rect(img, ty - 3, ty, tx0, tx1, _jitter(r, (0.6, 0.4, 0.22), 0.05))
            for px in plates:
                py = ty - 3
                draw.ellipse(img, py, px, 3, 9, (0.96, 0.96, 0.96))
                if kind == "pizza":
                    draw.ellipse(img, py - 1, px, 2.5, 7, (0.95, 0.75, 0.3))
                    for dx in (-4, 0, 4):
                        draw.circle(img, py - 1, px + dx, 1.1, (0.8, 0.15, 0.1))
                elif kind == "fruit":
                    for dx, c in ((-4, "red"), (0, "orange"), (4, "green"), (-2, "yellow")):
                        draw.circle(img, py - 2.5 - (dx == -2) * 2, px + dx, 2.2, COLORS[c])
                elif kind == "cake":
                    draw.rect(img, py - 7, py - 1, px - 5, px + 5, (0.45, 0.25, 0.12))
                    draw.rect(img, py - 8, py - 6, px - 5, px + 5, (0.98, 0.75, 0.8))
                    draw.circle(img, py - 9, px, 1.1, (0.85, 0.05, 0.1))
                elif kind == "salad":
                    for dx in (-4, -1.5, 1.5, 4):
                        draw.circle(img, py - 2, px + dx, 2, (0.3, 0.7, 0.2))
                    draw.circle(img, py - 3, px, 1, (0.85, 0.1, 0.1))
                else:
                    draw.ellipse(img, py - 2, px, 2.5, 6, (0.8, 0.6, 0.3))

        self.add(SIZE + 1.0, table)  # the table is in front
        self.mention("food", kind, n)
        self.mention(None, "table")

    def distractors(self) -> None:
        r, img = self.rng, self.img
        for _ in range(int(r.choice((0, 1, 1, 2, 2, 3, 4)))):
            kind = _pick(r, ("rock", "ball", "fence", "lamp post", "kite", "sign", "bench",
                             "umbrella", "box", "mountains"))
            if self.has["indoor"] and kind in ("lamp post", "kite", "mountains", "fence"):
                continue
            y = self.ground_y()
            x, s = r.uniform(4, SIZE - 4), self.scale(y)
            cname, col = _color(r, ("red", "blue", "yellow", "green", "white", "orange"))
            if kind == "rock":
                c = _jitter(r, (0.5, 0.48, 0.45), 0.05)
                self.add(y, lambda y=y, x=x, s=s, c=c: draw.ellipse(img, y - 2 * s, x, 2.5 * s,
                                                                    4 * s, c))
            elif kind == "ball":
                self.add(y, lambda y=y, x=x, s=s, col=col: draw.circle(img, y - 2 * s, x,
                                                                       2 * s, col))
            elif kind == "fence":
                c = _jitter(r, (0.6, 0.45, 0.3), 0.05)
                self.add(y, lambda y=y, s=s, c=c: [
                    draw.rect(img, y - 6 * s, y, fx, fx + 1.2 * s, c)
                    for fx in np.arange(0, SIZE, 4 * s)] + [
                    draw.rect(img, y - 4.5 * s, y - 3.5 * s, 0, SIZE, c)])
            elif kind == "lamp post":
                self.add(y, lambda y=y, x=x, s=s: (
                    draw.rect(img, y - 22 * s, y, x - 0.6 * s, x + 0.6 * s, (0.2, 0.2, 0.2)),
                    draw.circle(img, y - 22 * s, x, 1.5 * s, (0.9, 0.9, 0.7))))
            elif kind == "kite":
                ky, kx = r.uniform(4, max(self.horizon - 6, 5)), x
                self.add(0.0, lambda ky=ky, kx=kx, col=col: draw.polygon(
                    img, [(ky - 3, kx), (ky, kx + 2.5), (ky + 4, kx), (ky, kx - 2.5)], col))
            elif kind == "sign":
                self.add(y, lambda y=y, x=x, s=s, col=col: (
                    draw.rect(img, y - 10 * s, y, x - 0.4 * s, x + 0.4 * s, (0.3, 0.3, 0.3)),
                    draw.rect(img, y - 13 * s, y - 9 * s, x - 3 * s, x + 3 * s, col)))
            elif kind == "bench":
                c = _jitter(r, (0.45, 0.3, 0.15), 0.05)
                self.add(y, lambda y=y, x=x, s=s, c=c: (
                    draw.rect(img, y - 4 * s, y - 3 * s, x - 6 * s, x + 6 * s, c),
                    draw.rect(img, y - 3 * s, y, x - 5 * s, x - 4 * s, c),
                    draw.rect(img, y - 3 * s, y, x + 4 * s, x + 5 * s, c)))
            elif kind == "umbrella":
                self.add(y, lambda y=y, x=x, s=s, col=col: (
                    draw.line(img, y, x, y - 12 * s, x, 0.7, (0.2, 0.2, 0.2)),
                    draw.ellipse(img, y - 12 * s, x, 3 * s, 7 * s, col)))
            elif kind == "box":
                self.add(y, lambda y=y, x=x, s=s, col=col: draw.rect(
                    img, y - 5 * s, y, x - 3 * s, x + 3 * s, col * 0.7))
            else:  # mountains on the horizon, behind everything
                hz = self.horizon
                mx, mh = x, r.uniform(6, 14)
                c = _jitter(r, (0.45, 0.5, 0.6), 0.05)
                self.add(-1.0, lambda hz=hz, mx=mx, mh=mh, c=c: draw.polygon(
                    img, [(hz, mx - 2 * mh), (hz, mx + 2 * mh), (hz - mh, mx)], c))
            self.mention(None, kind, 1, cname if kind in ("ball", "kite", "umbrella") else None)


def render(labels: np.ndarray, own: np.ndarray, rng: np.random.Generator) -> Scene:
    """The image of one label row and what was drawn."""
    return Renderer(labels, own, rng).render()
