"""Footprint profiles: which files of an image count as the hypervisor, the drivers, the tools...

Public API (used by ``inspector footprint``, ``inspector series --profile`` and the HTML report):

* ``load_profile(name_or_path)`` -> ``Profile`` (built-in ``esxi``, ``hyperv``, ``xen``, or a TOML file);
* ``builtin_profiles()`` -> names of the shipped profiles;
* ``classify(inventory, profile)`` -> ``Footprint`` (``categories``, ``category_of(path)``, ...);
* ``guess_profile(inventory)`` -> the one profile whose detection signals are present;
* ``footprint_treemap_data(footprint)`` -> a category/file tree for a treemap.
"""

from inspector.footprint.detect import available_profiles, guess_profile
from inspector.footprint.engine import CategoryTotal, FileClass, Footprint, classify
from inspector.footprint.export import footprint_to_dict, footprint_treemap_data, footprints_document
from inspector.footprint.profile import (
    STANDARD_CATEGORIES,
    UNCLASSIFIED,
    Profile,
    ProfileError,
    Rule,
    builtin_profiles,
    load_profile,
)

__all__ = [
    "STANDARD_CATEGORIES",
    "UNCLASSIFIED",
    "CategoryTotal",
    "FileClass",
    "Footprint",
    "Profile",
    "ProfileError",
    "Rule",
    "available_profiles",
    "builtin_profiles",
    "classify",
    "footprint_to_dict",
    "footprint_treemap_data",
    "footprints_document",
    "guess_profile",
    "load_profile",
]
