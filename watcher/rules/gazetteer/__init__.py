"""The built-in gazetteer: an entity `country:XX` for every ISO 3166-1 country, in many languages.

Built from CLDR (via Babel: common names, capitals), ISO 3166 (via pycountry: official names) and the
curated `countries.yaml` (demonyms, abbreviations, metonyms, exclusions), with Russian and Ukrainian case
forms from pymorphy3. See docs/rules.md.
"""

from watcher.rules.gazetteer.build import PREFIX, Country, Gazetteer, is_builtin_name, load_gazetteer

__all__ = ["PREFIX", "Country", "Gazetteer", "is_builtin_name", "load_gazetteer"]
