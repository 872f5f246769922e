#!/usr/bin/env python3
"""Counts the public items of the psa-host library, by kind.

Reads rustdoc's JSON output and walks it from the crate root the way a user
of the crate can: public modules, the items in them, and what public `use`
re-exports name (a glob re-export brings in the items of its module; a
re-export of an item from a private module counts both the re-export and
the item). Counted kinds: modules, structs, enums, variants, fields (public
struct fields), variant fields (of struct- and tuple-like variants), traits, free
functions, methods (public associated functions of inherent impls), type
aliases, constants, statics, macros and re-exports.

    PSA_HOST_SKIP_GUEST_BUILD=1 CARGO_TARGET_DIR=/tmp/rustdoc-target \
      cargo +nightly rustdoc -p psa-host --lib -- -Zunstable-options --output-format json
    python3 scripts/public-items.py /tmp/rustdoc-target/doc/psa_host.json

`total` is the sum of the kinds the issue counted before (modules, structs,
enums, fields, traits, fns, type aliases, consts, re-exports); variants and
methods are shown beside it.
"""
import collections
import json
import sys

BASE_KINDS = ["module", "struct", "enum", "field", "trait", "fn", "type_alias", "constant", "use"]
EXTRA_KINDS = ["variant", "variant_field", "method", "static", "macro"]


def main(path):
    doc = json.load(open(path))
    index = doc["index"]
    seen = set()
    count = collections.Counter()
    names = collections.defaultdict(list)

    def item(i):
        return index.get(str(i))

    def walk(i, *, as_glob=False):
        it = item(i)
        if it is None or (i, as_glob) in seen:
            return
        seen.add((i, as_glob))
        kind, inner = next(iter(it["inner"].items()))
        if kind == "module":
            if not as_glob:
                count["module"] += 1
                names["module"].append(it.get("name"))
            for c in inner["items"]:
                ci = item(c)
                if ci is not None and ci["visibility"] == "public":
                    walk(c)
        elif kind == "use":
            count["use"] += 1
            names["use"].append(inner["name"])
            if inner["id"] is not None:
                walk(inner["id"], as_glob=inner["is_glob"])
        elif kind in ("struct", "enum", "trait", "type_alias", "constant", "static", "macro", "function"):
            if (i, not as_glob) in seen:
                return
            count["fn" if kind == "function" else kind] += 1
            names["fn" if kind == "function" else kind].append(it.get("name"))
            if kind == "struct":
                k = inner["kind"]
                if isinstance(k, dict) and "plain" in k:
                    for f in k["plain"]["fields"]:
                        if item(f) and item(f)["visibility"] == "public":
                            count["field"] += 1
                elif isinstance(k, dict) and "tuple" in k:
                    for f in k["tuple"]:
                        if f is not None and item(f) and item(f)["visibility"] == "public":
                            count["field"] += 1
            if kind == "enum":
                for v in inner["variants"]:
                    count["variant"] += 1
                    vk = item(v)["inner"]["variant"]["kind"]
                    if isinstance(vk, dict) and "struct" in vk:
                        count["variant_field"] += len(vk["struct"]["fields"])
                    elif isinstance(vk, dict) and "tuple" in vk:
                        count["variant_field"] += sum(1 for f in vk["tuple"] if f is not None)
            if kind in ("struct", "enum"):
                for imp in inner["impls"]:
                    ii = item(imp)
                    if ii is None:
                        continue
                    im = ii["inner"]["impl"]
                    if im["trait"] is None and not im.get("is_synthetic") and im.get("blanket_impl") is None:
                        for m in im["items"]:
                            mi = item(m)
                            if mi and mi["visibility"] == "public" and "function" in mi["inner"]:
                                count["method"] += 1
        else:
            count[kind] += 1

    walk(doc["root"])
    total = sum(count[k] for k in BASE_KINDS)
    print(f"total {total} (" + ", ".join(f"{count[k]} {k}" for k in BASE_KINDS) + ")")
    print("also: " + ", ".join(f"{count[k]} {k}" for k in EXTRA_KINDS))
    if "-v" in sys.argv:
        for k in ("module", "use", "struct", "enum", "trait", "fn", "type_alias", "constant"):
            print(f"{k}: {' '.join(sorted(map(str, names[k])))}")


if __name__ == "__main__":
    paths = [a for a in sys.argv[1:] if a != "-v"]
    main(paths[0] if paths else "/tmp/rustdoc-target/doc/psa_host.json")
