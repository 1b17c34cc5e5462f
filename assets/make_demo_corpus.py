"""Generate the original tweetgen demo corpus (``assets/demo_tweets.txt``).

This script writes a small, fully synthetic corpus of short tweet-style
lines for demos and tests of the char-level GRU tweet generator.  Every
line is produced here from the project's own templates and word lists; no
real tweets or third-party text are used or paraphrased.

The lines come from a tiny fictional town, Pebblebrook, and its accounts:
a bakery, a weather bot, a cat's diary, a hiking club, a space-probe status
feed, a gardener, a coffee shop, a commuter train, a library and a
lighthouse keeper.  Slots in the templates are filled from word lists using
``random.Random(2026)``, so the output is byte-identical on every run.

Rerun from the repository root with::

    python assets/make_demo_corpus.py

which (re)writes ``assets/demo_tweets.txt`` next to this script: UTF-8, one
tweet per line, LF line endings, de-duplicated, kept in generation order.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

SEED = 2026
TARGET_LINES = 5000
MIN_LEN = 20
MAX_LEN = 140
OUT_PATH = Path(__file__).resolve().parent / "demo_tweets.txt"

# --------------------------------------------------------------------------
# Shared word lists (used by any persona).
# --------------------------------------------------------------------------
SHARED: dict[str, list[str]] = {
    "day": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
            "Saturday", "Sunday"],
    "part": ["morning", "afternoon", "evening", "night", "lunchtime",
             "dawn", "dusk"],
    "month": ["January", "February", "March", "April", "May", "June",
              "July", "August", "September", "October", "November",
              "December"],
    "place": ["Mill Lane", "the old bridge", "Market Square", "Elm Street",
              "the harbour", "Fern Hill", "the duck pond", "Quarry Road",
              "the town hall", "Willow Bend", "the north gate",
              "Cobbler's Row"],
    "feel": ["happy", "sleepy", "proud", "confused", "delighted", "grumpy",
             "hopeful", "curious", "calm", "giddy", "tired", "thrilled"],
    "excl": ["Wow", "Oh no", "Hooray", "Hmm", "Yikes", "Well well",
             "Good news", "Heads up", "Psst", "Ahem", "Oops", "Aha"],
    "mention": ["@pebblebakes", "@pbk_weatherbot", "@mittens_diary",
                "@fernhill_hikers", "@probe_wren7", "@plot9_garden",
                "@bean_and_bramble", "@pbk_line2", "@pbk_library",
                "@gullrock_light", "@mayor_okafor", "@pbk_gazette"],
    "signoff": ["See you soon!", "Stay cozy.", "More later...",
                "Thanks, everyone!", "Onward!", "That is all.",
                "Carry on.", "Wish us luck!", "Over and out.",
                "Back tomorrow."],
}

# Slots that generate numbers rather than pick from a list.
NUMERIC_SLOTS = {
    "n": lambda r: str(r.randint(2, 48)),
    "big": lambda r: str(r.randint(100, 9999)),
    "temp": lambda r: f"{r.randint(-6, 31)}°C",
    "pct": lambda r: f"{r.randint(5, 100)}%",
    "time": lambda r: f"{r.randint(5, 22):02d}:{r.choice(['00', '15', '30', '45', '05', '50'])}",
    "km": lambda r: f"{r.randint(2, 24)}.{r.randint(0, 9)} km",
    "mins": lambda r: str(r.choice([2, 3, 4, 5, 6, 7, 8, 10, 12, 15, 20, 25, 40])),
    "price": lambda r: f"£{r.randint(1, 9)}.{r.choice(['00', '20', '50', '75', '95'])}",
    "wind": lambda r: f"{r.randint(3, 70)} km/h",
    "dist": lambda r: f"{r.randint(11, 999)},{r.randint(100, 999)} km",
    "sol": lambda r: str(r.randint(100, 1999)),
    "year": lambda r: str(r.randint(1881, 1999)),
    "floor": lambda r: str(r.randint(1, 3)),
}


class Persona:
    """One fictional account: templates, persona-only word lists, tags."""

    def __init__(self, name: str, templates: list[str],
                 words: dict[str, list[str]], tags: list[str],
                 emoji: list[str]) -> None:
        self.name = name
        self.templates = templates
        self.words = words
        self.tags = tags
        self.emoji = emoji


PERSONAS: list[Persona] = [
    Persona(
        "bakery",
        [
            "Fresh {bread} out of the oven at {time}! Come early, they vanish fast.",
            "Today's special: {bake} with {flavour}. Only {n} left...",
            "Who wants a {bake}? {excl}, we made {big} of them this {part}!",
            "The ovens are hot and the {bread} is rising. Open till {time}.",
            "New on the shelf: {flavour} {bake} for {price}. Be brave & try one!",
            "Sorry, we are out of {bread} already. Back at {time} with more!",
            "Our sourdough starter, {starter}, turns {n} this week. Party at the counter!",
            "Flour everywhere, {feel} bakers, and {n} trays of {bake}. A good {day}.",
            "Q: what goes with {flavour}? A: a warm {bake}, obviously.",
            "Thanks {mention} for the kind words about our {bread}!",
        ],
        {
            "bread": ["rye loaves", "sourdough", "seeded rolls", "baguettes",
                      "milk buns", "walnut bread", "olive fougasse",
                      "spelt loaves", "potato bread", "brioche"],
            "bake": ["cinnamon swirl", "plum tart", "lemon bun",
                     "cheese scone", "apple turnover", "honey cake",
                     "almond croissant", "rhubarb slice", "ginger biscuit",
                     "custard pie"],
            "flavour": ["cardamom", "brown butter", "sea salt", "wild honey",
                        "blackberry", "toasted pecan", "orange zest",
                        "maple", "dark cocoa", "vanilla bean"],
            "starter": ["Doughlores", "Bubbles", "Sir Yeastly", "Crumb"],
        },
        ["#PebbleBakes", "#FreshBread", "#ShopLocal", "#BakeDay"],
        ["🥐", "🍞"],
    ),
    Persona(
        "weather",
        [
            "WEATHER {time}: {sky}, {temp}, wind {wind} from the {dir}.",
            "Forecast for {day}: {sky} in the {part}, high of {temp}.",
            "Rain chance today: {pct}. Umbrella? {advice}",
            "ALERT: {hazard} expected near {place} after {time}. Take care!",
            "Current: {temp}, humidity {pct}, {sky}. Feels like {temp}.",
            "{excl}! The sky over {place} is {sky} right now.",
            "Weekly outlook: {sky} early, {sky} later, mostly {temp} [approx].",
            "Sunrise {time}, sunset {time}. Wind {wind}. {advice}",
        ],
        {
            "sky": ["clear", "partly cloudy", "overcast", "drizzly",
                    "foggy", "stormy", "bright and breezy", "hazy",
                    "snowy", "showery", "grey", "sunny"],
            "dir": ["north", "south", "east", "west", "northeast",
                    "southwest"],
            "hazard": ["heavy rain", "hail", "thick fog", "strong gusts",
                       "black ice", "thunder", "sleet", "frost"],
            "advice": ["Yes, definitely.", "Probably not.", "Bring a hat.",
                       "Wear layers!", "Hold on to your scarf.",
                       "Sunglasses, maybe?", "Boots recommended."],
        },
        ["#PebbleWeather", "#Forecast", "#WeatherBot"],
        ["🌧", "☀", "⛅", "❄"],
    ),
    Persona(
        "cat",
        [
            "Dear diary: the human opened the {thing} and I was not consulted.",
            "Day {sol} of my reign. Slept on the {spot} for {n} hours. {verdict}",
            "I knocked a {object} off the {spot}. It was necessary.",
            "{time}: screamed at the {thing} until food appeared. Success!",
            "Spotted a {critter} near {place}. Chattered at it. It left. I win.",
            "Why is the {thing} so loud?? I am a {feel} cat today.",
            "The dog next door said hello. I said nothing... as is tradition.",
            "Tried the new {food}. Verdict: {verdict}",
            "Nap log: {spot}, {spot}, then {spot}. Productive {day}.",
            "Dear {mention}, please send {food}. Urgent. Signed, Mittens.",
        ],
        {
            "thing": ["fridge", "vacuum", "door", "kettle", "curtains",
                      "wardrobe", "laptop", "washing machine", "window"],
            "spot": ["windowsill", "warm laptop", "laundry pile",
                     "top shelf", "radiator", "sunny rug", "piano",
                     "cardboard box", "bookcase"],
            "object": ["pen", "mug", "sock", "spoon", "plant pot",
                       "bottle cap", "remote", "hair tie"],
            "critter": ["pigeon", "squirrel", "moth", "robin", "hedgehog",
                        "beetle", "crow"],
            "food": ["tuna pate", "salmon bites", "chicken crunchies",
                     "fancy gravy", "sardine feast", "turkey mousse"],
            "verdict": ["Acceptable.", "Unacceptable!", "Five whiskers.",
                        "I shall think about it.", "Two paws down.",
                        "Exquisite.", "Meh."],
        },
        ["#CatDiary", "#MittensSays", "#Caturday"],
        ["🐈", "🐾"],
    ),
    Persona(
        "hiking",
        [
            "Club walk this {day}: {trail}, {km}, meet at {place} at {time}.",
            "We did it! {trail} in {n} degrees of {sky} weather. Legs = jelly.",
            "Trail report: {trail} is {cond}. {advice}",
            "Saw a {bird} on the ridge above {place}! Photo soon...",
            "Packing list: water, map, {gear} & snacks. Never forget snacks.",
            "{excl}, {n} new members joined today. Welcome to the muddy side!",
            "Summit at {time}, lunch at {time}, home before dark. Mostly.",
            "Who left a {gear} at the {trail} car park? Ask {mention}.",
        ],
        {
            "trail": ["Fern Hill loop", "Old Quarry path", "Gull Rock walk",
                      "Badger Ridge", "the River Tam trail", "Crookback Pike",
                      "Bluebell Wood circuit", "Heron Marsh boardwalk"],
            "sky": ["drizzly", "sunny", "foggy", "windy", "frosty"],
            "cond": ["muddy", "dry and fast", "icy in places", "overgrown",
                     "perfect", "flooded near the stile", "slippery"],
            "advice": ["Boots, not trainers!", "Poles help.",
                       "Go slow on the descent.", "Bring spare socks.",
                       "Maybe wait a day."],
            "bird": ["buzzard", "kestrel", "red kite", "skylark", "curlew",
                     "wheatear", "raven"],
            "gear": ["flask", "blue glove", "compass", "rain jacket",
                     "walking pole", "sandwich box", "head torch"],
        },
        ["#FernHillHikers", "#TrailTalk", "#GetOutside"],
        ["🥾", "⛰"],
    ),
    Persona(
        "probe",
        [
            "WREN-7 STATUS sol {sol}: power {pct}, temp {probetemp}, all systems {state}.",
            "Distance from home: {dist}. Signal delay: {n} min. Still {feel}.",
            "Instrument {instr} {action}. Data packet {big} queued for downlink.",
            "Sol {sol}: detected {finding}. Flagging for the science team [{priority}].",
            "Battery at {pct}. Entering {mode} mode until {time} UTC.",
            "Camera pointed at {target}. It is very {adj} out here.",
            "Hello {mention}! Wren-7 says hi from {dist} away.",
            "Course correction burn: {n} seconds. Result: {state}.",
        ],
        {
            "probetemp": ["-41°C", "-88°C", "-120°C", "-15°C", "-203°C",
                          "-67°C"],
            "state": ["nominal", "stable", "green", "okay-ish",
                      "under review", "excellent"],
            "instr": ["SPEC-2", "MAG-1", "the dust counter", "CAM-A",
                      "the radiometer", "the ion sensor"],
            "action": ["calibrated", "rebooted", "warming up",
                       "collecting data", "back online", "in standby"],
            "finding": ["a dust plume", "a faint glow", "odd magnetism",
                        "a tiny moonlet", "ice crystals", "a radio hiss"],
            "priority": ["low", "medium", "high", "!!"],
            "mode": ["safe", "low-power", "quiet", "science", "sleep"],
            "target": ["the rings", "a crater rim", "home", "a comet tail",
                       "the dark side", "the stars"],
            "adj": ["quiet", "dark", "cold", "big", "beautiful", "empty"],
        },
        ["#Wren7", "#SpaceProbe", "#SciencePlease"],
        ["🛰", "🚀"],
    ),
    Persona(
        "garden",
        [
            "Plot 9 update: the {veg} are {growth}. The {pest} are plotting.",
            "Planted {n} rows of {veg} today. Knees muddy, heart {feel}.",
            "Harvest: {n} {veg}, {n} {veg} & one mystery squash?",
            "Frost warning for {day}. Covering the {veg} with old sheets.",
            "Compost is {temp} inside. It is basically a tiny volcano.",
            "Tip: {tip}",
            "The {flower} finally opened! Took {n} days. Worth it.",
            "Swapped seeds with {mention}: my {veg} for their {flower}.",
            "{excl}... {pest} ate {pct} of the {veg}. Back to square one.",
        ],
        {
            "veg": ["carrots", "beetroot", "runner beans", "kale",
                    "courgettes", "radishes", "leeks", "tomatoes",
                    "broad beans", "onions", "pumpkins", "peas"],
            "growth": ["thriving", "sulking", "bolting", "almost ready",
                       "tiny but brave", "taller than me"],
            "pest": ["slugs", "snails", "pigeons", "aphids", "rabbits",
                     "caterpillars"],
            "flower": ["sunflowers", "sweet peas", "dahlias", "marigolds",
                       "cosmos", "foxgloves", "lupins"],
            "tip": ["water in the morning, not at night.",
                    "marigolds keep the bugs away (mostly).",
                    "mulch now, thank yourself later.",
                    "label everything. You WILL forget.",
                    "save your seeds in paper, not plastic.",
                    "let one row go wild for the bees."],
        },
        ["#Plot9", "#GrowYourOwn", "#GardenLife"],
        ["🌱", "🌻"],
    ),
    Persona(
        "coffee",
        [
            "Now pouring: {origin} {roast}, notes of {note} & {note}.",
            "{drink} of the day: {price}. Open from {time}.",
            "It is {temp} outside, so obviously: {drink} time.",
            "Barista {barista} made {big} {drink}s this week. Legend.",
            "Open mic night {day} at {time}! Sign up at the counter.",
            "Our grinder is making a {noise} noise. Pray for it...",
            "New mugs just arrived, {n} colours. Which one is yours?",
            "Reminder: bring your own cup and get {pct} off. [Planet says thanks]",
            "Table by the window is free. Laptop people, you know who you are.",
        ],
        {
            "origin": ["Ethiopian", "Colombian", "Kenyan", "Guatemalan",
                       "Sumatran", "Brazilian", "Rwandan", "Peruvian"],
            "roast": ["light roast", "medium roast", "dark roast",
                      "single origin", "house blend", "decaf"],
            "note": ["cherry", "toffee", "jasmine", "cocoa", "hazelnut",
                     "blueberry", "caramel", "lemon", "brown sugar"],
            "drink": ["flat white", "oat latte", "cortado", "mocha",
                      "chai", "cold brew", "cappuccino", "hot chocolate"],
            "barista": ["Juno", "Ravi", "Pip", "Marguerite", "Teo", "Sol"],
            "noise": ["grinding", "squeaky", "sad", "rattly", "dramatic",
                      "whistling"],
        },
        ["#BeanAndBramble", "#CoffeeTime", "#ShopLocal"],
        ["☕"],
    ),
    Persona(
        "train",
        [
            "Line 2: the {time} to {station} is running {delay}.",
            "Delay update: {reason} near {station}. Approx {mins} min late.",
            "Good {part}! All Line 2 services are on time. For now...",
            "The {time} from {station} will call at all stops except {station}.",
            "Lost property: one {lost}, found on the {time}. Ask at {station}.",
            "Platform change: {time} to {station} now leaves from platform {floor}.",
            "{excl}, we are sorry about the {reason}. Fixing it ASAP.",
            "Fun fact: Line 2 opened in {year} & still has its {relic}.",
        ],
        {
            "station": ["Pebblebrook Central", "Fern Hill", "Gull Rock",
                        "Millford", "Heron Marsh", "Tamside", "Oakgate",
                        "Quarry Halt"],
            "delay": ["on time", "{mins} min late", "a little early",
                      "slightly delayed", "with extra carriages"],
            "reason": ["a sheep on the line", "leaves on the track",
                       "a signal fault", "a stuck door", "heavy fog",
                       "a very slow tractor", "a lost goose"],
            "lost": ["umbrella", "violin", "red mitten", "library book",
                     "birthday cake", "garden gnome", "scarf"],
            "relic": ["brass bell", "wooden benches", "clock tower",
                      "original tickets", "station cat flap"],
        },
        ["#Line2", "#PebbleTrains", "#CommuterLife"],
        ["🚆"],
    ),
    Persona(
        "library",
        [
            "Book of the week: \"{title}\". {n} copies on floor {floor}.",
            "Story time {day} at {time}: \"{title}\" read by {reader}.",
            "Overdue since {year}? Amnesty week! Return it, no questions asked.",
            "Quiet please... someone on floor {floor} is {activity}.",
            "New arrivals: {n} books on {topic}. Come & browse!",
            "Q: do you have anything on {topic}? A: we have {big} things on {topic}.",
            "Staff pick from {reader}: \"{title}\". {verdict}",
        ],
        {
            "title": ["The Lantern Owl", "Soup for Giants",
                      "A Map of Small Rivers", "The Clockwork Hen",
                      "Forty Winters", "Mr Button's Bicycle",
                      "The Salt Road", "Stars Over Tamside"],
            "reader": ["Mrs Adeyemi", "Mr Holt", "Librarian Bo", "Nadia",
                       "Grandpa Finch"],
            "activity": ["snoring", "eating crisps", "humming",
                         "doing origami", "whispering loudly"],
            "topic": ["beekeeping", "old ships", "knots", "moths",
                      "bread", "the stars", "local history", "clocks"],
            "verdict": ["Loved it!", "Could not put it down.",
                        "Cried twice.", "Perfect for rainy days.",
                        "Read it in one sitting."],
        },
        ["#PebbleLibrary", "#AmReading", "#BookOfTheWeek"],
        ["📚"],
    ),
    Persona(
        "lighthouse",
        [
            "Gull Rock log, {time}: sea {sea}, visibility {vis}. Lamp lit.",
            "{n} ships passed tonight. Waved at the {ship}. It honked back!",
            "Climbed the {big} steps again. Knees: {feel}.",
            "Gulls stole my {snack}. Again. Keeper 0, gulls {n}.",
            "Fog horn test at {time}. Sorry, {place}!",
            "The lamp has turned {big} times since dusk. Still beautiful.",
            "Storm coming in from the {dir}. Shutters closed & kettle on.",
        ],
        {
            "sea": ["calm", "choppy", "rough", "glassy", "wild", "grey"],
            "vis": ["good", "poor", "moderate", "excellent", "nil"],
            "ship": ["ferry", "trawler", "tall ship", "tug", "lifeboat",
                     "yacht"],
            "snack": ["sandwich", "chips", "scone", "pasty", "apple"],
            "dir": ["north", "west", "southwest", "east"],
        },
        ["#GullRock", "#KeeperLog", "#SeaWatch"],
        ["🌊", "⚓"],
    ),
]

SLOT_RE = re.compile(r"\{([a-z]+)\}")


def fill(template: str, persona: Persona, rng: random.Random,
         depth: int = 0) -> str:
    """Replace every ``{slot}`` in ``template`` with an independent pick."""

    def pick(match: re.Match[str]) -> str:
        slot = match.group(1)
        if slot in NUMERIC_SLOTS:
            return NUMERIC_SLOTS[slot](rng)
        words = persona.words.get(slot) or SHARED.get(slot)
        if words is None:
            raise KeyError(f"unknown slot {slot!r} in persona {persona.name}")
        value = rng.choice(words)
        # Word-list entries may themselves contain slots (one level deep).
        if depth < 2 and "{" in value:
            value = fill(value, persona, rng, depth + 1)
        return value

    return SLOT_RE.sub(pick, template)


def decorate(text: str, persona: Persona, rng: random.Random) -> str:
    """Optionally add a sign-off, a hashtag, a mention or an emoji."""
    roll = rng.random()
    if roll < 0.08:
        text = f"{text} {rng.choice(SHARED['signoff'])}"
    elif roll < 0.12 and "@" not in text:
        text = f"{rng.choice(SHARED['mention'])} {text}"
    if rng.random() < 0.18:
        text = f"{text} {rng.choice(persona.tags)}"
    if rng.random() < 0.04:
        text = f"{text} {rng.choice(persona.emoji)}"
    return text


def is_valid(line: str) -> bool:
    """Check the per-line constraints of the corpus."""
    return (
        MIN_LEN <= len(line) <= MAX_LEN
        and "\t" not in line
        and "\n" not in line
        and "\r" not in line
        and line == line.strip()
        and not re.fullmatch(r"https?://\S+", line)
    )


def generate(target: int = TARGET_LINES, seed: int = SEED) -> list[str]:
    """Return ``target`` distinct lines in deterministic generation order."""
    rng = random.Random(seed)
    seen: set[str] = set()
    lines: list[str] = []
    attempts = 0
    while len(lines) < target:
        attempts += 1
        if attempts > target * 50:
            raise RuntimeError("template space too small for target size")
        persona = rng.choice(PERSONAS)
        template = rng.choice(persona.templates)
        line = decorate(fill(template, persona, rng), persona, rng)
        line = " ".join(line.split())
        if line in seen or not is_valid(line):
            continue
        seen.add(line)
        lines.append(line)
    return lines


def main() -> None:
    lines = generate()
    data = "".join(f"{line}\n" for line in lines).encode("utf-8")
    OUT_PATH.write_bytes(data)
    lengths = [len(line) for line in lines]
    chars = set("".join(lines))
    print(f"wrote {OUT_PATH} ({len(data)} bytes)")
    print(f"lines={len(lines)} distinct_chars={len(chars)} "
          f"len min/mean/max={min(lengths)}/"
          f"{sum(lengths) / len(lengths):.1f}/{max(lengths)}")


if __name__ == "__main__":
    main()
