"""Rule conditions: path and inner globs, ancestor metadata, detected type, container name, size, unless."""

from __future__ import annotations

from inspector.footprint.match import FactsBuilder, flatten_meta, rule_matches
from inspector.footprint.profile import Conditions, Rule
from inspector.model import Inventory
from tests.test_footprint_helpers import container, leaf

INV = Inventory(source="b.zip", entries=(
    container("b.zip", 10_000, "zip"),
    container("b.zip!/vib20/net-e1000/VMW_bootbank_net-e1000.vib", 5_000, "vib",
              vib={"name": "net-e1000", "software_tags": ["driver", "module"]}),
    container("b.zip!/vib20/net-e1000/VMW_bootbank_net-e1000.vib!/net-e100", 4_000, "gzip"),
    container("b.zip!/vib20/net-e1000/VMW_bootbank_net-e1000.vib!/net-e100!/net-e1000.vtar", 9_000, "vmtar"),
    leaf("b.zip!/vib20/net-e1000/VMW_bootbank_net-e1000.vib!/net-e100!/net-e1000.vtar!/usr/lib/vmware/vmkmod/e1000",
         8_000, "elf-relocatable"),
    leaf("b.zip!/./Docs/README.TXT", 300, "text"),
))
MODULE = INV.entries[4]
README = INV.entries[5]


def _matches(entry_index: int, unless: dict | None = None, **when: object) -> bool:
    rule = Rule(id="r", category="other", when=Conditions(**when),  # type: ignore[arg-type]
                unless=Conditions(**unless) if unless else None)
    return rule_matches(rule, FactsBuilder(INV).facts(INV.entries[entry_index]))


def test_path_glob_matches_the_full_logical_path_case_insensitively() -> None:
    assert _matches(4, path=("*.vib!/*vmkmod/e1000",))


def test_star_in_a_glob_crosses_slashes_and_nesting() -> None:
    assert _matches(4, path=("b.zip!/*e1000",))


def test_inner_glob_matches_the_path_inside_the_files_own_container() -> None:
    assert _matches(4, inner=("usr/lib/vmware/vmkmod/*",))
    assert not _matches(4, inner=("vib20/*",))


def test_inner_glob_ignores_a_leading_dot_slash() -> None:
    assert _matches(5, inner=("docs/readme.txt",))


def test_basename_glob_matches_the_last_component() -> None:
    assert _matches(5, basename=("readme*",))


def test_metadata_of_an_ancestor_container_matches() -> None:
    assert _matches(4, meta=(("vib.name", ("net-*",)),))


def test_metadata_list_values_match_any_item() -> None:
    assert _matches(4, meta=(("vib.software_tags", ("driver",)),))


def test_metadata_key_may_be_a_glob() -> None:
    assert _matches(4, meta=(("*tags", ("module",)),))


def test_metadata_of_unrelated_containers_does_not_match() -> None:
    assert not _matches(5, meta=(("vib.name", ("*",)),))


def test_detected_type_condition() -> None:
    assert _matches(4, type=("elf-relocatable",))
    assert not _matches(4, type=("pe",))


def test_inside_matches_the_format_of_any_enclosing_container() -> None:
    assert _matches(4, inside=("vib",))
    assert not _matches(5, inside=("vib",))


def test_within_matches_the_name_of_any_enclosing_container() -> None:
    assert _matches(4, within=("*.vib",))
    assert _matches(4, within=("net-e100",))


def test_size_range_is_inclusive() -> None:
    assert _matches(4, min_size=8_000, max_size=8_000)
    assert not _matches(4, min_size=8_001)
    assert not _matches(4, max_size=7_999)


def test_all_conditions_must_hold() -> None:
    assert not _matches(4, type=("elf-relocatable",), basename=("readme*",))


def test_unless_excludes_files_its_conditions_hold_for() -> None:
    assert not _matches(4, inside=("vmtar",), unless={"meta": (("vib.name", ("net-*",)),)})
    assert _matches(4, inside=("vmtar",), unless={"meta": (("vib.name", ("scsi-*",)),)})


def test_flatten_meta_gives_dotted_keys_and_every_list_item() -> None:
    flat = flatten_meta({"Vib": {"Name": "X", "payloads": [{"size": 1}, {"size": 2}]}})
    assert flat == {"vib.name": ("x",), "vib.payloads.size": ("1", "2")}
