"""Print the slowest tests of one or more JUnit XML reports (the phases of scripts/test.sh)."""

import sys
import xml.etree.ElementTree as ElementTree


def main(paths: list[str], top: int = 15) -> None:
    cases = []
    for path in paths:
        for case in ElementTree.parse(path).getroot().iter("testcase"):
            name = f"{case.get('classname', '')}::{case.get('name', '')}"
            cases.append((float(case.get("time", 0)), name))
    cases.sort(reverse=True)
    print(f"\n== slowest {top} of {len(cases)} tests ==")
    for seconds, name in cases[:top]:
        print(f"{seconds:8.2f} s  {name}")


if __name__ == "__main__":
    main(sys.argv[1:])
