"""Profiles: built-ins load and cite sources, user profiles override built-ins, bad profiles fail in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from inspector.footprint import ProfileError, builtin_profiles, classify, guess_profile, load_profile
from inspector.footprint.profile import PROFILE_PATH_ENV
from inspector.model import Inventory
from tests.test_footprint_helpers import container, esxi_like, leaf

OVERRIDE = """
[profile]
name = "my-esxi"
extends = "esxi"

[categories]
mystery = "mystery files"

[[rule]]
id = "vmx-is-kernel"
category = "hypervisor-kernel"
source = "my own judgement"
inner = ["bin/vmx"]

[[rule]]
id = "mystery"
category = "mystery"
basename = ["mystery.dat"]
"""


def _write(tmp_path: Path, text: str, name: str = "p.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_three_builtin_profiles_ship() -> None:
    assert builtin_profiles() == ["esxi", "hyperv", "xen"]


@pytest.mark.parametrize("name", ["esxi", "hyperv", "xen"])
def test_every_builtin_rule_names_its_public_source(name: str) -> None:
    profile = load_profile(name)
    assert profile.rules and all(r.source for r in profile.rules)


@pytest.mark.parametrize("name", ["esxi", "hyperv", "xen"])
def test_every_builtin_profile_has_the_standard_categories(name: str) -> None:
    ids = [c for c, _ in load_profile(name).categories]
    for cid in ["hypervisor-kernel", "virtualization-stack", "drivers", "management", "boot", "installer",
                "documentation", "other"]:
        assert cid in ids


def test_a_user_profile_file_overrides_builtin_rules_it_extends(tmp_path: Path) -> None:
    fp = classify(esxi_like(), load_profile(str(_write(tmp_path, OVERRIDE))))
    assert fp.category_of("esxi.iso!/S.V00!/s.vtar!/bin/vmx") == "hypervisor-kernel"
    assert fp.category_of("esxi.iso!/MYSTERY.DAT") == "mystery"


def test_an_extending_profile_keeps_the_base_rules_for_other_files(tmp_path: Path) -> None:
    fp = classify(esxi_like(), load_profile(str(_write(tmp_path, OVERRIDE))))
    assert fp.category_of("esxi.iso!/K.B00!/k") == "hypervisor-kernel"
    assert fp.assignments[0].rule == "esxi-boot-loaders"


def test_a_profile_in_the_user_path_overrides_the_builtin_of_the_same_name(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path, '[profile]\nname = "esxi"\n[[rule]]\nid = "all"\ncategory = "other"\n', "esxi.toml")
    monkeypatch.setenv(PROFILE_PATH_ENV, str(tmp_path))
    profile = load_profile("esxi")
    assert (profile.origin, [r.id for r in profile.rules]) == (str(tmp_path / "esxi.toml"), ["all"])


def test_added_categories_come_before_other(tmp_path: Path) -> None:
    ids = [c for c, _ in load_profile(str(_write(tmp_path, OVERRIDE))).categories]
    assert ids.index("mystery") == ids.index("other") - 1


def test_size_bounds_accept_units(tmp_path: Path) -> None:
    text = '[profile]\nname = "s"\n[[rule]]\nid = "big"\ncategory = "other"\nmin_size = "1 MiB"\n'
    assert load_profile(str(_write(tmp_path, text))).rules[0].when.min_size == 1024 * 1024


@pytest.mark.parametrize(("text", "reason"), [
    ("[profile\nname=", "not valid TOML"),
    ('[profile]\ntitle = "x"\n', "needs a [profile] table with a name"),
    ('[profile]\nname = "x"\n[[rule]]\ncategory = "other"\n', "needs an id"),
    ('[profile]\nname = "x"\n[[rule]]\nid = "a"\ncategory = "nope"\n', "category 'nope' is not one of"),
    ('[profile]\nname = "x"\n[[rule]]\nid = "a"\ncategory = "other"\npaht = "*"\n', "unknown key(s) paht"),
    ('[profile]\nname = "x"\n[[rule]]\nid = "a"\ncategory = "other"\n[[rule]]\nid = "a"\ncategory = "other"\n',
     "used twice"),
    ('[profile]\nname = "x"\n[[rule]]\nid = "a"\ncategory = "other"\nmin_size = "lots"\n', "min_size"),
    ('[profile]\nname = "x"\n[[rule]]\nid = "a"\ncategory = "other"\npath = []\n', "non-empty list"),
    ('[profile]\nname = "x"\nextends = "no-such-profile"\n', "no profile named"),
])
def test_a_malformed_profile_is_a_one_line_error(tmp_path: Path, text: str, reason: str) -> None:
    with pytest.raises(ProfileError) as err:
        load_profile(str(_write(tmp_path, text)))
    assert reason in str(err.value) and "\n" not in str(err.value)


def test_a_profile_extending_itself_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "")
    path.write_text(f'[profile]\nname = "x"\nextends = "{path}"\n', encoding="utf-8")
    with pytest.raises(ProfileError, match="loops"):
        load_profile(str(path))


def test_an_unknown_profile_name_lists_the_choices() -> None:
    with pytest.raises(ProfileError, match="choices: esxi, hyperv, xen"):
        load_profile("vmware")


def test_a_missing_profile_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="not found"):
        load_profile(str(tmp_path / "missing.toml"))


def test_the_esxi_profile_is_picked_for_an_esxi_like_image() -> None:
    assert guess_profile(esxi_like()).name == "esxi"


def test_the_xen_profile_is_picked_for_a_xen_package() -> None:
    inv = Inventory(source="x.deb", entries=(
        container("x.deb", 100, "deb", control={"package": "xen-hypervisor-4.17-amd64"}),
        leaf("x.deb!/data.tar.xz!/data.tar!/./boot/xen-4.17-amd64.gz", 50),
    ))
    assert guess_profile(inv).name == "xen"


def test_no_profile_is_guessed_for_an_unrecognised_image() -> None:
    inv = Inventory(source="x.tar", entries=(container("x.tar", 10, "tar"), leaf("x.tar!/a", 1)))
    with pytest.raises(ProfileError, match="choose one with --profile"):
        guess_profile(inv)


def test_no_profile_is_guessed_when_several_fit() -> None:
    inv = Inventory(source="x.iso", entries=(
        container("x.iso", 100, "iso9660"), leaf("x.iso!/S.V00", 10), leaf("x.iso!/sources/install.wim", 10),
    ))
    with pytest.raises(ProfileError, match="several profiles fit"):
        guess_profile(inv)
