"""SBOMs people exchange: purls for recognised packages, in CycloneDX and SPDX 2.3, validated by their libraries."""

from __future__ import annotations

import io
import json

import pytest

from fixtures.products import PRODUCTS, SBOM_PACKAGES
from inspector.model import Entry, EntryKind
from inspector.report.export import to_cyclonedx
from inspector.report.purl import find_packages, make_purl, package_of
from inspector.report.spdx import write_spdx
from inspector.walker import walk


def _flatten(components: list[dict]) -> list[dict]:
    out = []
    for c in components:
        out.append(c)
        out += _flatten(c.get("components", []))
    return out


def _spdx(inv) -> str:
    buf = io.StringIO()
    write_spdx(inv, buf, namespace="https://example.org/spdx/test", timestamp=0)
    return buf.getvalue()


def _validate_spdx(text: str, tmp_path) -> list[str]:
    parse = pytest.importorskip("spdx_tools.spdx.parser.parse_anything")
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    path = tmp_path / "doc.spdx.json"
    path.write_text(text, encoding="utf-8")
    return [m.validation_message for m in validate_full_spdx_document(parse.parse_file(str(path)))]


def test_purls_are_canonical_for_the_reference_implementation():
    packageurl = pytest.importorskip("packageurl")
    for purl in (make_purl("deb", "openssh-client", "1:9.2p1-2+deb12u1", "debian", {"arch": "amd64"}),
                 make_purl("generic", "esx-base", "8.0.3-0.0.24022510", "VMware"),
                 make_purl("rpm", "bash", "5.1.8-9.el9", None, {"arch": "x86_64"})):
        assert packageurl.PackageURL.from_string(purl).to_string() == purl


def test_debian_package_purl_from_its_control_fields(built):
    deb = built("deb-products")[3]
    pkgs = find_packages(walk(deb).entries)
    version = PRODUCTS["openssh-client"][2][0][0]
    assert [p.purl for p in pkgs] == [f"pkg:deb/debian/openssh-client@{version.replace('+', '%2B')}?arch=amd64"]
    assert pkgs[0].supplier == PRODUCTS["openssh-client"][1]


def test_vib_purl_is_generic_with_the_vendor(built):
    inv = walk(built("esxi-vib")[0])
    vibs = [p for p in find_packages(inv.entries) if p.type == "vib"]
    assert vibs
    meta = inv.root.meta["vib"]
    assert vibs[0].purl == make_purl("generic", meta["name"], meta["version"], meta["vendor"])
    assert vibs[0].purl.startswith("pkg:generic/")


@pytest.mark.parametrize("name", sorted(SBOM_PACKAGES))
def test_python_and_npm_packages_get_a_purl_and_look_alikes_none(built, name):
    path = next(p for p in built("sbom-packages") if p.name == name)
    pkgs = find_packages(walk(path).entries)
    assert [p.purl for p in pkgs] == ([SBOM_PACKAGES[name]] if SBOM_PACKAGES[name] else [])


def test_rpm_purl_from_a_file_opened_as_rpm_and_named_by_the_rpm_rule():
    rpm = Entry(path="bash-5.1.8-9.el9.x86_64.rpm", kind=EntryKind.FILE, size=1, depth=0, container="rpm",
                opened=True)
    pkg = package_of(rpm)
    assert pkg is not None and pkg.purl == "pkg:rpm/bash@5.1.8-9.el9?arch=x86_64"
    not_opened_as_rpm = Entry(path="bash-5.1.8-9.el9.x86_64.rpm", kind=EntryKind.FILE, size=1, depth=0)
    assert package_of(not_opened_as_rpm) is None


def test_cyclonedx_components_carry_the_purl_and_stay_schema_valid(built):
    validation = pytest.importorskip("cyclonedx.validation.json")
    from cyclonedx.schema import SchemaVersion

    inv = walk(next(p for p in built("sbom-packages") if p.name == "left-pad-1.3.0.tgz"))
    bom = to_cyclonedx(inv, serial="urn:uuid:00000000-0000-4000-8000-000000000000", timestamp=0)
    assert bom["metadata"]["component"]["purl"] == "pkg:npm/left-pad@1.3.0"
    assert bom["metadata"]["component"]["version"] == "1.3.0"
    assert validation.JsonStrictValidator(SchemaVersion.V1_5).validate_str(json.dumps(bom)) is None


def test_cyclonedx_of_a_debian_package_has_its_purl(built):
    bom = to_cyclonedx(walk(built("deb-products")[0]), timestamp=0)
    assert bom["metadata"]["component"]["purl"].startswith("pkg:deb/debian/libreoffice-core-nogui@4:7.4.7-1")


@pytest.mark.parametrize("fixture", ["deb-products", "sbom-packages", "esxi-vib", "linux-iso"])
def test_spdx_document_validates_with_spdx_tools(built, fixture, tmp_path):
    for path in built(fixture)[:2]:
        assert _validate_spdx(_spdx(walk(path)), tmp_path) == []


def test_spdx_lists_every_non_directory_entry_with_its_sha256_and_containment(built):
    inv = walk(built("deb-products")[0])
    doc = json.loads(_spdx(inv))
    elements = [e for e in inv.entries if e.kind is not EntryKind.DIR]
    assert [p["packageFileName"] for p in doc["packages"]] == [e.path for e in elements]
    assert all(p["checksums"] == [{"algorithm": "SHA256", "checksumValue": e.sha256}]
               for p, e in zip(doc["packages"], elements, strict=True) if e.sha256)
    rels = doc["relationships"]
    assert rels[0] == {"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES",
                       "relatedSpdxElement": doc["packages"][0]["SPDXID"]}
    assert len([r for r in rels if r["relationshipType"] == "CONTAINS"]) == len(elements) - 1


def test_spdx_package_of_a_debian_package_has_purl_version_and_supplier(built):
    doc = json.loads(_spdx(walk(built("deb-products")[0])))
    root = doc["packages"][0]
    assert root["primaryPackagePurpose"] == "INSTALL"
    assert root["versionInfo"] == PRODUCTS["libreoffice-core-nogui"][2][0][0]
    assert root["externalRefs"][0]["referenceType"] == "purl"
    assert root["supplier"] == ("Organization: Debian LibreOffice Maintainers "
                                "(debian-openoffice@lists.debian.org)")
