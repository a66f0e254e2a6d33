"""Components: which part of a release an entry belongs to, for the per-component churn of a diff.

The component of an entry is its innermost labelled container, else its innermost container
(compression wrappers folded into their parent), else its top-level directory (or the two top levels when
everything sits in one directory, as in most source tarballs); always named in the new release's
namespace, so a version-renamed package is one component.
"""

from __future__ import annotations

from collections.abc import Callable

from inspector.diff.trie import Node, PathTrie, child_key, split_key
from inspector.model import NEST

#: The component of entries directly in the image (or in its only payload) outside any directory.
TOP_LEVEL = "/"


class Components:
    """Component resolver over two paired tries (see the module docstring); answers are memoised per
    container and per parent directory, so asking once per entry is cheap."""

    def __init__(self, old: PathTrie, new: PathTrie, translated: Callable[[Node], str]) -> None:
        self.old, self.new = old, new
        #: An old node's path in the new release's namespace (through its paired ancestors).
        self.translated = translated
        self.memo: dict[int, str] = {}
        self.by_parent: dict[tuple[Node, int], str] = {}
        self.below_directory: dict[Node, str] = {}
        self.below_container: dict[Node, str] = {}

    def of(self, node: Node) -> str:
        """The component of ``node`` (not the root; an old node only when it is unpaired).

        It depends only on the node's container and on its path without the last segment (``_of`` reads
        the first two segments below the container and whether there are more than one), that is on its
        parent and on how the path continues from the parent's (the separator, or nothing for some
        top-level members): computed once per directory rather than once per entry.
        """
        assert node.parent is not None
        key = (node.parent, len(node.path) - len(node.name))
        comp = self.by_parent.get(key)
        if comp is None:
            comp = self.by_parent[key] = self._of(node)
        return comp

    def of_leaf(self, parent: Node, key: str, path: str) -> str:
        """The component of a new entry at ``key`` below ``parent`` (logical path ``path``) that is not a
        node (see ``of``).
        Below anything but the root, its parent and separator determine it: the answer is kept in
        ``below_container``/``below_directory`` for the caller to look up first."""
        nest = key.startswith(NEST)
        if parent.parent is None:  # in the image itself: as ``of`` (memo key without building a node)
            memo_key = (parent, len(path) - self.new.cut - (len(key) - 2 if nest else len(key)))
            comp = self.by_parent.get(memo_key)
            if comp is None:
                comp = self.by_parent[memo_key] = self._of(self._stand_in(parent, key, path))
            return comp
        memo = self.below_container if nest else self.below_directory
        comp = memo[parent] = self._of(self._stand_in(parent, key, path))
        return comp

    def _stand_in(self, parent: Node, key: str, path: str) -> Node:
        """A node for a new entry that has none, only to ask ``_of`` (not in the trie)."""
        return Node(*split_key(key), parent, path[self.new.cut:], False, -1)

    def _of(self, node: Node) -> str:
        cont = node.cont
        comp = self.container(cont) if cont.parent is not None else ""
        if comp:
            return comp
        # directly in the image (or in its only payload): the top-level directory, or the two top levels
        # when everything sits in one directory (``app-1.1/bin``), as in most source tarballs
        path = self.translated(node) if node.old_side else node.path
        inner = path.rsplit(NEST, 1)[-1] if cont.parent is not None else path
        parts = inner.split("/")
        if len(parts) == 1:
            return TOP_LEVEL
        key = child_key("/" if cont.parent is None else NEST, parts[0])
        holder = cont.partner if node.old_side else cont
        has_top = holder is not None and holder.has_child(key)
        if has_top and len(parts) > 2 and cont.member_count == 1:
            return f"{parts[0]}/{parts[1]}"
        return parts[0]

    def container(self, cont: Node) -> str:
        """The component named by container ``cont`` ("" for the image's one payload)."""
        key = id(cont)
        if key not in self.memo:
            self.memo[key] = self._container(cont)
        return self.memo[key]

    def _container(self, cont: Node) -> str:
        if cont.old_side and cont.partner is not None:
            return self.container(cont.partner)
        side = self.old if cont.old_side else self.new
        x: Node | None = cont
        while x is not None and x.parent is not None:
            label = x.entry.meta.get("label") if x.entry is not None else None
            if label:
                return str(label)
            x = x.cont
        a = cont
        while True:
            parent = a.cont
            if parent.parent is None or parent.members != 1:
                break
            a = parent
        if a.cont.parent is None and side.root.members == 1:
            return ""  # the image's one payload (a tarball's tar): components are its top directories
        return self.translated(a) if a.old_side else a.path
