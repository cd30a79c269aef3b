#!/usr/bin/env python3
"""Reads a `hearth export messages` (or `whatsapp`) folder with an HTML parser nobody on this
project wrote, and says what it finds.

    verify_export_messages.py EXPORT_FOLDER

Every `*.html` page of EXPORT_FOLDER is parsed by html5lib in strict mode (a parse error of
the HTML5 algorithm is a problem: the pages must be valid HTML5). On each conversation page
every `<article>` whose class has `message` is one message; its sender is the text of its
`.sender` span and its text the text of its `p.text`. Every `src` and relative `href` must name
a file inside EXPORT_FOLDER that exists. `index.html` must link every conversation page once.
Every `json/*.json` file must parse with Python's json module and hold as many messages as its
page.

Prints one line of JSON:
  {"pages": {"<page file name>": {"title", "messages": N, "events": N,
                                  "senders": {sender: N}, "texts": [...],
                                  "images": N, "videos": N, "links": N, "reactions": N}},
   "index_links": N, "problems": [...]}
and exits 1 when there are problems, 2 on bad arguments.
"""

import json
import os
import sys
import urllib.parse

import html5lib


def text_of(el):
    return "".join(el.itertext())


def classes(el):
    return (el.get("class") or "").split()


def parse(path, problems):
    parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
    with open(path, "rb") as f:
        try:
            return parser.parse(f)
        except html5lib.html5parser.ParseError as e:
            problems.append(f"{os.path.basename(path)}: not valid HTML5: {e}")
            return None


def check_links(root, page, folder, problems):
    for el in root.iter():
        for attr in ("src", "href"):
            v = el.get(attr)
            if not v or v.startswith("#") or "://" in v:
                continue
            target = os.path.normpath(os.path.join(folder, urllib.parse.unquote(v)))
            if not target.startswith(os.path.abspath(folder)):
                problems.append(f"{page}: {attr} {v!r} leaves the export folder")
            elif not os.path.isfile(target):
                problems.append(f"{page}: {attr} {v!r} names no file")


def page_facts(root):
    facts = {"title": "", "messages": 0, "events": 0, "senders": {}, "texts": [],
             "images": 0, "videos": 0, "links": 0, "reactions": 0}
    title = root.find(".//title")
    facts["title"] = text_of(title) if title is not None else ""
    for art in root.iter("article"):
        if "message" not in classes(art):
            continue
        facts["messages"] += 1
        if "event" in classes(art):
            facts["events"] += 1
        for span in art.iter("span"):
            if "sender" in classes(span):
                s = text_of(span)
                facts["senders"][s] = facts["senders"].get(s, 0) + 1
        for p in art.iter("p"):
            if "text" in classes(p):
                facts["texts"].append(text_of(p))
        facts["images"] += sum(1 for _ in art.iter("img"))
        facts["videos"] += sum(1 for _ in art.iter("video"))
        facts["links"] += sum(1 for a in art.iter("a") if not (a.get("href") or "#").startswith("#"))
        facts["reactions"] += sum(1 for li in art.iter("li") if "reaction" in classes(li))
    return facts


def main():
    if len(sys.argv) != 2 or not os.path.isdir(sys.argv[1]):
        print(__doc__, file=sys.stderr)
        return 2
    folder = os.path.abspath(sys.argv[1])
    problems, pages = [], {}
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".html") or name == "index.html":
            continue
        root = parse(os.path.join(folder, name), problems)
        if root is None:
            continue
        check_links(root, name, folder, problems)
        pages[name] = page_facts(root)
        stem = name[: -len(".html")]
        jpath = os.path.join(folder, "json", stem + ".json")
        try:
            with open(jpath, encoding="utf-8") as f:
                doc = json.load(f)
            if len(doc["messages"]) != pages[name]["messages"]:
                problems.append(f"{stem}.json holds {len(doc['messages'])} messages, its page {pages[name]['messages']}")
        except (OSError, ValueError, KeyError) as e:
            problems.append(f"{jpath}: {e}")
        if not os.path.isfile(os.path.join(folder, "text", stem + ".txt")):
            problems.append(f"text/{stem}.txt is missing")
    index_links = 0
    index = os.path.join(folder, "index.html")
    if os.path.isfile(index):
        root = parse(index, problems)
        if root is not None:
            check_links(root, "index.html", folder, problems)
            linked = [urllib.parse.unquote(a.get("href")) for a in root.iter("a") if a.get("href")]
            index_links = len(linked)
            if sorted(linked) != sorted(pages):
                problems.append(f"index.html links {sorted(linked)}, the pages are {sorted(pages)}")
    else:
        problems.append("no index.html")
    print(json.dumps({"pages": pages, "index_links": index_links, "problems": problems}))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
